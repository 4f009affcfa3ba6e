/**
 * The Deny modal: asks why, for exactly the gate (incident, gate, argument hash) whose Deny
 * was clicked, and carries where that gate message is, so the submission can record the
 * reason as a signed note and update the message. Pure.
 */
import type { types } from '@slack/bolt';
import { TEXT_LIMITS, textProblem } from '../../lib/limits.js';
import { encodeGateValue, parseGateValue, type GateRef } from './gate-message.js';
import { md, mrkdwn, plain, plainText, SLACK_LIMITS } from './text.js';

/** `callback_id` of the Deny modal. */
export const DENY_CALLBACK_ID = 'firebreak.gate.deny';
/** `block_id` / `action_id` of the reason field. */
export const DENY_REASON_BLOCK = 'reason';
export const DENY_REASON_ACTION = 'value';

/** What `private_metadata` carries: the gate, and the message to update (channel and ts). */
export interface DenyMetadata extends GateRef {
  channel?: string;
  ts?: string;
}

export class DenyMetadataError extends Error {
  override name = 'DenyMetadataError';
}

const CHANNEL_ID = /^[A-Z0-9]{1,40}$/;
const MESSAGE_TS = /^\d{1,12}\.\d{1,8}$/;

export function encodeDenyMetadata(m: DenyMetadata): string {
  if (m.channel !== undefined && !CHANNEL_ID.test(m.channel)) throw new DenyMetadataError('channel is not a Slack channel id');
  if (m.ts !== undefined && !MESSAGE_TS.test(m.ts)) throw new DenyMetadataError('ts is not a Slack message timestamp');
  return JSON.stringify({ gate: encodeGateValue(m), ...(m.channel !== undefined && { channel: m.channel }), ...(m.ts !== undefined && { ts: m.ts }) });
}

/** `private_metadata` back; refuses anything {@link encodeDenyMetadata} would not have written. */
export function parseDenyMetadata(text: unknown): DenyMetadata {
  if (typeof text !== 'string' || text.length > SLACK_LIMITS.privateMetadata) throw new DenyMetadataError('modal metadata is missing or oversized');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new DenyMetadataError('modal metadata is not JSON');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new DenyMetadataError('modal metadata is not an object');
  const r = parsed as Record<string, unknown>;
  if (Object.keys(r).some((k) => !['gate', 'channel', 'ts'].includes(k))) throw new DenyMetadataError('modal metadata has unexpected fields');
  let ref: GateRef;
  try {
    ref = parseGateValue(r.gate);
  } catch (err) {
    throw new DenyMetadataError((err as Error).message);
  }
  if (r.channel !== undefined && (typeof r.channel !== 'string' || !CHANNEL_ID.test(r.channel))) throw new DenyMetadataError('modal metadata names no channel');
  if (r.ts !== undefined && (typeof r.ts !== 'string' || !MESSAGE_TS.test(r.ts))) throw new DenyMetadataError('modal metadata names no message');
  return { ...ref, ...(r.channel !== undefined && { channel: r.channel }), ...(r.ts !== undefined && { ts: r.ts }) };
}

export function denyModal(m: DenyMetadata): types.ModalView {
  return {
    type: 'modal',
    callback_id: DENY_CALLBACK_ID,
    title: plain('Deny a gate', SLACK_LIMITS.modalTitle),
    submit: plain('Deny', SLACK_LIMITS.modalButton),
    close: plain('Cancel', SLACK_LIMITS.modalButton),
    private_metadata: encodeDenyMetadata(m),
    blocks: [
      { type: 'section', text: mrkdwn(`Deny gate \`${md(m.gate, 80)}\` of \`${md(m.incidentId, 200)}\` (args \`${md(m.argsHash.slice(0, 12), 12)}\`).`) },
      {
        type: 'context',
        elements: [mrkdwn('Firebreak records your reason as a signed note on the incident and shows it on the gate. The gate stays open: to stop the incident, abort it.')],
      },
      {
        type: 'input',
        block_id: DENY_REASON_BLOCK,
        label: plain('Why deny?', SLACK_LIMITS.inputLabel),
        element: { type: 'plain_text_input', action_id: DENY_REASON_ACTION, multiline: true, max_length: TEXT_LIMITS.reason },
      },
    ],
  };
}

export type DenyParse = { ok: true; reason: string } | { ok: false; errors: Record<string, string> };

/** The reason typed in the Deny modal (`view.state.values`), or the error to show on its field. */
export function parseDenySubmission(values: unknown): DenyParse {
  const block = values && typeof values === 'object' ? (values as Record<string, unknown>)[DENY_REASON_BLOCK] : undefined;
  const field = block && typeof block === 'object' ? (block as Record<string, unknown>)[DENY_REASON_ACTION] : undefined;
  const value = field && typeof field === 'object' ? (field as { value?: unknown }).value : undefined;
  const fail = (message: string): DenyParse => ({ ok: false, errors: { [DENY_REASON_BLOCK]: plainText(message, 500) } });
  if (value !== undefined && value !== null && typeof value !== 'string') return fail('The reason must be text.');
  const reason = typeof value === 'string' ? value.trim() : '';
  if (!reason) return fail('Say why: the reason is recorded on the incident.');
  const problem = textProblem('reason', reason, 'The reason');
  return problem ? fail(problem) : { ok: true, reason };
}
