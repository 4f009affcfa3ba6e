/**
 * Appending to an incident's chain, in one transaction as firebreak_audit: the incident's
 * advisory lock, its head, then each entry the workflow numbered. An entry already stored
 * (a retried or crashed append) must be the same entry and is skipped, so a retry never
 * duplicates; an entry past the head would leave a gap and is refused. A checkpoint links
 * the head into the global chain (its own short lock) and is signed on the worker.
 */
import type pg from 'pg';
import { GENESIS, globalHash, payloadText, recordHash, signCheckpoint, type AuditEntry, type AuditSigner, type Checkpoint } from '../../lib/audit/chain.js';
import { sha256Hex } from '../../lib/canonical.js';
import { badInput } from '../support/failures.js';
import { AUDIT_ROLE } from '../support/audit-schema.js';

/** pg_advisory_xact_lock class of the audit log ("FbAu"): objid 0 is the global chain, others hash an incident id. */
export const AUDIT_LOCK_CLASS = 0x46624175;

export interface AppendRequest {
  incidentId: string;
  entries: AuditEntry[];
  /** Sign `{size, head}` after appending (phase ends, close). */
  checkpoint?: boolean;
}

export interface AppendResult {
  size: number;
  head: string;
  appended: number;
  checkpoint?: Checkpoint;
}

function lockId(incidentId: string): number {
  // 31 bits of the id's hash, never 0 (the global chain's).
  return (parseInt(sha256Hex(incidentId).slice(0, 8), 16) & 0x7fffffff) || 1;
}

export async function appendEntries(c: pg.PoolClient, req: AppendRequest, signer: AuditSigner | undefined, now: () => string): Promise<AppendResult> {
  await c.query('BEGIN');
  try {
    await c.query(`SET LOCAL ROLE ${AUDIT_ROLE}`);
    await c.query('SELECT pg_advisory_xact_lock($1, $2)', [AUDIT_LOCK_CLASS, lockId(req.incidentId)]);
    const top = await c.query<{ seq: number; hash: string }>('SELECT seq, hash FROM firebreak.audit_records WHERE incident_id = $1 ORDER BY seq DESC LIMIT 1', [req.incidentId]);
    let size = top.rows[0] ? top.rows[0].seq + 1 : 0;
    let head = top.rows[0]?.hash ?? GENESIS;
    let appended = 0;
    const stored = await storedFrom(c, req, size);
    for (const e of [...req.entries].sort((a, b) => a.seq - b.seq)) {
      const text = payloadText(e.data);
      if (e.seq < size) {
        const was = stored.get(e.seq);
        if (was !== undefined && was !== text) throw badInput(`audit record ${req.incidentId}#${e.seq} is already stored with other contents`);
        continue;
      }
      if (e.seq > size) throw badInput(`audit record ${req.incidentId}#${e.seq} would leave a gap (the chain has ${size})`);
      const hash = recordHash(req.incidentId, e, head);
      await c.query('INSERT INTO firebreak.audit_records (incident_id, seq, at, at_text, kind, actor, payload, prev_hash, hash) VALUES ($1, $2, $3, $9, $4, $5, $6, $7, $8)', [
        req.incidentId,
        e.seq,
        e.at,
        e.kind,
        e.actor ?? null,
        text,
        head,
        hash,
        e.at,
      ]);
      head = hash;
      size += 1;
      appended += 1;
    }
    const checkpoint = req.checkpoint && size > 0 ? await checkpointAt(c, req.incidentId, size, head, signer, now) : undefined;
    await c.query('COMMIT');
    return { size, head, appended, ...(checkpoint && { checkpoint }) };
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** Payloads of the stored entries a retry resends (those below the head). */
async function storedFrom(c: pg.PoolClient, req: AppendRequest, size: number): Promise<Map<number, string>> {
  const resent = req.entries.filter((e) => e.seq < size).map((e) => e.seq);
  if (!resent.length) return new Map();
  const r = await c.query<{ seq: number; payload: string }>('SELECT seq, payload FROM firebreak.audit_records WHERE incident_id = $1 AND seq = ANY($2::int[])', [req.incidentId, resent]);
  return new Map(r.rows.map((x) => [x.seq, x.payload]));
}

async function checkpointAt(c: pg.PoolClient, incidentId: string, size: number, head: string, signer: AuditSigner | undefined, now: () => string): Promise<Checkpoint> {
  const had = await c.query<CheckpointRow>('SELECT * FROM firebreak.audit_checkpoints WHERE incident_id = $1 AND size = $2', [incidentId, size]);
  if (had.rows[0]) return checkpointOf(had.rows[0]);
  await c.query('SELECT pg_advisory_xact_lock($1, 0)', [AUDIT_LOCK_CLASS]);
  const last = await c.query<{ gseq: number; hash: string }>('SELECT gseq, hash FROM firebreak.audit_global ORDER BY gseq DESC LIMIT 1');
  const gseq = last.rows[0] ? last.rows[0].gseq + 1 : 0;
  const at = now();
  const g = { gseq, incidentId, size, head, at };
  const ghash = globalHash(g, last.rows[0]?.hash ?? GENESIS);
  await c.query('INSERT INTO firebreak.audit_global (gseq, incident_id, size, head, at_text, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)', [gseq, incidentId, size, head, at, last.rows[0]?.hash ?? GENESIS, ghash]);
  const cp = signCheckpoint({ incidentId, size, head, gseq, globalHash: ghash, at }, signer);
  await c.query('INSERT INTO firebreak.audit_checkpoints (incident_id, size, head, gseq, global_hash, at_text, key_id, signature) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [
    incidentId,
    size,
    head,
    gseq,
    ghash,
    at,
    cp.keyId,
    cp.signature,
  ]);
  return cp;
}

export interface CheckpointRow {
  incident_id: string;
  size: number;
  head: string;
  gseq: number;
  global_hash: string;
  at_text: string;
  key_id: string | null;
  signature: string | null;
}

export function checkpointOf(r: CheckpointRow): Checkpoint {
  return { incidentId: r.incident_id, size: r.size, head: r.head, gseq: r.gseq, globalHash: r.global_hash, at: r.at_text, keyId: r.key_id, signature: r.signature };
}
