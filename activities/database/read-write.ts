/**
 * database.read_write: the undo of database.read_only. Restores exactly the recorded grants
 * and read-only default (a diff against the catalog, so a retry applies nothing twice), ends
 * the sessions opened while read-only, proves the app role can write again, and removes
 * Firebreak's bookkeeping once no incident holds read-only on the database.
 */
import pg from 'pg';
import type { ActionInput, ActionResult } from '../../workflows/definitions.js';
import type { ActivityDeps } from '../deps.js';
import { badInput, onTarget, refused, verificationFailed } from '../support/failures.js';
import { postgresOf } from '../support/pg.js';
import { withAdmin } from './admin.js';
import { assertAdminCan, endSessions, readGrants, readSettings, validate } from './catalog.js';
import { asAppRole, tryWrite } from './proofs.js';
import { grantCount, grantKeys, isOn, parseRecord } from './record.js';
import { COLUMN_PRIVILEGES, display, ident, inTransaction, listSome, LOCK_KEY, qualified } from './sql.js';
import { markLifted, recordStanding, removeBookkeepingIfUnused } from './undo-schema.js';

/** Restore exactly the grants and the read-only default recorded by database.read_only, and prove the app can write. */
export async function databaseReadWrite(deps: ActivityDeps, input: ActionInput): Promise<ActionResult> {
  const pgc = postgresOf(deps.clients, input);
  if (input.args.restore === undefined || input.args.restore === null) {
    throw badInput('no recorded state: database.read_write runs as the undo of database.read_only');
  }
  const record = parseRecord(input.args.restore, 'restore');
  if (record.role !== pgc.appRole || record.database !== pgc.database) {
    throw badInput(`the record is for role "${record.role}" on "${record.database}", but target "${input.target}" is "${pgc.appRole}" on "${pgc.database}"`);
  }
  const foreign = record.schemas.filter((s) => !pgc.schemas.includes(s));
  if (foreign.length) throw badInput(`the record covers schema ${foreign.map((s) => `"${s}"`).join(', ')}, which target "${input.target}" does not configure`);
  const who = `"${pgc.appRole}"`;

  return onTarget('postgres', () =>
    withAdmin(deps.clients, input.target, pgc, async (c) => {
      const role = await validate(c, pgc, record.schemas, { requireSchemas: false });
      await assertAdminCan(c, record.schemas);
      const recorded = new Set(record.tables.map((t) => display(t.schema, t.table)));

      /** Statements that make the role's grants and setting equal to the record, given the current state. */
      const diff = async () => {
        const current = new Map((await readGrants(c, role.oid, record.schemas)).map((t) => [display(t.schema, t.table), t]));
        const statements: string[] = [];
        const missing: string[] = [];
        for (const want of record.tables) {
          const name = display(want.schema, want.table);
          const have = current.get(name);
          if (!have) {
            missing.push(name);
            continue;
          }
          const wantKeys = grantKeys([want]);
          const haveKeys = grantKeys([have]);
          const extra = [...haveKeys].some((k) => !wantKeys.has(k));
          const lacking = [...wantKeys].some((k) => !haveKeys.has(k));
          if (!extra && !lacking) continue;
          const q = qualified(want.schema, want.table);
          const grantee = ident(pgc.appRole);
          // A table-level REVOKE also clears column grants; then grant exactly the record.
          if (extra) statements.push(`REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON TABLE ${q} FROM ${grantee}`);
          const keep = extra ? new Set<string>() : haveKeys;
          // Records hold plain privileges only (record.ts): nothing here is granted WITH GRANT OPTION.
          const privs = want.privileges.filter((p) => !keep.has(`${name} ${p.privilege}`)).map((p) => p.privilege);
          if (privs.length) statements.push(`GRANT ${privs.join(', ')} ON TABLE ${q} TO ${grantee}`);
          for (const priv of COLUMN_PRIVILEGES) {
            const cols = want.columns.filter((col) => col.privilege === priv && !keep.has(`${name} ${priv} (${col.column})`)).map((col) => ident(col.column));
            if (cols.length) statements.push(`GRANT ${priv} (${cols.join(', ')}) ON TABLE ${q} TO ${grantee}`);
          }
        }
        const settings = await readSettings(c, role.oid);
        const want = record.settings.roleInDatabase;
        if (want === null && settings.roleInDatabase !== null) {
          statements.push(`ALTER ROLE ${ident(pgc.appRole)} IN DATABASE ${ident(pgc.database)} RESET default_transaction_read_only`);
        } else if (want !== null && settings.roleInDatabase !== want) {
          statements.push(`ALTER ROLE ${ident(pgc.appRole)} IN DATABASE ${ident(pgc.database)} SET default_transaction_read_only = ${pg.escapeLiteral(want)}`);
        }
        return { statements, missing, notRecorded: [...current.keys()].filter((k) => !recorded.has(k)) };
      };

      /**
       * Only a record database.read_only stored for this incident restores anything; one already
       * lifted, or with no record table left, may only find nothing to do (a retried lift).
       * Judged before any statement runs, so a forged record changes nothing.
       */
      const plannedFor = async () => {
        const standing = await recordStanding(c, input.incidentId, record);
        if (standing === 'unknown') {
          throw refused(`${who}: the restore record is not one database.read_only stored for incident ${input.incidentId} on "${pgc.database}"; nothing was changed`);
        }
        const plan = await diff();
        if (standing !== 'held' && plan.statements.length) {
          const why = standing === 'lifted' ? 'that containment was already lifted' : 'no incident holds read-only there (Firebreak\'s record table is gone)';
          throw refused(`${who}: ${why}, so restoring the record again would change ${plan.statements.length} privilege statement(s) behind later containment; nothing was changed`);
        }
        return plan;
      };

      if (input.mode === 'dry-run') {
        const plan = await plannedFor();
        return {
          summary: plan.statements.length ? `would restore the recorded privileges and settings of ${who}` : `${who} already has exactly the recorded privileges`,
          changed: false,
          plan: plan.statements.length ? plan.statements : ['nothing to change'],
        };
      }

      const applied = await inTransaction(c, async () => {
        await c.query('SELECT pg_advisory_xact_lock($1, $2)', [...LOCK_KEY]);
        const plan = await plannedFor();
        for (const sql of plan.statements) await c.query(sql);
        return plan;
      });

      // Sessions opened under containment keep the read-only default until they reconnect: end them once.
      // No bookkeeping table means an earlier attempt of this lift completed and removed it
      // (it is only removed once every record is lifted), so those sessions are already gone.
      let sessionsEnded = 0;
      const lifted = await markLifted(c, record);
      if (lifted !== 'absent' && !isOn(record.settings.roleInDatabase)) {
        sessionsEnded = await endSessions(c, role, { before: lifted.liftedAt ?? new Date(), after: record.recordedAt });
      }

      // Verify: the role's grants on the recorded tables equal the record, and the setting is back.
      const now = await readGrants(c, role.oid, record.schemas);
      const still = new Set(now.map((t) => display(t.schema, t.table)));
      const wanted = grantKeys(record.tables.filter((t) => still.has(display(t.schema, t.table))));
      const got = grantKeys(now.filter((t) => recorded.has(display(t.schema, t.table))));
      const lacking = [...wanted].filter((k) => !got.has(k));
      const extra = [...got].filter((k) => !wanted.has(k));
      if (lacking.length || extra.length) {
        throw verificationFailed(
          `${who}'s privileges differ from the record: ${lacking.length ? `missing ${listSome(lacking)}` : ''}${lacking.length && extra.length ? '; ' : ''}${extra.length ? `not recorded ${listSome(extra)}` : ''}`,
        );
      }
      const settings = await readSettings(c, role.oid);
      if (settings.roleInDatabase !== record.settings.roleInDatabase) {
        throw verificationFailed(`default_transaction_read_only for ${who} in "${pgc.database}" is ${settings.roleInDatabase ?? 'unset'}, recorded ${record.settings.roleInDatabase ?? 'unset'}`);
      }

      const probe = record.tables.find(
        (t) => (t.kind === 'r' || t.kind === 'p') && still.has(display(t.schema, t.table)) && t.privileges.some((p) => p.privilege === 'INSERT' || p.privilege === 'DELETE'),
      );
      const wasReadOnly = isOn(record.settings.roleInDatabase) || isOn(record.settings.role) || isOn(record.settings.database);
      const proved = await asAppRole(pgc, 'after acting', async (app, readOnlyDefault) => {
        if (!probe) return { readOnlyDefault, wrote: null };
        const target = display(probe.schema, probe.table);
        const insert = probe.privileges.some((p) => p.privilege === 'INSERT');
        const sql = insert ? `INSERT INTO ${qualified(probe.schema, probe.table)} SELECT WHERE false` : `DELETE FROM ${qualified(probe.schema, probe.table)} WHERE false`;
        const res = await tryWrite(app, sql, wasReadOnly);
        if (res.code !== null) throw verificationFailed(`a write as ${who} on ${target} still fails with ${res.code} (${res.message ?? ''})`);
        return { readOnlyDefault, wrote: `${insert ? 'INSERT' : 'DELETE'} on ${target} (rolled back)` };
      });

      const bookkeeping = await removeBookkeepingIfUnused(c);
      const changed = applied.statements.length > 0 || sessionsEnded > 0;
      deps.logger.info(
        { incidentId: input.incidentId, step: input.stepId, role: pgc.appRole, database: pgc.database, statements: applied.statements.length, sessionsEnded },
        'database read-write restored',
      );
      const gone = applied.missing.length ? `; ${applied.missing.length} recorded table(s) no longer exist (${listSome(applied.missing)})` : '';
      return {
        summary:
          (applied.statements.length
            ? `restored ${grantCount(record.tables)} recorded write privilege(s) of ${who} on "${pgc.database}" and ${record.settings.roleInDatabase === null ? 'reset its default_transaction_read_only' : `its default_transaction_read_only = ${record.settings.roleInDatabase}`}`
            : `${who} already had exactly the recorded privileges on "${pgc.database}"`) +
          (sessionsEnded ? `; ended ${sessionsEnded} session(s) opened while read-only` : '') +
          (proved.wrote ? `; a write as ${who} succeeds (${proved.wrote})` : '') +
          gone +
          (bookkeeping === 'removed' ? '; no incident holds read-only here any more: removed schema firebreak' : bookkeeping === 'kept' ? '; schema firebreak kept: another incident still holds read-only here' : ''),
        changed,
        proof: {
          privileges: grantCount(record.tables),
          matchesRecord: true,
          wrote: proved.wrote,
          readOnlyDefault: proved.readOnlyDefault,
          sessionsEnded,
          bookkeeping,
          ...(applied.missing.length ? { missingTables: applied.missing } : {}),
          ...(applied.notRecorded.length ? { tablesNotInRecord: applied.notRecorded.length } : {}),
        },
      };
    }),
  );
}
