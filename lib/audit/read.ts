/**
 * Reading the audit tables for `firebreak audit` (SELECT only): a verifier does not ask the
 * worker, whose work it checks. Rows come back in the shapes lib/audit/verify.ts takes.
 */
import type pg from 'pg';
import type { Checkpoint, GlobalEntry } from './chain.js';
import type { StoredArchive, StoredRecord } from './verify.js';

export interface AuditRows {
  records: StoredRecord[];
  checkpoints: Checkpoint[];
  global?: GlobalEntry[];
  archives: StoredArchive[];
}

const RECORD_COLUMNS = 'incident_id AS "incidentId", seq, at_text AS at, kind, actor, payload, prev_hash AS "prevHash", hash';

/** One incident's rows, or every incident's; the global chain with every incident's, or when asked. */
export async function readAudit(c: pg.ClientBase, incidentId: string | undefined, opts: { global?: boolean } = {}): Promise<AuditRows> {
  const where = incidentId === undefined ? '' : 'WHERE incident_id = $1';
  const args = incidentId === undefined ? [] : [incidentId];
  // One session answers one query at a time.
  const records = await c.query<StoredRecord>(`SELECT ${RECORD_COLUMNS} FROM firebreak.audit_records ${where} ORDER BY incident_id, seq`, args);
  const checkpoints = await c.query<Checkpoint>(
    `SELECT incident_id AS "incidentId", size, head, gseq, global_hash AS "globalHash", at_text AS at, key_id AS "keyId", signature FROM firebreak.audit_checkpoints ${where} ORDER BY incident_id, size`,
    args,
  );
  const archives = await c.query<StoredArchive>(`SELECT workflow_id AS "workflowId", run_id AS "runId", incident_id AS "incidentId", sha256, history FROM firebreak.audit_archives ${where}`, args);
  const global =
    incidentId === undefined || opts.global
      ? await c.query<GlobalEntry>('SELECT gseq, incident_id AS "incidentId", size, head, at_text AS at, prev_hash AS "prevHash", hash FROM firebreak.audit_global ORDER BY gseq')
      : undefined;
  return { records: records.rows, checkpoints: checkpoints.rows, archives: archives.rows, ...(global && { global: global.rows }) };
}

export interface LogFilter {
  incidentId?: string;
  actor?: string;
  since?: string;
  /** A record kind, a decision kind or a step's action. */
  action?: string;
  limit: number;
}

/** Records matching the filter, oldest first. */
export async function queryLog(c: pg.ClientBase, f: LogFilter): Promise<StoredRecord[]> {
  const conds: string[] = [];
  const args: unknown[] = [];
  const add = (sql: string, v: unknown): void => {
    args.push(v);
    conds.push(sql.replace('?', `$${args.length}`));
  };
  if (f.incidentId) add('incident_id = ?', f.incidentId);
  if (f.actor) add('actor = ?', f.actor);
  if (f.since) add('at >= ?::timestamptz', f.since);
  if (f.action) {
    args.push(f.action);
    const n = `$${args.length}`;
    conds.push(`(kind = ${n} OR payload::jsonb->>'kind' = ${n} OR payload::jsonb->'stepState'->>'action' = ${n})`);
  }
  args.push(f.limit);
  const where = conds.length ? `WHERE ${conds.join(' AND ')}` : '';
  const r = await c.query<StoredRecord>(`SELECT ${RECORD_COLUMNS} FROM firebreak.audit_records ${where} ORDER BY at, incident_id, seq LIMIT $${args.length}`, args);
  return r.rows;
}

export interface Refusal {
  at: string;
  incidentId: string | null;
  kind: string | null;
  claimedActor: string | null;
  claimedKey: string | null;
  reason: string;
}

/** Refused decision attempts the worker heard its workflows log, oldest first. */
export async function queryRefusals(c: pg.ClientBase, f: Pick<LogFilter, 'incidentId' | 'since' | 'limit'>): Promise<Refusal[]> {
  const r = await c.query<Refusal>(
    `SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at, incident_id AS "incidentId", kind, claimed_actor AS "claimedActor", claimed_key AS "claimedKey", reason
       FROM firebreak.audit_refusals WHERE ($1::text IS NULL OR incident_id = $1) AND ($2::timestamptz IS NULL OR at >= $2) ORDER BY id LIMIT $3`,
    [f.incidentId ?? null, f.since ?? null, f.limit],
  );
  return r.rows;
}
