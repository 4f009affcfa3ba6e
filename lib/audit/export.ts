/**
 * An incident's audit record for people and tools: Markdown (an auditor reads it), JSON
 * (everything, as stored) and CSV (a row per record). Built from the verified log only;
 * the values were masked when recorded, and are redacted once more on the way out.
 */
import { redactDecoded } from '../history/decode.js';
import type { IncidentVerdict, StoredRecord } from './verify.js';

export type ExportFormat = 'md' | 'json' | 'csv';

export interface ExportInput {
  incidentId: string;
  records: StoredRecord[];
  verdict: IncidentVerdict;
  archives: Array<{ workflowId: string; runId: string; sha256: string }>;
  exportedAt: string;
}

type Data = Record<string, unknown>;
/** A value as text: strings as they are, the rest as JSON. */
export const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v));
const data = (r: StoredRecord): Data => JSON.parse(r.payload) as Data;

export function renderExport(format: ExportFormat, input: ExportInput): string {
  // Value by value, so the JSON stays JSON; the stored payloads (and their hashes) are untouched.
  const x = { ...input, records: input.records.map((r) => ({ ...r, payload: JSON.stringify(redactDecoded(JSON.parse(r.payload), [])) })) };
  if (format === 'json') return JSON.stringify({ incidentId: x.incidentId, exportedAt: x.exportedAt, verified: x.verdict, archives: x.archives, records: x.records.map((r) => ({ seq: r.seq, at: r.at, kind: r.kind, actor: r.actor, hash: r.hash, data: data(r) })) }, null, 2);
  if (format === 'csv') return csv(x.records);
  return markdown(x);
}

const CSV_COLUMNS = ['seq', 'at', 'kind', 'actor', 'entry', 'step', 'action', 'state', 'message', 'key_id', 'via', 'signature', 'hash'] as const;

function csv(records: StoredRecord[]): string {
  const cell = (v: unknown): string => {
    const s = v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
    // A leading = + - @ would be a formula in a spreadsheet.
    const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
    return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
  };
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of records) {
    const d = data(r);
    const st = d.stepState as Data | undefined;
    const signed = d.signed as { signature?: string } | undefined;
    lines.push(
      [r.seq, r.at, r.kind, r.actor, d.kind, d.step, st?.action, st?.state, d.message ?? (r.kind === 'declared' ? `declared ${str((d.runbook as Data | undefined)?.name)}` : ''), d.keyId, d.via, signed?.signature, r.hash]
        .map(cell)
        .join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}

function markdown(x: ExportInput): string {
  const decl = x.records.find((r) => r.kind === 'declared');
  const d = decl ? data(decl) : {};
  const rb = (d.runbook ?? {}) as Data;
  const by = (d.declaredBy ?? {}) as Data;
  const identity = (d.identity ?? {}) as { declarer?: Data };
  const v = x.verdict;
  const out = [
    `# Audit record: incident ${x.incidentId}`,
    '',
    `Exported ${x.exportedAt}. Verification: **${v.problems.length ? `FAILED — ${v.problems[0]?.message}` : 'intact'}** (${v.records} records, ${v.checkpoints} signed checkpoints, ${v.decisions} decisions re-verified${v.unanchored ? `, ${v.unanchored} after the newest checkpoint` : ''}).`,
    '',
    '## Declaration',
    '',
    `- Declared by **${str(by.user ?? '?')}** on ${str(by.host ?? '?')} through ${str(by.via ?? '?')}${identity.declarer ? `, verified as ${str(identity.declarer.responder)} (${str(identity.declarer.via)}, key ${str(identity.declarer.keyId ?? 'none')})` : ''}`,
    `- At ${str(d.declaredAt ?? decl?.at ?? '?')}; ${str(d.severity ?? '?')}, mode ${str(d.mode ?? '?')}, target ${str(d.target ?? '?')}`,
    `- Runbook **${str(rb.name ?? '?')}** (${str(rb.file ?? '')}), SHA-256 \`${str(rb.sha256 ?? '?')}\``,
    `- Summary: ${str(d.summary ?? '')}`,
    `- Parameters: \`${JSON.stringify(d.params ?? {})}\``,
    ...(d.declaration ? [`- Signed declaration: key ${str(((d.declaration as Data).statement as Data | undefined)?.keyId)}, signature \`${str((d.declaration as Data).signature)}\``] : []),
    '',
    '## Record',
    '',
    '| # | at | what | who | details |',
    '|---|---|---|---|---|',
    ...x.records.filter((r) => r.kind !== 'declared').map((r) => `| ${r.seq} | ${r.at} | ${what(r)} | ${r.actor ?? ''} | ${details(r).replace(/\|/g, '\\|').replace(/\n/g, ' ')} |`),
    '',
    '## Archived histories',
    '',
    ...(x.archives.length ? x.archives.map((a) => `- ${a.workflowId} run ${a.runId}: SHA-256 \`${a.sha256}\``) : ['- none yet (archived when the incident and its children close)']),
    '',
    ...(v.warnings.length ? ['## Warnings', '', ...v.warnings.map((w) => `- ${w}`), ''] : []),
  ];
  return `${out.join('\n')}\n`;
}

function what(r: StoredRecord): string {
  const d = data(r);
  if (r.kind === 'decision') return `decision: ${str(d.kind)}`;
  if (r.kind === 'timeline') return `${str(d.kind)}${d.step ? ` ${str(d.step)}` : ''}`;
  return r.kind;
}

function details(r: StoredRecord): string {
  const d = data(r);
  if (r.kind === 'decision') {
    const signed = d.signed as { signature?: string; statement?: Data } | undefined;
    return signed ? `signed by key ${str(d.keyId)} (${str(d.via)}); statement \`${JSON.stringify(signed.statement)}\`; signature \`${str(signed.signature)}\`` : `unsigned (${str(d.via)})`;
  }
  if (r.kind === 'timeline') {
    const st = d.stepState as Data | undefined;
    const parts = [str(d.message ?? '')];
    if (st?.args) parts.push(`args \`${JSON.stringify(st.args)}\``);
    if (st?.proof) parts.push(`proof \`${JSON.stringify(st.proof)}\``);
    if (d.gate) parts.push(`gate \`${JSON.stringify(d.gate)}\``);
    return parts.join('; ');
  }
  if (r.kind === 'closed') return `state ${str(d.state)}, in force: ${JSON.stringify(d.activeContainment)}${d.abortReason ? `, abort reason: ${str(d.abortReason)}` : ''}`;
  if (r.kind === 'archived') return `history of ${str(d.workflowId)} archived (${str(d.events)} events, SHA-256 ${str(d.sha256)})`;
  return JSON.stringify(d);
}
