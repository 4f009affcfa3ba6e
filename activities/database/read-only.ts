/**
 * database.read_only: revoke the app role's write privileges, set the read-only default for
 * its new sessions, end its open sessions, then prove it by writing as the app role and
 * being refused with 42501. Several incidents may hold it (holds.ts): each hold is recorded
 * in the transaction of the REVOKE, and the prior grants and setting only by the first, so a
 * retried or later step never records the effect as the state to restore.
 */
import type { ActionInput, ActionResult } from '../../workflows/definitions.js';
import type { ActivityDeps } from '../deps.js';
import { onTarget, verificationFailed, verificationFailedFinal } from '../support/failures.js';
import { postgresOf } from '../support/pg.js';
import { SQLSTATE } from '../support/sqlstate.js';
import { withAdmin } from './admin.js';
import { assertAdminCan, endSessions, readGrants, readSettings, validate, waitGone } from './catalog.js';
import { alsoHeldBy, otherHolders } from '../../lib/holds.js';
import { appLogins } from './app-login.js';
import { currentHolders, heldSince, takeHold } from './holds.js';
import { asAppRole, loginNotes, probeTable, tryAsAppRole, tryWrite } from './proofs.js';
import { grantCount, isOn } from './record.js';
import { compare, display, ident, listSome, qualified } from './sql.js';
import { markApplied } from './undo-schema.js';
import { writePaths } from './write-paths.js';
import { later } from '../support/later.js';

