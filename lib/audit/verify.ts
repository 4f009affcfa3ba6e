/**
 * Verifying the audit log from what is stored, pure: each incident's chain recomputed, every
 * checkpoint's signature and its head, the global chain of heads, the anchors found outside
 * the database (checkpoints in Temporal histories), the signed decisions, the archives.
 * Each problem names the incident, the sequence number and what differs; the first is the
 * one to look at.
 */
import { sha256Hex } from '../canonical.js';
import { decodeBase64 } from '../identity/base64.js';
import { verifyEd25519 } from '../identity/ed25519.js';
import { keyIdOf } from '../identity/registry.js';
import { verifySshSig } from '../identity/sshsig.js';
import { parseStatement, statementBytes } from '../identity/statement.js';
import { checkCheckpoint, GENESIS, globalHash, payloadText, recordHash, type AuditKind, type Checkpoint, type GlobalEntry } from './chain.js';

export interface StoredRecord {
  incidentId: string;
  seq: number;
  at: string;
  kind: string;
  actor: string | null;
  payload: string;
  prevHash: string;
  hash: string;
}

export interface StoredArchive {
  workflowId: string;
  runId: string;
  incidentId: string;
  sha256: string;
  history: string;
}

export interface Problem {
  incidentId: string;
  /** The record (or checkpoint size, or global sequence) concerned. */
  seq?: number;
  what: 'record' | 'chain' | 'missing' | 'truncated' | 'checkpoint' | 'global' | 'anchor' | 'decision' | 'archive' | 'history';
  message: string;
}

export interface IncidentVerdict {
  incidentId: string;
  records: number;
  checkpoints: number;
  /** Records after the newest checkpoint: stored, but provable only by the chain (not by a signature). */
  unanchored: number;
  decisions: number;
  problems: Problem[];
  warnings: string[];
}

export interface VerifyInput {
  records: StoredRecord[];
  checkpoints: Checkpoint[];
  /** The whole global chain, when verifying all incidents (omit for one incident). */
  global?: GlobalEntry[];
  archives: StoredArchive[];
  /** Audit public keys by key id. */
  publicKeys: ReadonlyMap<string, Uint8Array>;
  /** Checkpoints found in Temporal histories (the appends' results), by incident. */
  anchors?: ReadonlyMap<string, Checkpoint[]>;
  /** Incidents whose records are asked for (their absence is a problem); absent: every incident is. */
  expect?: readonly string[];
}

export function verifyAudit(input: VerifyInput): { incidents: IncidentVerdict[]; global: Problem[] } {
  const byIncident = groupBy(input.records, (r) => r.incidentId);
  const cps = groupBy(input.checkpoints, (c) => c.incidentId);
  const ids = [...new Set([...byIncident.keys(), ...cps.keys(), ...(input.expect ?? []), ...(input.anchors?.keys() ?? [])])].sort();
  const incidents = ids.map((id) => verifyIncident(id, byIncident.get(id) ?? [], cps.get(id) ?? [], input));
  const scope = input.expect && new Set(input.expect);
  const global = input.global ? verifyGlobal(input.global, byIncident, scope) : [];
  return { incidents, global };
}

