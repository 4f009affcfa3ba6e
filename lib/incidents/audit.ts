/**
 * `firebreak audit`: verify, export and query the audit log. The verifier reads Firebreak's
 * database itself (SELECT only) and Temporal's histories while they are kept — it asks no
 * worker, since the worker is what it checks. Anchors from history: every signed checkpoint
 * an append returned; cross-checks both ways: decisions (updates accepted) and completed steps.
 */
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import pg from 'pg';
import { publicKeyMap, type Checkpoint } from '../audit/chain.js';
import { str } from '../audit/export.js';
import { readAudit, type AuditRows } from '../audit/read.js';
import { verifyAudit, type IncidentVerdict, type Problem, type StoredRecord } from '../audit/verify.js';
import { codecFromConfig } from '../codec.js';
import { readSecret, type Config } from '../config.js';
import { publicKeyOf } from '../identity/ed25519.js';
import { encodeBase64 } from '../identity/base64.js';
import { decodeHistory, historyFromText, type History } from '../history/decode.js';
import { workflowIdFor } from '../ids.js';
import { parseKey } from '../seal.js';

/** A session on Firebreak's database for reading the audit tables. */
export async function connectAuditDb(config: Readonly<Config>): Promise<pg.Client> {
  const password = config.database.password ? readSecret(config.database.password) : undefined;
  const c = new pg.Client({ connectionString: config.database.url, ...(password !== undefined && { password }), application_name: 'firebreak-audit-cli', connectionTimeoutMillis: 5_000 });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** The audit public keys a verifier trusts: `audit.publicKeys`, and the worker's key when this process can read it. */
export function auditPublicKeys(config: Readonly<Config>): Map<string, Uint8Array> {
  const lines = [...(config.audit?.publicKeys ?? [])];
  const ref = config.audit?.key;
  if (ref) {
    try {
      lines.push(encodeBase64(publicKeyOf(new Uint8Array(parseKey(readSecret(ref), 'audit.key')))));
    } catch {
      // Not readable here (a verifier without the worker's secrets): publicKeys must name it.
    }
  }
  return publicKeyMap(lines);
}

const UPDATE_KINDS: Record<string, string> = {
  approve: 'approve',
  resolve: 'resolve',
  abort: 'abort',
  note: 'note',
  retry: 'retry',
  override: 'override',
  confirmItem: 'confirm',
  waiveItem: 'waive',
  markPersonalData: 'personal-data',
};

/** What an incident's history says, for anchoring and cross-checking. */
export interface HistoryFacts {
  source: 'temporal' | 'archive';
  closed: boolean;
  anchors: Checkpoint[];
  /** Accepted updates by decision kind. */
  decisions: Map<string, number>;
  /** Step ids whose action activity completed. */
  completedSteps: Set<string>;
}

type Decoded = { events?: Array<Record<string, unknown>> };

export function historyFacts(decoded: unknown, source: HistoryFacts['source']): HistoryFacts {
  const events = (decoded as Decoded).events ?? [];
  const scheduled = new Map<string, { type: string; input: unknown }>();
  const facts: HistoryFacts = { source, closed: false, anchors: [], decisions: new Map(), completedSteps: new Set() };
  for (const e of events) {
    const id = str(e.eventId);
    const sched = e.activityTaskScheduledEventAttributes as { activityType?: { name?: string }; input?: { payloads?: unknown[] } } | undefined;
    if (sched) scheduled.set(id, { type: sched.activityType?.name ?? '', input: sched.input?.payloads?.[0] });
    const done = e.activityTaskCompletedEventAttributes as { scheduledEventId?: unknown; result?: { payloads?: unknown[] } } | undefined;
    if (done) {
      const s = scheduled.get(str(done.scheduledEventId));
      const result = done.result?.payloads?.[0] as { checkpoint?: Checkpoint } | undefined;
      if (s?.type === 'auditAppend' && result?.checkpoint) facts.anchors.push(result.checkpoint);
      const input = s?.input as { stepId?: unknown; action?: unknown } | undefined;
      if (s && typeof input?.stepId === 'string' && typeof input.action === 'string' && !s.type.startsWith('audit')) facts.completedSteps.add(input.stepId);
    }
    const accepted = e.workflowExecutionUpdateAcceptedEventAttributes as { acceptedRequest?: { input?: { name?: string } } } | undefined;
    const name = accepted?.acceptedRequest?.input?.name;
    if (name && UPDATE_KINDS[name]) facts.decisions.set(UPDATE_KINDS[name], (facts.decisions.get(UPDATE_KINDS[name]) ?? 0) + 1);
    if (e.workflowExecutionCompletedEventAttributes || e.workflowExecutionFailedEventAttributes || e.workflowExecutionTerminatedEventAttributes) facts.closed = true;
  }
  return facts;
}

/** The incident's history: from Temporal while it is kept, else from the archive. */
export async function incidentHistory(client: Client | undefined, config: Readonly<Config>, incidentId: string, rows: AuditRows): Promise<HistoryFacts | undefined> {
  const codec = codecFromConfig(config);
  const workflowId = workflowIdFor(incidentId);
  if (client) {
    try {
      const h: History = await client.workflow.getHandle(workflowId).fetchHistory();
      return historyFacts(await decodeHistory(h, codec), 'temporal');
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError) && !/not found/i.test((err as Error).message)) throw err;
    }
  }
  const archived = rows.archives.find((a) => a.workflowId === workflowId);
  return archived ? historyFacts(await decodeHistory(historyFromText(archived.history), codec), 'archive') : undefined;
}

