/**
 * Plain mrkdwn views of incidents for `/incident` replies (Block Kit builders come in
 * slack/blocks/). Everything from incident data is escaped: a note cannot @-mention the
 * channel, link elsewhere or draw a fake "approved" line.
 */
import { randomBytes } from 'node:crypto';
import type { IncidentSummary } from '../lib/incidents/types.js';
import type { IncidentStatus } from '../workflows/definitions.js';

/** Slack's three control characters in mrkdwn, escaped as its docs say. */
export const mrkdwn = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Text inside an inline code span: escaped, with backticks that would end the span removed. */
export const code = (text: string): string => `\`${mrkdwn(text).replace(/`/g, "'")}\``;

/** A short id tying an error shown to someone in Slack to the log line about it. */
export const correlationId = (): string => `fb-${randomBytes(5).toString('hex')}`;

export interface Reply {
  text: string;
  response_type: 'ephemeral' | 'in_channel';
  replace_original?: boolean;
}

export const ephemeral = (text: string): Reply => ({ response_type: 'ephemeral', text, replace_original: false });
export const inChannel = (text: string): Reply => ({ response_type: 'in_channel', text, replace_original: false });

/** A refusal or failure as the person sees it: the reason and the id that is also in the log. */
export const errorReply = (message: string, cid: string): Reply => ephemeral(`:no_entry: ${mrkdwn(message)}\n_ref ${cid}_`);

export function statusText(s: IncidentStatus, command: string): string {
  const lines = [
    `*${mrkdwn(s.id)}* ${mrkdwn(s.runbook.title)}`,
    `state *${mrkdwn(s.state)}* · phase ${mrkdwn(s.phase)} · ${mrkdwn(s.severity)} · ${mrkdwn(s.mode)} · target ${mrkdwn(s.target)}`,
    `declared by ${mrkdwn(s.declaredBy.user)} via ${mrkdwn(s.declaredBy.via)} at ${mrkdwn(s.declaredAt)}${s.identity && !s.identity.authenticated ? ' · *UNAUTHENTICATED*' : ''}`,
  ];
  if (s.abortReason) lines.push(`abort reason: ${mrkdwn(s.abortReason)}`);
  for (const st of s.steps) {
    const detail = st.error ? ` — ERROR ${mrkdwn(st.error)}` : st.summary ? ` — ${mrkdwn(st.summary)}` : '';
    lines.push(`• ${code(st.id)} ${mrkdwn(st.action)} _${mrkdwn(st.state)}_${detail}`);
  }
  for (const g of s.gates.filter((x) => x.state === 'open')) {
    const by = g.approvals.length ? `; approved by ${g.approvals.map((v) => mrkdwn(v.by)).join(', ')}` : '';
    const how = g.id === 'resolve' ? `${command} resolve ${s.id}` : `${command} approve ${s.id} ${g.id} --hash ${g.argsHash.slice(0, 12)}`;
    lines.push(`:raised_hand: gate ${code(g.id)}: ${g.approvals.length}/${g.required} from ${mrkdwn(g.group)}${by}; args ${code(g.argsHash.slice(0, 12))} ${code(JSON.stringify(g.args))}`, `    ${code(how)}`);
  }
  if (s.activeContainment.length) lines.push(`containment in force: ${mrkdwn(s.activeContainment.join(', '))}`);
  return lines.join('\n');
}

export function listText(items: IncidentSummary[], heading: string): string {
  if (!items.length) return `${heading}: none`;
  return [`*${heading}*`, ...items.map((i) => `• ${code(i.id)} ${mrkdwn(i.state ?? i.status.toLowerCase())} · ${mrkdwn(i.phase ?? '')} · ${mrkdwn(i.runbook ?? '')} · ${mrkdwn(i.severity ?? '')} · ${mrkdwn(i.mode ?? '')} · ${mrkdwn(i.startTime.slice(0, 16).replace('T', ' '))}`)].join('\n');
}