function verifyIncident(incidentId: string, records: StoredRecord[], checkpoints: Checkpoint[], input: VerifyInput): IncidentVerdict {
  const problems: Problem[] = [];
  const warnings: string[] = [];
  const p = (what: Problem['what'], message: string, seq?: number): void => {
    problems.push({ incidentId, what, message, ...(seq !== undefined && { seq }) });
  };
  const sorted = [...records].sort((a, b) => a.seq - b.seq);
  const hashAt = new Map<number, string>();
  let prev = GENESIS;
  let expected = 0;
  let decisions = 0;
  if (!sorted.length && !checkpoints.length) p('missing', 'no audit records for this incident');
  for (const r of sorted) {
    if (r.seq !== expected) p('missing', `record${r.seq - expected > 1 ? 's' : ''} ${expected}${r.seq - expected > 1 ? `–${r.seq - 1}` : ''} missing (deleted)`, expected);
    expected = r.seq + 1;
    let data: Record<string, unknown> | undefined;
    try {
      data = JSON.parse(r.payload) as Record<string, unknown>;
    } catch {
      p('record', 'payload is not JSON (edited)', r.seq);
    }
    if (data && payloadText(data) !== r.payload) p('record', 'payload is not in canonical form (edited)', r.seq);
    if (r.prevHash !== prev) p('chain', `prev_hash ${short(r.prevHash)} is not the hash of the record before (${short(prev)})`, r.seq);
    const again = data ? recordHash(incidentId, { seq: r.seq, at: r.at, kind: r.kind as AuditKind, ...(r.actor !== null && { actor: r.actor }), data }, r.prevHash) : undefined;
    if (again !== undefined && again !== r.hash) p('record', `contents do not match the record's hash (${describeEdit(r)})`, r.seq);
    hashAt.set(r.seq, r.hash);
    prev = r.hash;
    if (r.kind === 'decision' && data) {
      decisions += 1;
      const bad = decisionProblem(incidentId, data);
      if (bad) p('decision', bad, r.seq);
    }
  }
  const size = sorted.length ? (sorted[sorted.length - 1] as StoredRecord).seq + 1 : 0;
  let newest = 0;
  for (const c of [...checkpoints].sort((a, b) => a.size - b.size)) {
    const sig = checkCheckpoint(c, input.publicKeys);
    if (sig === 'unsigned') warnings.push(`checkpoint at ${c.size} is unsigned (no audit.key on the worker): a rewrite with recomputed hashes is not detectable`);
    else if (sig !== 'ok') p('checkpoint', `checkpoint at ${c.size}: ${sig === 'unknown-key' ? `key ${c.keyId} is not among the audit public keys` : 'signature does not verify (checkpoint edited or forged)'}`, c.size);
    if (c.size > size) p('truncated', `a checkpoint covers ${c.size} records; the table has ${size} (the last ${c.size - size} deleted)`, size);
    else if (hashAt.has(c.size - 1) && hashAt.get(c.size - 1) !== c.head) p('checkpoint', `the signed head at ${c.size} is ${short(c.head)}; record ${c.size - 1} hashes to ${short(hashAt.get(c.size - 1) ?? '')} (records rewritten)`, c.size - 1);
    if (input.global) {
      const g = input.global.find((x) => x.gseq === c.gseq);
      if (!g || g.incidentId !== incidentId || g.size !== c.size || g.head !== c.head || g.hash !== c.globalHash) p('global', `checkpoint at ${c.size} names global entry ${c.gseq}, which is missing or different`, c.size);
    }
    newest = Math.max(newest, c.size);
  }
  for (const a of input.anchors?.get(incidentId) ?? []) {
    const row = checkpoints.find((c) => c.size === a.size);
    if (!row) p('anchor', `Temporal's history holds a signed checkpoint at ${a.size} (head ${short(a.head)}) that the table no longer has`, a.size);
    else if (row.head !== a.head || row.signature !== a.signature) p('anchor', `the checkpoint row at ${a.size} differs from the one in Temporal's history (edited)`, a.size);
    if (a.size > size) p('truncated', `Temporal's history anchors ${a.size} records; the table has ${size}`, size);
    else if (hashAt.has(a.size - 1) && hashAt.get(a.size - 1) !== a.head) p('anchor', `record ${a.size - 1} does not hash to the head anchored in Temporal's history (rewritten)`, a.size - 1);
    newest = Math.max(newest, a.size);
  }
  const closed = sorted.some((r) => r.kind === 'closed');
  const unanchored = Math.max(0, size - newest);
  if (unanchored && closed) warnings.push(`${unanchored} record(s) after the newest checkpoint: provable by the chain only`);
  for (const a of input.archives.filter((x) => x.incidentId === incidentId)) {
    if (sha256Hex(a.history) !== a.sha256) p('archive', `archived history of ${a.workflowId} (run ${a.runId}) does not match its SHA-256 (edited)`);
    const anchored = sorted.some((r) => r.kind === 'archived' && r.payload.includes(`"sha256":"${a.sha256}"`) && r.payload.includes(`"runId":"${a.runId}"`));
    if (!anchored) p('archive', `archived history of ${a.workflowId} (run ${a.runId}) is not the one recorded in the chain`);
  }
  return { incidentId, records: size, checkpoints: checkpoints.length, unanchored, decisions, problems, warnings };
}

