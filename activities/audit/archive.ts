/**
 * A closed workflow's history into Firebreak's database, as Temporal gives it (replayable)
 * and decoded with secrets redacted (readable), so export and verify outlive Temporal's
 * retention. Idempotent: one row per (workflow id, run id); a run still open is reported,
 * not archived.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type pg from 'pg';
import { sha256Hex } from '../../lib/canonical.js';
import { codecFromConfig } from '../../lib/codec.js';
import type { Config } from '../../lib/config.js';
import { decodeHistory, historyToText, redactDecoded } from '../../lib/history/decode.js';
import { incidentIdOf } from '../../lib/ids.js';
import { sensitiveValues } from '../../lib/runbook/sensitive.js';
import type { IncidentInput } from '../../workflows/definitions.js';
import type { AuditEntry, AuditSigner } from '../../lib/audit/chain.js';
import { AUDIT_ROLE } from '../support/audit-schema.js';
import { appendEntries } from './append.js';

export interface ArchiveRequest {
  workflowId: string;
  /** The incident it belongs to (children carry their own workflow ids). */
  incidentId: string;
}

export type ArchiveResult = { archived: true; runId: string; events: number; sha256: string } | { archived: false; open: boolean };

export async function archiveHistory(client: Client, pool: pg.Pool, config: Readonly<Config>, signer: AuditSigner | undefined, req: ArchiveRequest): Promise<ArchiveResult> {
  const handle = client.workflow.getHandle(req.workflowId);
  let d: Awaited<ReturnType<typeof handle.describe>>;
  try {
    d = await handle.describe();
  } catch (err) {
    // Deleted from Temporal before it was archived: nothing left to archive.
    if (err instanceof WorkflowNotFoundError) return { archived: false, open: false };
    throw err;
  }
  if (d.status.name === 'RUNNING') return { archived: false, open: true };
  const history = await handle.fetchHistory();
  const text = historyToText(history);
  const sha256 = sha256Hex(text);
  const events = history.events?.length ?? 0;
  const decoded = await decodeHistory(history, codecFromConfig(config));
  const incidentId = req.incidentId || incidentIdOf(req.workflowId);
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await c.query(`SET LOCAL ROLE ${AUDIT_ROLE}`);
    await c.query(
      `INSERT INTO firebreak.audit_archives (workflow_id, run_id, incident_id, workflow_type, status, events, history, decoded, sha256)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (workflow_id, run_id) DO NOTHING`,
      [req.workflowId, d.runId, incidentId, d.type, d.status.name, events, text, JSON.stringify(redactDecoded(decoded, secretsOf(decoded))), sha256],
    );
    await c.query('COMMIT');
    await anchorArchive(c, incidentId, { workflowId: req.workflowId, runId: d.runId, workflowType: d.type, events, sha256 }, signer);
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
  return { archived: true, runId: d.runId, events, sha256 };
}

/**
 * The archive's SHA-256 as a record of the incident's chain, checkpointed: the archived
 * history is then as provable as the rest. Once per run (a retry finds it).
 */
async function anchorArchive(c: pg.PoolClient, incidentId: string, data: Record<string, unknown>, signer: AuditSigner | undefined): Promise<void> {
  const had = await c.query("SELECT 1 FROM firebreak.audit_records WHERE incident_id = $1 AND kind = 'archived' AND payload::jsonb->>'runId' = $2", [incidentId, data.runId]);
  if (had.rowCount) return;
  const top = await c.query<{ n: number | null }>('SELECT max(seq) + 1 AS n FROM firebreak.audit_records WHERE incident_id = $1', [incidentId]);
  const entry: AuditEntry = { seq: top.rows[0]?.n ?? 0, at: new Date().toISOString(), kind: 'archived', data };
  await appendEntries(c, { incidentId, entries: [entry], checkpoint: true }, signer, () => new Date().toISOString());
}

/** The sensitive parameter values of the incident whose input opens this history. */
function secretsOf(decoded: unknown): string[] {
  const first = (decoded as { events?: Array<{ workflowExecutionStartedEventAttributes?: { input?: { payloads?: unknown[] } } }> }).events?.[0];
  const input = first?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0] as Partial<IncidentInput> | undefined;
  if (!input?.runbook?.doc || !input.params) return [];
  try {
    return sensitiveValues(input.runbook.doc, input.params);
  } catch {
    return [];
  }
}
