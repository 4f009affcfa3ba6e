/**
 * database.read_write: the undo of database.read_only, a release of this incident's hold
 * (holds.ts). While another incident still holds read-only the grants stay revoked and the
 * result says who holds it; the last holder restores exactly the state recorded before the
 * first one took it (a diff against the catalog, so a retry applies nothing twice), ends the
 * sessions opened while read-only, proves the app role can write again, and removes
 * Firebreak's bookkeeping.
 */
import type pg from 'pg';
import type { ActionInput, ActionResult } from '../../workflows/definitions.js';
import { stillHeldLine, type ReleaseOutcome } from '../../lib/holds.js';
import type { ActivityDeps } from '../deps.js';
import { badInput, onTarget, verificationFailed } from '../support/failures.js';
import { postgresOf } from '../support/pg.js';
import { withAdmin } from './admin.js';
import { appLogins } from './app-login.js';
import { assertAdminCan, endSessions, readGrants, validate, type RoleRow } from './catalog.js';
import { releaseHold, type Release } from './holds.js';
import { loginNotes, tryAsAppRole, tryWrite } from './proofs.js';
import { grantCount, isOn, parseRecord, type ReadOnlyRecord } from './record.js';
import { verifyRestored, writeProbe } from './restore.js';
import { display, listSome, qualified } from './sql.js';
import { removeBookkeepingIfUnused } from './undo-schema.js';

/** Release this incident's read-only; the last holder restores the recorded privileges and settings and proves the app can write. */
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
  const db = `"${pgc.database}"`;

  return onTarget('postgres', () =>
    withAdmin(deps.clients, input.target, pgc, async (c) => {
      const role = await validate(c, pgc, record.schemas, { requireSchemas: false });
      await assertAdminCan(c, record.schemas);

      if (input.mode === 'dry-run') {
        const plan = await releaseHold(c, role, pgc, record, input, { dryRun: true });
        const held = stillHeldLine(plan);
        return {
          summary: held
            ? `would release ${input.incidentId}'s hold on read-only of ${db} for ${who}: ${held}, so its grants stay revoked`
            : plan.plan.statements.length
              ? `would restore the recorded privileges and settings of ${who}`
              : `${who} already has exactly the recorded privileges`,
          changed: false,
          plan: plan.plan.statements.length ? plan.plan.statements : ['nothing to change'],
          output: outcome(plan),
        };
      }

      // One transaction: drop this incident's hold; the last one restores the first holder's record.
      const released = await releaseHold(c, role, pgc, record, input);
      const result = released.lifted ? await afterLift(deps, input, c, role, record, released) : stillHeld(input, released, who, db);
      const bookkeeping = await removeBookkeepingIfUnused(c);
      deps.logger.info(
        {
          incidentId: input.incidentId,
          step: input.stepId,
          role: pgc.appRole,
          database: pgc.database,
          statements: released.plan.statements.length,
          lifted: released.lifted,
          stillHeldBy: released.stillHeldBy,
        },
        released.lifted ? 'database read-write restored' : 'database read-only released, still held',
      );
      return {
        ...result,
        summary:
          result.summary +
          (bookkeeping === 'removed' ? '; no incident holds read-only here any more: removed schema firebreak' : bookkeeping === 'kept' ? '; schema firebreak kept: another incident still holds read-only here' : ''),
        proof: { ...result.proof, bookkeeping },
      };
    }),
  );
}

function outcome(r: Release): ReleaseOutcome & Record<string, unknown> {
  return { lifted: r.lifted, stillHeldBy: r.stillHeldBy };
}

/** Another incident still holds read-only: nothing was lifted. */
function stillHeld(input: ActionInput, r: Release, who: string, db: string): ActionResult {
  const line = stillHeldLine(r) ?? 'still held';
  return {
    summary: r.released
      ? `released ${input.incidentId}'s hold on read-only of ${db} for ${who}: ${line}, so its grants stay revoked`
      : `${input.incidentId}'s hold on read-only of ${db} for ${who} was already released by an earlier attempt: ${line}`,
    changed: false,
    proof: { released: r.released, matchesRecord: null, stillHeldBy: r.stillHeldBy },
    output: outcome(r),
  };
}

