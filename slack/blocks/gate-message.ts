/**
 * An approval gate as a Slack message: the step, its action, its resolved arguments as the
 * status shows them (sensitive values already fingerprints), the hash approvers are bound
 * to, who approved so far, and Approve / Deny buttons. A button's value names exactly the
 * incident, gate and argument hash it was rendered for; the click handler parses it back with
 * {@link parseGateValue} and the workflow still judges the vote. Pure.
 */
import type { types } from '@slack/bolt';
import type { GateStatus, IncidentStatus } from '../../workflows/definitions.js';
import { STEP_ID } from '../../lib/runbook/schema.js';
import type { SlackMessage } from './status-message.js';
import { count, linesWithin, md, mrkdwn, plain, SLACK_LIMITS } from './text.js';

/** `action_id` of the Approve button (stable: listeners match it). */
export const GATE_APPROVE_ACTION = 'firebreak.gate.approve';
/** `action_id` of the Deny button (stable: listeners match it). */
export const GATE_DENY_ACTION = 'firebreak.gate.deny';
/** `block_id` of the buttons' actions block. */
export const GATE_ACTIONS_BLOCK = 'firebreak.gate.actions';

/** What a gate button's value carries, and nothing else. */
export interface GateRef {
  incidentId: string;
  gate: string;
  argsHash: string;
}

/** A gate button value that is not one Firebreak rendered. */
export class GateValueError extends Error {
  override name = 'GateValueError';
}

// The ids toWorkflowId accepts, gate names a runbook may use, and a full SHA-256.
const INCIDENT_ID = /^[A-Za-z0-9._-]{1,200}$/;
const HASH = /^[0-9a-f]{64}$/;
const KEYS = ['argsHash', 'gate', 'incidentId'];

function refProblem(ref: Record<string, unknown>): string | undefined {
  const keys = Object.keys(ref).sort();
  if (keys.length !== KEYS.length || keys.some((k, i) => k !== KEYS[i])) return `expected exactly ${KEYS.join(', ')}`;
  if (typeof ref.incidentId !== 'string' || !INCIDENT_ID.test(ref.incidentId)) return 'incidentId is not an incident id';
  if (typeof ref.gate !== 'string' || ref.gate.length > 200 || !STEP_ID.test(ref.gate)) return 'gate is not a gate name';
  if (typeof ref.argsHash !== 'string' || !HASH.test(ref.argsHash)) return 'argsHash is not a SHA-256 hex digest';
  return undefined;
}

/** The button value for a gate: compact JSON of exactly {incidentId, gate, argsHash}. */
export function encodeGateValue(ref: GateRef): string {
  const plainRef = { incidentId: ref.incidentId, gate: ref.gate, argsHash: ref.argsHash };
  const problem = refProblem(plainRef);
  if (problem) throw new GateValueError(`cannot make a gate button: ${problem}`);
  const value = JSON.stringify(plainRef);
  if (value.length > SLACK_LIMITS.buttonValue) throw new GateValueError(`cannot make a gate button: value of ${value.length} characters`);
  return value;
}

/**
 * A gate button value back into its reference.
 * @throws GateValueError for anything {@link encodeGateValue} would not have produced
 * (not a string, oversized, not JSON, other or extra keys, malformed id, gate or hash).
 */
