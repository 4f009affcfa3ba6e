/**
 * The pending-record store (`firebreak.pending_secrets` in Firebreak's own database):
 * a step's new value is generated once, stored sealed with INSERT … ON CONFLICT DO
 * NOTHING and read back, so every attempt of the step publishes and sets the same
 * value. Rotations of one target hold a session advisory lock there, so two steps
 * never interleave two different values. Completing clears the value.
 */
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type pg from 'pg';
import type { Config } from '../../lib/config.js';
import { ConfigError } from '../../lib/errors.js';
import { keyringFromConfig, open, SealOpenError, type Keyring } from '../../lib/seal.js';
import type { ActionInput } from '../../workflows/definitions.js';
import { FIREBREAK_LOCK_CLASS, type FirebreakDb } from '../support/firebreak-db.js';
import { badInput, refused, sqlState, targetUnavailable } from '../support/failures.js';
import { SQLSTATE } from '../support/sqlstate.js';
import { fingerprint } from './values.js';

export type Kind = 'db_password' | 'jwt_key';

export interface PendingRow {
  target: string;
  kind: string;
  name: string;
  value_enc: Buffer | null;
  fingerprint: string;
  previous_verifier_fp: string | null;
  completed_at: Date | null;
}

const RECORD_VERSION = 1;
const NO_ENCRYPTION = 'secret rotation needs payload encryption configured: the pending value is stored encrypted (set `encryption` in config)';

/** The payload keys, which seal the pending values too; a rotation refuses without them. */
export function pendingKeyring(config: Readonly<Config>): Keyring {
  if (!config.encryption) throw refused(NO_ENCRYPTION);
  try {
    return keyringFromConfig(config) as Keyring;
  } catch (err) {
    if (err instanceof ConfigError) throw refused(`secret rotation cannot read the payload keys: ${err.problems.join('; ')}`);
    throw err;
  }
}

/** Binds a sealed value to its row: a value copied into another row does not open. */
function rowContext(incidentId: string, stepId: string, name: string): Buffer {
  return Buffer.from(['firebreak.pending_secrets', incidentId, stepId, name].join('\0'), 'utf8');
}

/** [version][key id length][key id][iv ‖ ciphertext ‖ tag] */
function sealValue(ring: Keyring, value: string, context: Buffer): Buffer {
  const { keyId, sealed } = ring.seal(value, context);
  const id = Buffer.from(keyId, 'utf8');
  return Buffer.concat([Buffer.from([RECORD_VERSION, id.length]), id, sealed]);
}

/** The step's pending value, opened with whichever key sealed it. */
export function openPending(ring: Keyring, input: Pick<ActionInput, 'incidentId' | 'stepId'>, name: string, blob: Buffer): string {
  if (blob.length < 2 || blob[0] !== RECORD_VERSION) throw refused('the pending secret record has an unknown format');
  const idLen = blob[1] as number;
  const id = blob.subarray(2, 2 + idLen);
  const keyId = id.toString('utf8');
  const key = ring.key(keyId);
  if (!key) throw refused(`the pending secret was encrypted with key "${keyId}", which is no longer in encryption.keys: put it back to finish this rotation`);
  try {
    return open(key, id, blob.subarray(2 + idLen), rowContext(input.incidentId, input.stepId, name)).toString('utf8');
  } catch (err) {
    if (err instanceof SealOpenError && err.reason === 'truncated') throw refused('the pending secret record is truncated');
    throw refused(`the pending secret record does not decrypt with key "${keyId}" (altered, or the key changed)`);
  }
}

/** Run `fn` holding the target's rotation lock in Firebreak's database; the session ends afterwards. */
export async function withRotationLock<T>(db: FirebreakDb, input: ActionInput, fn: (own: pg.Client) => Promise<T>): Promise<T> {
  const own = await db.connect();
  try {
    const objid = createHash('sha256').update(input.target).digest().readInt32BE(0);
    try {
      await own.query('SELECT pg_advisory_lock($1, $2)', [FIREBREAK_LOCK_CLASS, objid]);
    } catch (err) {
      if (sqlState(err) === SQLSTATE.lockNotAvailable) throw targetUnavailable("Firebreak's database", new Error(`another secret rotation on target "${input.target}" is still running`));
      throw targetUnavailable("Firebreak's database", err);
    }
    return await fn(own);
  } finally {
    // Ending the session releases the advisory lock.
    await own.end().catch(() => undefined);
  }
}

async function onOwn<T>(db: FirebreakDb, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ApplicationFailure) throw err;
    db.noticeError(err);
    throw targetUnavailable("Firebreak's database", err);
  }
}

/** The step's pending record: created once with `fresh()`, the same on every later attempt. */
export async function pendingRecord(
  db: FirebreakDb,
  own: pg.Client,
  input: ActionInput,
  ring: Keyring,
  spec: { kind: Kind; name: string; fresh: () => string; previousVerifierFp: string | null },
): Promise<PendingRow> {
  const select = () =>
    own.query<PendingRow>(
      'SELECT target, kind, name, value_enc, fingerprint, previous_verifier_fp, completed_at FROM firebreak.pending_secrets WHERE incident_id = $1 AND step_id = $2',
      [input.incidentId, input.stepId],
    );
  let row = (await onOwn(db, select)).rows[0];
  if (!row) {
    const value = spec.fresh();
    const sealed = sealValue(ring, value, rowContext(input.incidentId, input.stepId, spec.name));
    await onOwn(db, () =>
      own.query(
        `INSERT INTO firebreak.pending_secrets (incident_id, step_id, target, kind, name, value_enc, fingerprint, previous_verifier_fp)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (incident_id, step_id) DO NOTHING`,
        [input.incidentId, input.stepId, input.target, spec.kind, spec.name, sealed, fingerprint(value), spec.previousVerifierFp],
      ),
    );
    row = (await onOwn(db, select)).rows[0];
    if (!row) throw targetUnavailable("Firebreak's database", new Error('the pending record did not read back'));
  }
  if (row.target !== input.target || row.kind !== spec.kind || row.name !== spec.name) {
    throw badInput(`step ${input.stepId} of ${input.incidentId} already rotated ${row.kind} ${row.name} on target "${row.target}"; it cannot now rotate ${spec.kind} ${spec.name} on "${input.target}"`);
  }
  return row;
}

/** The rotation is done: the value is cleared, only its fingerprint stays. */
export async function completePending(db: FirebreakDb, own: pg.Client, input: ActionInput): Promise<void> {
  await onOwn(db, () =>
    own.query('UPDATE firebreak.pending_secrets SET completed_at = now(), value_enc = NULL WHERE incident_id = $1 AND step_id = $2 AND completed_at IS NULL', [
      input.incidentId,
      input.stepId,
    ]),
  );
}
