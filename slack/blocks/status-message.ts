/**
 * The pinned live status message of an incident: the facts `firebreak status` prints
 * (cli/render.ts), as Block Kit. Whatever the status holds (200 steps, 4 kB notes, pings
 * typed into a reason) it stays within Slack's limits and pings nobody. Pure.
 */
import type { types } from '@slack/bolt';
import { PHASES, PHASE_TITLES } from '../../lib/runbook/types.js';
import type { GateStatus, IncidentState, IncidentStatus, StepState, StepStatus } from '../../workflows/definitions.js';
import { count, link, linesWithin, md, mrkdwn, plain, SLACK_LIMITS } from './text.js';

export const STEP_EMOJI: Record<StepState, string> = {
  pending: ':white_circle:',
  skipped: ':fast_forward:',
  'awaiting-approval': ':raised_hand:',
  running: ':arrows_counterclockwise:',
  succeeded: ':white_check_mark:',
  failed: ':x:',
  planned: ':memo:',
  cancelled: ':no_entry_sign:',
  undone: ':leftwards_arrow_with_hook:',
  overridden: ':warning:',
};

export const STATE_EMOJI: Record<IncidentState, string> = {
  running: ':arrows_counterclockwise:',
  'awaiting-approval': ':raised_hand:',
  blocked: ':octagonal_sign:',
  'awaiting-resolve': ':hourglass_flowing_sand:',
  resolving: ':arrows_counterclockwise:',
  aborting: ':rewind:',
  'rolling-back': ':rewind:',
  aborted: ':no_entry_sign:',
  rejected: ':no_entry:',
  completed: ':white_check_mark:',
};

export interface StatusMessageOptions {
  /** Newest timeline entries shown (default 5, at most 20). */
  timeline?: number;
  /** The slash command named in hints (default `/incident`). */
  command?: string;
  /** A post-mortem link known to the caller; otherwise taken from the `report.postmortem` step's proof. */
  postmortemUrl?: string;
}

export interface SlackMessage {
  /** The notification and screen-reader fallback (mrkdwn-escaped). */
  text: string;
  blocks: types.KnownBlock[];
}

const T = SLACK_LIMITS.text;
/** The note that stands for `n` dropped lines. */
const more = (noun: string, hint = '', plural = `${noun}s`) => (n: number) => `_…and ${n} more ${n === 1 ? noun : plural}${hint}_`;

function phaseName(s: Pick<IncidentStatus, 'phase'>): string {
  return s.phase === 'done' ? 'done' : PHASE_TITLES[s.phase];
}

/** One step: its line, and up to 3 plan lines of a dry run. */
function stepLine(st: StepStatus): string {
  const detail = st.error ? `ERROR ${st.error}` : (st.summary ?? '');
  const head = `${STEP_EMOJI[st.state]} \`${md(st.id, 80)}\` ${md(st.action, 60)} — ${st.state}${detail ? `: ${md(detail, 300)}` : ''}`;
  const plans = (st.plan ?? []).slice(0, 3).map((p) => `      plan: ${md(p, 200)}`);
  if ((st.plan?.length ?? 0) > 3) plans.push(`      _…and ${count((st.plan?.length ?? 0) - 3, 'more plan line')}_`);
  return [head, ...plans].join('\n');
}

function section(text: string): types.SectionBlock {
  return { type: 'section', text: mrkdwn(text) };
}

function gateLine(g: GateStatus, id: string, command: string): string {
  const approve = g.id === 'resolve' ? `${command} resolve ${id}` : `${command} approve ${id} ${g.id}`;
  const by = g.approvals.length ? `; approved by ${md(g.approvals.map((v) => v.by).join(', '), 400)}` : '';
  return `:raised_hand: \`${md(g.id, 80)}\`: ${g.approvals.length}/${g.required} from group \`${md(g.group, 80)}\`; args \`${md(g.argsHash.slice(0, 12), 12)}\`${by} — \`${md(approve, 300)}\``;
}

/** The post-mortem line of a completed incident, from the caller's link or the `report.postmortem` step. */
function postmortemLine(s: IncidentStatus, url?: string): string | undefined {
  if (url) return `:page_facing_up: *Post-mortem:* ${link(url, 'post-mortem')}`;
  const step = s.steps.find((x) => x.action === 'report.postmortem' && x.state === 'succeeded');
  if (!step) return undefined;
  const issue = step.proof?.issue as { url?: unknown; number?: unknown } | undefined;
  if (issue && typeof issue.url === 'string') return `:page_facing_up: *Post-mortem:* ${link(issue.url, `GitHub issue #${typeof issue.number === 'number' ? issue.number : '?'}`)}`;
  return `:page_facing_up: *Post-mortem:* ${md(step.summary ?? 'written to the evidence folder', 1000)}`;
}

/** The incident's one-line fallback (notifications, screen readers). */
export function statusText(s: IncidentStatus): string {
  const drill = s.mode === 'drill' ? '[DRILL] ' : '';
  return md(`${drill}${s.id} ${s.runbook.title}: ${s.state}, phase ${phaseName(s)}, ${s.severity}, ${s.mode}, target ${s.target}`, SLACK_LIMITS.fallbackText);
}

/** Slack's limit on a channel topic. */
export const TOPIC_MAX = 250;

/** The incident channel's topic: id, state, severity, phase (only Firebreak's own words, nothing typed by people). */
export function statusTopic(s: Pick<IncidentStatus, 'id' | 'state' | 'severity' | 'phase' | 'mode'>): string {
  return md(`${s.mode === 'drill' ? '[DRILL] ' : ''}${s.id} · ${s.state} · ${s.severity} · phase ${phaseName(s)}`, TOPIC_MAX);
}