/** A decision record whose signed statement does not verify with the key it was taken with, or is not for this incident. */
function decisionProblem(incidentId: string, data: Record<string, unknown>): string | undefined {
  const signed = data.signed as { statement?: unknown; signature?: unknown; format?: unknown } | undefined;
  if (!signed) return data.via === 'unauthenticated' ? undefined : 'a signed decision without its statement';
  const parsed = parseStatement(signed.statement);
  if (!parsed.ok) return `statement does not parse: ${parsed.problems[0] ?? ''}`;
  const st = parsed.value;
  if (st.incidentId !== incidentId) return `statement is for incident ${st.incidentId}`;
  const key = typeof data.publicKey === 'string' ? decodeBase64(data.publicKey) : undefined;
  if (!key || keyIdOf(key) !== st.keyId) return `the key recorded with it is not ${st.keyId}`;
  const sig = typeof signed.signature === 'string' ? decodeBase64(signed.signature, 'url') : undefined;
  const good = sig && (signed.format === 'sshsig' ? verifySshSig(sig, statementBytes(st), key) : verifyEd25519(sig, statementBytes(st), key));
  return good ? undefined : `signature of ${st.responder}'s ${st.kind} does not verify with ${st.keyId}`;
}

function verifyGlobal(global: GlobalEntry[], byIncident: Map<string, StoredRecord[]>, scope: ReadonlySet<string> | undefined): Problem[] {
  const out: Problem[] = [];
  let prev = GENESIS;
  let expected = 0;
  for (const g of [...global].sort((a, b) => a.gseq - b.gseq)) {
    const p = (message: string): void => {
      out.push({ incidentId: g.incidentId, seq: g.gseq, what: 'global', message });
    };
    if (g.gseq !== expected) p(`global entries ${expected}–${g.gseq - 1} missing`);
    expected = g.gseq + 1;
    if (g.prevHash !== prev) p(`global entry ${g.gseq}: prev_hash is not the hash of the entry before`);
    if (globalHash(g, g.prevHash) !== g.hash) p(`global entry ${g.gseq}: contents do not match its hash (edited)`);
    prev = g.hash;
    if (scope && !scope.has(g.incidentId)) continue;
    const recs = byIncident.get(g.incidentId);
    if (!recs?.length) p(`global entry ${g.gseq} names incident ${g.incidentId} at ${g.size} records; it has none (deleted)`);
    else {
      const r = recs.find((x) => x.seq === g.size - 1);
      if (!r) p(`global entry ${g.gseq}: incident ${g.incidentId} has no record ${g.size - 1} (deleted)`);
      else if (r.hash !== g.head) p(`global entry ${g.gseq}: incident ${g.incidentId} record ${g.size - 1} does not hash to the recorded head (rewritten)`);
    }
  }
  return out;
}

function describeEdit(r: StoredRecord): string {
  return `${r.kind}${r.actor ? ` by ${r.actor}` : ''} at ${r.at}`;
}

function short(h: string): string {
  return h.slice(0, 12);
}

function groupBy<T>(xs: readonly T[], key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of xs) {
    const k = key(x);
    const list = m.get(k);
    if (list) list.push(x);
    else m.set(k, [x]);
  }
  return m;
}