/** Nobody holds read-only now: end the sessions opened under it, read the grants back, prove a write as the app role. */
async function afterLift(
  deps: ActivityDeps,
  input: ActionInput,
  c: pg.ClientBase,
  role: RoleRow,
  record: ReadOnlyRecord,
  r: Release,
): Promise<ActionResult> {
  const pgc = postgresOf(deps.clients, input);
  const who = `"${pgc.appRole}"`;
  const db = `"${pgc.database}"`;
  // What was given back: the first holder's record (the prior), else (a retry, its records gone) this step's own.
  const restored = r.restored ?? record;

  // Sessions opened under read-only keep its default until they reconnect: end them once. No records
  // left means an earlier attempt of this lift completed and removed them, so those sessions are gone.
  let sessionsEnded = 0;
  if (!r.absent && !isOn(restored.settings.roleInDatabase)) {
    sessionsEnded = await endSessions(c, role, { before: r.releasedAt ?? new Date(), after: restored.recordedAt });
  }

  // A retry whose records are gone has nothing it may compare with: only a record it knows is read back.
  const verified = !r.absent && r.restored !== undefined;
  if (verified) await verifyRestored(c, role, pgc, restored);

  const existing = new Set((await readGrants(c, role.oid, restored.schemas)).map((t) => display(t.schema, t.table)));
  const probe = writeProbe(restored, existing);
  const wasReadOnly = isOn(restored.settings.roleInDatabase) || isOn(restored.settings.role) || isOn(restored.settings.database);
  const logins = await appLogins(deps, input.target, pgc, c);
  const proof = await tryAsAppRole(pgc, logins.candidates, async (app, readOnlyDefault) => {
    if (!probe) return { readOnlyDefault, wrote: null as string | null };
    const target = display(probe.schema, probe.table);
    const insert = probe.privileges.some((p) => p.privilege === 'INSERT');
    const sql = insert ? `INSERT INTO ${qualified(probe.schema, probe.table)} SELECT WHERE false` : `DELETE FROM ${qualified(probe.schema, probe.table)} WHERE false`;
    const res = await tryWrite(app, sql, wasReadOnly);
    if (res.code !== null) throw verificationFailed(`grants restored (catalog read-back), but a write as ${who} on ${target} still fails with ${res.code} (${res.message ?? ''})`);
    return { readOnlyDefault, wrote: `${insert ? 'INSERT' : 'DELETE'} on ${target} (rolled back)` };
  });
  const state = verified ? 'grants restored (catalog read-back)' : 'no incident holds read-only here (catalog records)';
  if (!proof.ok && proof.transient) {
    // A retry can still prove it; what is in force is said either way.
    throw verificationFailed(`${db} for ${who}: ${state}, but the app-role login proof could not connect: ${proof.reason}`);
  }
  // Refused at login (a stale password): the catalog shows read-only lifted, so the lift stands and says the proof failed.
  const loginFailed = proof.ok ? undefined : `${state}; app-role login proof failed: ${proof.reason}${loginNotes(logins)}; check postgres.appUrl / appPassword for the target`;
  const wrote = proof.ok ? proof.value.wrote : null;
  const gone = r.plan.missing.length ? `; ${r.plan.missing.length} recorded table(s) no longer exist (${listSome(r.plan.missing)})` : '';
  const restoredLine = r.released
    ? r.plan.statements.length
      ? `restored ${grantCount(restored.tables)} recorded write privilege(s) of ${who} on ${db} and ${restored.settings.roleInDatabase === null ? 'reset its default_transaction_read_only' : `its default_transaction_read_only = ${restored.settings.roleInDatabase}`}`
      : `${who} already had exactly the recorded privileges on ${db}`
    : `${input.incidentId}'s hold on read-only of ${db} for ${who} was already released by an earlier attempt; no incident holds it now`;
  return {
    summary:
      restoredLine +
      (sessionsEnded ? `; ended ${sessionsEnded} session(s) opened while read-only` : '') +
      (wrote ? `; a write as ${who} succeeds (${wrote})` : '') +
      (loginFailed ? `; ${loginFailed}` : '') +
      gone,
    changed: r.plan.statements.length > 0 || sessionsEnded > 0,
    proof: {
      privileges: grantCount(restored.tables),
      matchesRecord: verified,
      wrote,
      readOnlyDefault: proof.ok ? proof.value.readOnlyDefault : null,
      sessionsEnded,
      ...(loginFailed ? { loginProof: `failed: ${proof.ok ? '' : proof.reason}` } : {}),
      ...(r.plan.missing.length ? { missingTables: r.plan.missing } : {}),
      ...(r.plan.notRecorded.length ? { tablesNotInRecord: r.plan.notRecorded.length } : {}),
    },
    output: outcome(r),
  };
}