/** The live status message of an incident (for `chat.postMessage` / `chat.update`). */
export function statusMessage(s: IncidentStatus, opts: StatusMessageOptions = {}): SlackMessage {
  const command = opts.command ?? '/incident';
  const blocks: types.KnownBlock[] = [];
  const drill = s.mode === 'drill' ? '[DRILL] ' : '';
  blocks.push({ type: 'header', text: plain(`${drill}${s.id} · ${s.runbook.title}`, SLACK_LIMITS.headerText) });
  const d = s.declaredBy;
  const fields: Array<[string, string]> = [
    ['State', `${STATE_EMOJI[s.state]} ${s.state}`],
    ['Phase', phaseName(s)],
    ['Severity', s.severity],
    ['Mode', s.mode],
    ['Target', s.target],
    ['Declared by', `${d.user}@${d.host} via ${d.via} at ${s.declaredAt}`],
  ];
  blocks.push({ type: 'section', fields: fields.map(([k, v]) => mrkdwn(`*${k}*\n${md(v, 1000)}`)) });
  const identity = !s.identity
    ? undefined
    : s.identity.authenticated
      ? `signed ${s.identity.declarer.keyId ?? '?'} (${s.identity.declarer.via})`
      : 'UNAUTHENTICATED (development target: names are as typed)';
  blocks.push({
    type: 'context',
    elements: [mrkdwn(md(`runbook ${s.runbook.name} sha256 ${s.runbook.sha256.slice(0, 12)}${identity ? ` · ${identity}` : ''}`, 1000))],
  });
  if (s.summary) blocks.push(section(`*Summary:* ${md(s.summary, T - 20)}`));
  if (s.abortReason) blocks.push(section(`*Abort reason:* ${md(s.abortReason, T - 20)}`));
  if (s.rejection?.length) {
    const head = `*Rejected before any step ran, nothing was done* (${count(s.rejection.length, 'problem')}):`;
    const lines = s.rejection.map((p) => `• \`${md(p.step, 80)}\` (${md(p.action, 60)}): ${md(p.message, 400)}`);
    blocks.push(section(`${head}\n${linesWithin(lines, T - head.length - 1, more('problem'))}`));
  }
  blocks.push({ type: 'divider' });
  const hint = ` (\`${md(`${command} status ${s.id}`, 200)}\` shows each)`;
  for (const phase of PHASES) {
    const steps = s.steps.filter((x) => x.phase === phase);
    const title = `*${md(PHASE_TITLES[phase])}*${steps.length ? '' : '  _(no steps)_'}`;
    const lines = steps.map(stepLine);
    blocks.push(section(lines.length ? `${title}\n${linesWithin(lines, T - title.length - 1, more('step', hint))}` : title));
  }
  const open = s.gates.filter((g) => g.state === 'open');
  if (open.length) {
    const title = '*Open gates*';
    blocks.push(section(`${title}\n${linesWithin(open.map((g) => gateLine(g, s.id, command)), T - title.length - 1, more('open gate', hint))}`));
  }
  const passed = s.gates.filter((g) => g.state === 'approved');
  if (passed.length) {
    const title = '*Approved*';
    const lines = passed.map((g) => `:white_check_mark: \`${md(g.id, 80)}\` by ${md(g.approvals.map((v) => v.by).join(', ') || 'nobody', 400)}`);
    blocks.push(section(`${title}\n${linesWithin(lines, T - title.length - 1, more('approved gate', hint))}`));
  }
  const checklists = s.checklists ?? [];
  if (checklists.length) {
    const lines = checklists.flatMap((c) => [
      `*Checklist \`${md(c.step, 80)}\`* (rotate by hand, then \`${md(`firebreak confirm ${s.id} ${c.step} <item>`, 300)}\`)`,
      ...c.items.map((i) => {
        const mark = i.state === 'open' ? ':white_large_square:' : i.state === 'confirmed' ? ':ballot_box_with_check:' : ':heavy_minus_sign:';
        return `${mark} ${md(i.name, 200)}${i.by ? ` — ${i.state} by ${md(i.by, 100)}${i.note ? `: ${md(i.note, 300)}` : ''}` : ''}`;
      }),
    ]);
    blocks.push(section(linesWithin(lines, T, more('checklist line', hint))));
  }
  if (s.notice) {
    const n = s.notice;
    blocks.push(section(md(`GDPR Art. 33 notice due by ${n.deadline} (aware ${n.awareAt}${n.highRisk ? '; high risk: Art. 34 too' : ''})`, 1000)));
  }
  if (s.activeContainment.length) {
    const title = ':shield: *Containment in force:*';
    blocks.push(section(`${title}\n${linesWithin(s.activeContainment.map((c) => `• ${md(c, 300)}`), T - title.length - 1, more('step'))}`));
  }
  const n = Math.max(0, Math.min(opts.timeline ?? 5, 20));
  if (n > 0 && s.timeline.length) {
    const total = s.timelineTotal ?? s.timeline.length;
    const shown = s.timeline.slice(-n);
    const title = `*Timeline* (last ${shown.length} of ${total})`;
    const lines = shown.map((t) => `\`${md(t.at.slice(11, 19), 8)}\` ${md(t.message, 400)}`);
    blocks.push(section(`${title}\n${linesWithin(lines, T - title.length - 1, more('entry', '', 'entries'), 'last')}`));
  }
  if (s.state === 'completed') {
    const pm = postmortemLine(s, opts.postmortemUrl);
    if (pm) blocks.push(section(pm));
  }
  return { text: statusText(s), blocks: blocks.slice(0, SLACK_LIMITS.messageBlocks) };
}