/** Records and history, both ways: every decision and completed step in one has its counterpart in the other. */
export function crossCheck(incidentId: string, records: StoredRecord[], facts: HistoryFacts): Problem[] {
  const out: Problem[] = [];
  const mine = records.filter((r) => r.incidentId === incidentId);
  const kinds = new Map<string, number>();
  const steps = new Set<string>();
  for (const r of mine) {
    const data = JSON.parse(r.payload) as { kind?: string; step?: string; message?: string };
    if (r.kind === 'decision' && data.kind) kinds.set(data.kind, (kinds.get(data.kind) ?? 0) + 1);
    if (r.kind === 'timeline' && data.kind === 'step' && data.step && /^\S+ (succeeded|planned):/.test(data.message ?? '')) steps.add(data.step);
  }
  for (const k of new Set([...kinds.keys(), ...facts.decisions.keys()])) {
    const a = kinds.get(k) ?? 0;
    const h = facts.decisions.get(k) ?? 0;
    if (a !== h) out.push({ incidentId, what: 'history', message: `${k} decisions: ${h} in Temporal's history (${facts.source}), ${a} in the audit log` });
  }
  for (const s of facts.completedSteps) if (!steps.has(s) && !/\./.test(s)) out.push({ incidentId, what: 'history', message: `step ${s} completed in the history; the audit log has no record of it` });
  for (const s of steps) if (!facts.completedSteps.has(s)) out.push({ incidentId, what: 'history', message: `the audit log says step ${s} succeeded; the history shows no completed activity for it` });
  return out;
}

export interface VerifyReport {
  ok: boolean;
  incidents: Array<IncidentVerdict & { history: HistoryFacts['source'] | 'gone' }>;
  global: Problem[];
  /** The first problem, the one to look at. */
  first?: Problem;
}

/** Verify one incident (or every one, with the global chain). */
export async function verifyAuditLog(config: Readonly<Config>, opts: { incidentId?: string; client?: Client; db: pg.ClientBase }): Promise<VerifyReport> {
  const rows = await readAudit(opts.db, opts.incidentId, { global: true });
  const ids = opts.incidentId ? [opts.incidentId] : [...new Set(rows.records.map((r) => r.incidentId))];
  const anchors = new Map<string, Checkpoint[]>();
  const histories = new Map<string, HistoryFacts | undefined>();
  for (const id of ids) {
    const facts = await incidentHistory(opts.client, config, id, rows);
    histories.set(id, facts);
    if (facts) anchors.set(id, facts.anchors);
  }
  const v = verifyAudit({ ...rows, publicKeys: auditPublicKeys(config), anchors, ...(opts.incidentId && { expect: [opts.incidentId] }) });
  const incidents = v.incidents.map((i) => {
    const facts = histories.get(i.incidentId);
    const extra = facts?.closed ? crossCheck(i.incidentId, rows.records, facts) : [];
    return { ...i, problems: [...i.problems, ...extra], history: facts?.source ?? ('gone' as const) };
  });
  const global = v.global;
  const first = incidents.flatMap((i) => i.problems)[0] ?? global[0];
  return { ok: !first, incidents, global, ...(first && { first }) };
}