/** Revoke the app role's writes, default its sessions to read-only, end its open sessions, prove a write is refused. */
export async function databaseReadOnly(deps: ActivityDeps, input: ActionInput): Promise<ActionResult> {
  const pgc = postgresOf(deps.clients, input);
  const schemas = [...new Set(pgc.schemas)].sort(compare);
  return onTarget('postgres', () =>
    withAdmin(deps.clients, input.target, pgc, async (c) => {
      // Prove up front that the app role can log in, so the proof cannot fail for that after acting.
      // Its own session: it runs while the admin checks the catalog, and its failure counts only
      // once those checks passed (theirs say more).
      const preflight = later(
        appLogins(deps, input.target, pgc, c).then(async (logins) => ({ logins, pid: await asAppRole(pgc, 'before acting', async (_app, _ro, pid) => pid, logins) })),
      );
      const role = await validate(c, pgc, schemas);
      await assertAdminCan(c, schemas);
      const before = await writePaths(c, role, schemas, 'before');
      const who = `"${pgc.appRole}"`;
      if (before.problems.length) {
        throw verificationFailedFinal(
          `cannot make "${pgc.database}" read-only for ${who}: ${before.problems.join('; ')}. Nothing was changed: give the app role plain grants (no ownership, no writing roles) and retry.`,
        );
      }
      const { logins, pid: preflightPid } = await preflight.value();
      await waitGone(c, preflightPid);

      if (input.mode === 'dry-run') {
        const grants = await readGrants(c, role.oid, schemas);
        const settings = await readSettings(c, role.oid);
        const sessions = await c.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM pg_stat_activity WHERE usesysid = $1::oid AND datname = current_database() AND pid <> pg_backend_pid()',
          [role.oid],
        );
        const probe = probeTable(grants);
        const n = grantCount(grants);
        return {
          summary:
            (n || !isOn(settings.roleInDatabase) ? `would make "${pgc.database}" read-only for ${who}` : `"${pgc.database}" is already read-only for ${who}`) +
            alsoHeldBy(otherHolders(await currentHolders(c, pgc.appRole), input.incidentId)),
          changed: false,
          plan: [
            ...schemas.map((s) => `REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA ${ident(s)} FROM ${ident(pgc.appRole)}`),
            `(${n} write privilege(s) held now on ${grants.filter((t) => t.privileges.length || t.columns.length).length} of ${grants.length} table(s); recorded for the undo)`,
            `ALTER ROLE ${ident(pgc.appRole)} IN DATABASE ${ident(pgc.database)} SET default_transaction_read_only = on (now: ${settings.roleInDatabase ?? 'unset'})`,
            `end ${sessions.rows[0]?.n ?? 0} open session(s) of ${who} on "${pgc.database}"`,
            probe ? `prove: DELETE FROM ${display(probe.schema, probe.table)} WHERE false as ${who} fails with 42501` : 'prove: no table to write to',
            ...before.notes.map((n) => `note: ${n}`),
          ],
        };
      }

      // One transaction: this incident's hold, the prior state (first holder) and the REVOKE (holds.ts).
      const acted = await takeHold(c, role, pgc, schemas, input);

      // Sessions that started before read-only was in force end; later ones are already constrained.
      const appliedAt = await markApplied(c, input);
      const since = acted.first || acted.settingChanged ? appliedAt : ((await heldSince(c, pgc.appRole)) ?? appliedAt);

      // The proof's session starts after `since`, so ending the older sessions cannot end it: it
      // runs while the admin ends them and reads the catalog back.
      const probe = probeTable(acted.record.tables);
      const proving = () => tryAsAppRole(pgc, logins.candidates, async (app, readOnlyDefault) => {
        if (!isOn(readOnlyDefault)) throw verificationFailed(`a new session of ${who} has default_transaction_read_only = ${readOnlyDefault}, expected on`);
        if (!probe) return { readOnlyDefault, deniedWrite: null };
        const target = display(probe.schema, probe.table);
        const res = await tryWrite(app, `DELETE FROM ${qualified(probe.schema, probe.table)} WHERE false`, true);
        if (res.code === null) throw verificationFailed(`a write as ${who} still succeeds (DELETE FROM ${target} WHERE false, rolled back)`);
        if (res.code === SQLSTATE.readOnlySqlTransaction) throw verificationFailed(`a write as ${who} on ${target} was refused only by read-only mode (25006), not by privileges`);
        if (res.code !== SQLSTATE.insufficientPrivilege) throw verificationFailed(`a write as ${who} on ${target} failed with ${res.code} (${res.message ?? ''}), expected 42501 insufficient_privilege`);
        return { readOnlyDefault, deniedWrite: `42501 on ${target}` };
      });
      const inFlight = since ? later(proving()) : undefined;
      const sessionsTerminated = await endSessions(c, role, { before: since ?? new Date(), exclude: preflightPid });

      const after = await writePaths(c, role, schemas, 'after');
      if (after.problems.length) throw verificationFailed(`"${pgc.database}" is not read-only for ${who}: ${after.problems.join('; ')}`);
      const proof = inFlight ? await inFlight.value() : await proving();
      if (!proof.ok) {
        // The catalog says what is in force; only the login could not confirm it.
        throw verificationFailed(
          `"${pgc.database}" is read-only for ${who} (catalog read-back: no write privilege left in ${schemas.join(', ')}; held by ${[input.incidentId, ...acted.others].join(', ')}), ` +
            `but the app-role login proof failed: ${proof.reason}${loginNotes(logins)}; check postgres.appUrl / appPassword for the target`,
        );
      }
      const proved = proof.value;

      const changed = acted.revoked > 0 || acted.settingChanged || sessionsTerminated > 0;
      const dropped = acted.grantOptionsDropped.length ? [`the grant option on ${listSome(acted.grantOptionsDropped)} is not recorded: the undo restores those privileges without it`] : [];
      const allNotes = [...after.notes, ...dropped];
      const notes = allNotes.length ? ` Note: ${allNotes.join('; ')}.` : '';
      deps.logger.info(
        { incidentId: input.incidentId, step: input.stepId, role: pgc.appRole, database: pgc.database, revoked: acted.revoked, sessionsTerminated, changed, alsoHeldBy: acted.others },
        'database read-only',
      );
      return {
        summary:
          (changed
            ? `"${pgc.database}" read-only for ${who}: revoked ${acted.revoked} write privilege(s) on ${acted.tables} table(s) in ${schemas.join(', ')}, default_transaction_read_only = on, ended ${sessionsTerminated} session(s)`
            : `"${pgc.database}" was already read-only for ${who}`) +
          (proved.deniedWrite ? `; a write as ${who} is refused (${proved.deniedWrite})` : '; no table to prove it on') +
          `.${notes}` +
          alsoHeldBy(acted.others),
        changed,
        proof: {
          deniedWrite: proved.deniedWrite,
          sessionsTerminated,
          tables: acted.tables,
          revoked: acted.revoked,
          readOnlyDefault: proved.readOnlyDefault,
          ...(allNotes.length ? { notes: allNotes } : {}),
        },
        output: { role: pgc.appRole, database: pgc.database, schemas, tables: acted.tables, revoked: acted.revoked, sessionsTerminated, alsoHeldBy: acted.others },
        undo: { action: 'database.read_write', args: { restore: acted.record } },
      };
    }),
  );
}