export function parseGateValue(value: unknown): GateRef {
  if (typeof value !== 'string') throw new GateValueError('gate button value is missing');
  if (value.length > SLACK_LIMITS.buttonValue) throw new GateValueError(`gate button value is ${value.length} characters, more than Slack allows (${SLACK_LIMITS.buttonValue})`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new GateValueError('gate button value is not JSON');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new GateValueError('gate button value is not an object');
  const ref = parsed as Record<string, unknown>;
  const problem = refProblem(ref);
  if (problem) throw new GateValueError(`gate button value refused: ${problem}`);
  const out = { incidentId: ref.incidentId as string, gate: ref.gate as string, argsHash: ref.argsHash as string };
  // Only the canonical encoding: the same reference never travels in two spellings.
  if (JSON.stringify(out) !== value) throw new GateValueError('gate button value refused: not in canonical form');
  return out;
}

export interface GateMessageOptions {
  /** The slash command named in hints (default `/incident`). */
  command?: string;
  /** Denials of this gate (signed notes, see {@link gateDenials}): shown, while the gate stays open. */
  denials?: readonly GateDenial[];
}

/** A Deny: it has no workflow counterpart, so it is a signed note on the incident, {@link denialNote}. */
export interface GateDenial {
  by: string;
  reason: string;
  at: string;
}

/** The note a Deny records. */
export const denialNote = (gate: string, reason: string): string => `denied gate ${gate}: ${reason}`;

/** The denials of a gate since it opened, read back from the incident's timeline notes. */
export function gateDenials(s: Pick<IncidentStatus, 'timeline'>, gate: Pick<GateStatus, 'id' | 'openedAt'>): GateDenial[] {
  const prefix = denialNote(gate.id, '');
  return s.timeline
    .filter((t) => t.kind === 'note' && t.by !== undefined && t.message.startsWith(prefix) && t.at >= gate.openedAt)
    .map((t) => ({ by: t.by as string, reason: t.message.slice(prefix.length), at: t.at }));
}

const ENDED = new Set<IncidentStatus['state']>(['completed', 'aborted', 'rejected']);

/** The pretty-printed arguments in a code block within `max` characters (whole lines dropped, with a pointer to the full status). */
function argsBlock(args: Record<string, unknown>, max: number, where: string): string {
  const raw = (JSON.stringify(args, null, 2) ?? '{}').split('\n');
  const lines = raw.map((line) => md(line, 500));
  const cut = raw.some((line, i) => md(line, Number.MAX_SAFE_INTEGER) !== lines[i]);
  const note = `\n_(arguments cut for Slack; the hash covers all of them: ${where})_`;
  const all = lines.join('\n');
  const fence = (body: string) => `\`\`\`${body}\`\`\``;
  if (fence(all).length <= max && !cut) return fence(all);
  return fence(linesWithin(lines, max - note.length - 6, (n) => `… ${count(n, 'more line')}`)) + note;
}

/**
 * The message for one gate of an incident. An open gate of a running incident gets the
 * Approve / Deny buttons; an approved or cancelled gate, or one of an ended incident,
 * renders without them and says why.
 */
export function gateMessage(s: Pick<IncidentStatus, 'id' | 'state' | 'mode' | 'steps'>, gate: GateStatus, opts: GateMessageOptions = {}): SlackMessage {
  const command = opts.command ?? '/incident';
  const step = s.steps.find((x) => x.id === gate.id);
  const action = gate.id === 'resolve' ? 'the all-clear (lifts containment, then phase IV)' : (step?.action ?? 'unknown action');
  const drill = s.mode === 'drill' ? '[DRILL] ' : '';
  const what = gate.id === 'resolve' ? 'the all-clear' : `step \`${md(gate.id, 80)}\` (${md(action, 80)})`;
  const open = gate.state === 'open' && !ENDED.has(s.state);
  const verdict =
    gate.state === 'approved'
      ? ':white_check_mark: *Approved*'
      : gate.state === 'cancelled'
        ? ':no_entry_sign: *Cancelled*'
        : open
          ? ':raised_hand: *Approval needed*'
          : `:no_entry_sign: *No longer open* (incident ${s.state})`;
  const blocks: types.KnownBlock[] = [];
  const head = `${verdict}: ${md(drill)}${what} of \`${md(s.id, 200)}\` — ${gate.approvals.length}/${gate.required} from group \`${md(gate.group, 80)}\``;
  blocks.push({ type: 'section', text: mrkdwn(head) });
  const where = `\`${md(`${command} status ${s.id}`, 250)}\``;
  blocks.push({ type: 'section', text: mrkdwn(`*Arguments*\n${argsBlock(gate.args, SLACK_LIMITS.text - 15, where)}`) });
  const facts = [`args hash \`${md(gate.argsHash.slice(0, 12), 12)}\``, `opened ${md(gate.openedAt, 40)}`];
  if (gate.escalations) facts.push(`escalated ${count(gate.escalations, 'time')}`);
  blocks.push({ type: 'context', elements: [mrkdwn(facts.join(' · '))] });
  if (gate.approvals.length) {
    const title = '*Approved by*';
    const lines = gate.approvals.map((v) => `• ${md(v.by, 200)}${v.via ? ` via ${md(v.via, 40)}` : ''}${v.keyId ? ` (key ${md(v.keyId, 80)})` : ''} at ${md(v.at, 40)}`);
    blocks.push({ type: 'section', text: mrkdwn(`${title}\n${linesWithin(lines, SLACK_LIMITS.text - title.length - 1, (n) => `_…and ${count(n, 'more approval')}_`)}`) });
  }
  const denials = opts.denials ?? [];
  if (denials.length) {
    const title = '*Denied by*';
    const lines = denials.map((d) => `• ${md(d.by, 200)} at ${md(d.at, 40)}: ${md(d.reason, 1000)}`);
    blocks.push({ type: 'section', text: mrkdwn(`${title}\n${linesWithin(lines, SLACK_LIMITS.text - title.length - 1, (n) => `_…and ${count(n, 'more denial')}_`)}`) });
    if (open) blocks.push({ type: 'context', elements: [mrkdwn(`A denial is a note: the gate stays open. To stop the incident: \`${md(`${command} abort ${s.id} <reason>`, 400)}\``)] });
  }
  if (open) {
    const value = encodeGateValue({ incidentId: s.id, gate: gate.id, argsHash: gate.argsHash });
    blocks.push({
      type: 'actions',
      block_id: GATE_ACTIONS_BLOCK,
      elements: [
        { type: 'button', action_id: GATE_APPROVE_ACTION, text: plain('Approve', SLACK_LIMITS.buttonText), style: 'primary', value },
        { type: 'button', action_id: GATE_DENY_ACTION, text: plain('Deny', SLACK_LIMITS.buttonText), style: 'danger', value },
      ],
    });
    const text = gate.id === 'resolve' ? `${command} resolve ${s.id}` : `${command} approve ${s.id} ${gate.id}`;
    blocks.push({ type: 'context', elements: [mrkdwn(`or: \`${md(text, 400)}\``)] });
  }
  const fallbackState = open ? 'approval needed' : gate.state === 'open' ? `no longer open (incident ${s.state})` : gate.state;
  const denied = denials.length ? `, denied by ${[...new Set(denials.map((d) => d.by))].join(', ')}` : '';
  const fallback = md(`${drill}${s.id}: ${gate.id === 'resolve' ? 'all-clear' : `${gate.id} (${action})`} ${fallbackState}, ${gate.approvals.length}/${gate.required} from ${gate.group}${denied}, args ${gate.argsHash.slice(0, 12)}`, SLACK_LIMITS.fallbackText);
  return { text: fallback, blocks };
}
