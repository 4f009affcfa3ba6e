/** Human-readable views of an incident. Pure functions of the status. */
import { PHASES, PHASE_TITLES } from '../lib/runbook/types.js';
import type { IncidentStatus, StepState } from '../workflows/definitions.js';
import type { IncidentSummary } from '../lib/incidents/types.js';

const MARK: Record<StepState, string> = {
  pending: '·',
  skipped: '-',
  'awaiting-approval': '?',
  running: '>',
  succeeded: '✓',
  failed: '✗',
  planned: '~',
  cancelled: '×',
  undone: '↺',
  overridden: '!',
};

/** Whether the worker verified the declarer's signature, or the target runs unauthenticated. */
function identityNote(s: IncidentStatus): string {
  if (!s.identity) return '';
  const d = s.identity.declarer;
  return s.identity.authenticated ? ` · signed ${d.keyId ?? '?'} (${d.via})` : ' · UNAUTHENTICATED (development target: names are as typed)';
}

/** The incident channel and what did (not) reach it. */
function slackLine(s: IncidentStatus): string {
  const n = s.notifications;
  const where = s.slack ? `#${s.slack.name} (${s.slack.channel})` : 'no channel yet';
  const counts = n ? [`${n.sent} event(s) posted`, ...(n.pending ? [`${n.pending} waiting`] : []), ...(n.missed.length ? [`${n.missed.length} missed (${n.missed.join(', ')})`] : [])] : [];
  return `Slack: ${[where, ...counts].join(' · ')}${n?.down ? ` — Slack down: ${n.down}` : ''}`;
}

export function renderStatus(s: IncidentStatus, opts: { timeline?: number } = {}): string {
  const lines = [
    `${s.id}  ${s.runbook.title}`,
    `  state ${s.state} · phase ${s.phase === 'done' ? 'done' : PHASE_TITLES[s.phase]} · ${s.severity} · ${s.mode} · target ${s.target}`,
    `  declared by ${s.declaredBy.user}@${s.declaredBy.host} via ${s.declaredBy.via} at ${s.declaredAt}${identityNote(s)}`,
    `  runbook ${s.runbook.name} sha256 ${s.runbook.sha256.slice(0, 12)}`,
  ];
  if (s.abortReason) lines.push(`  abort reason: ${s.abortReason}`);
  if (s.rejection?.length) {
    lines.push('', `Rejected before any step ran, nothing was done (${s.rejection.length} problem${s.rejection.length === 1 ? '' : 's'}):`);
    for (const p of s.rejection) lines.push(`  ${p.step} (${p.action}): ${p.message}`);
  }
  for (const phase of PHASES) {
    const steps = s.steps.filter((x) => x.phase === phase);
    lines.push('', `${PHASE_TITLES[phase]}${steps.length ? '' : '  (no steps)'}`);
    for (const st of steps) {
      const detail = st.error ? `ERROR ${st.error}` : st.summary ?? '';
      lines.push(`  ${MARK[st.state]} ${st.id.padEnd(18)} ${st.action.padEnd(18)} ${st.state.padEnd(17)} ${detail}`.trimEnd());
      if (st.waiting) lines.push(`      ${st.waiting}`);
      for (const p of st.plan ?? []) lines.push(`      plan: ${p}`);
    }
  }
  const open = s.gates.filter((g) => g.state === 'open');
  if (open.length) {
    lines.push('', 'Open gates');
    for (const g of open) {
      lines.push(`  ${g.id}: ${g.approvals.length}/${g.required} from group ${g.group}; args ${g.argsHash.slice(0, 12)} ${JSON.stringify(g.args)}`);
      if (g.approvals.length) lines.push(`    approved by ${g.approvals.map((v) => v.by).join(', ')}`);
      lines.push(`    approve: firebreak ${g.id === 'resolve' ? `resolve ${s.id}` : `approve ${s.id} ${g.id}`}`);
    }
  }
  for (const c of s.checklists ?? []) {
    lines.push('', `Checklist ${c.step} (rotate by hand, then: firebreak confirm ${s.id} ${c.step} <item>)`);
    for (const i of c.items) lines.push(`  ${i.state === 'open' ? '[ ]' : i.state === 'confirmed' ? '[x]' : '[~]'} ${i.name}${i.by ? ` — ${i.state} by ${i.by}${i.note ? `: ${i.note}` : ''}` : ''}`);
  }
  if (s.notice) lines.push('', `GDPR Art. 33 notice due by ${s.notice.deadline} (aware ${s.notice.awareAt}${s.notice.highRisk ? '; high risk: Art. 34 too' : ''}); record it with: firebreak notice-sent ${s.id}`);
  if (s.activeContainment.length) lines.push('', `Containment in force: ${s.activeContainment.join(', ')}`);
  if (s.slack || s.notifications) lines.push('', slackLine(s));
  const n = opts.timeline ?? 8;
  if (n > 0 && s.timeline.length) {
    const total = s.timelineTotal ?? s.timeline.length;
    const more = n > s.timeline.length && total > s.timeline.length ? `; status carries the newest ${s.timeline.length}, the post-mortem's timeline all of them` : '';
    lines.push('', `Timeline (last ${Math.min(n, s.timeline.length)} of ${total}${more})`);
    for (const t of s.timeline.slice(-n)) lines.push(`  ${t.at.slice(11, 23)}  ${t.message}`);
  }
  return lines.join('\n');
}

/** The stable `--json` shape of `status` (documented in the README). */
export function statusJson(s: IncidentStatus) {
  return {
    id: s.id,
    state: s.state,
    phase: s.phase,
    mode: s.mode,
    severity: s.severity,
    target: s.target,
    runbook: s.runbook,
    declaredBy: s.declaredBy,
    declaredAt: s.declaredAt,
    identity: s.identity ?? null,
    steps: s.steps.map((x) => ({ id: x.id, phase: x.phase, action: x.action, state: x.state, startedAt: x.startedAt ?? null, endedAt: x.endedAt ?? null, summary: x.summary ?? null, ...(x.effect ? { effect: x.effect } : {}), error: x.error ?? null, ...(x.waiting ? { waiting: x.waiting } : {}), proof: x.proof ?? null, plan: x.plan ?? null })),
    gates: s.gates.map((g) => ({ id: g.id, state: g.state, group: g.group, required: g.required, approvals: g.approvals, argsHash: g.argsHash, args: g.args, escalations: g.escalations })),
    activeContainment: s.activeContainment,
    checklists: s.checklists ?? [],
    notice: s.notice ?? null,
    timeline: s.timeline,
    timelineTotal: s.timelineTotal ?? s.timeline.length,
    abortReason: s.abortReason ?? null,
    rejection: s.rejection ?? null,
  };
}

export function renderList(items: IncidentSummary[]): string {
  if (!items.length) return 'no incidents';
  const rows = items.map((i) => [i.id, i.status.toLowerCase(), i.state ?? '', i.phase ?? '', i.runbook ?? '', i.severity ?? '', i.mode ?? '', i.startTime.slice(0, 19).replace('T', ' ')]);
  const head = ['ID', 'STATUS', 'STATE', 'PHASE', 'RUNBOOK', 'SEVERITY', 'MODE', 'STARTED (UTC)'];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const fmt = (r: string[]) => r.map((v, c) => v.padEnd(widths[c] ?? 0)).join('  ').trimEnd();
  return [fmt(head), ...rows.map(fmt)].join('\n');
}
