/**
 * A gate as a Slack message: what the approver sees (arguments as the status shows them,
 * the hash, who approved), Approve / Deny buttons whose value names exactly the incident, gate
 * and hash, and a parser that refuses any value Firebreak did not render.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { argsHash } from '../../lib/canonical.js';
import { fingerprint } from '../../lib/runbook/sensitive.js';
import { encodeGateValue, GATE_APPROVE_ACTION, GATE_DENY_ACTION, gateMessage, GateValueError, parseGateValue, type GateRef } from '../../slack/blocks/gate-message.js';
import { SLACK_LIMITS } from '../../slack/blocks/text.js';
import type { GateStatus, IncidentStatus } from '../../workflows/definitions.js';
import { allTexts, livePings, shapeProblems } from './slack-blocks-shape.js';

const recorded = JSON.parse(readFileSync(new URL('../fixtures/incident-status.json', import.meta.url), 'utf8')) as IncidentStatus;

function awaiting(): { s: IncidentStatus; gate: GateStatus } {
  const s = structuredClone(recorded);
  s.state = 'awaiting-approval';
  s.phase = 'containment';
  const gate = s.gates[0] as GateStatus;
  gate.state = 'open';
  gate.approvals = gate.approvals.slice(0, 1);
  return { s, gate };
}

type Button = { type: 'button'; action_id: string; value: string; style?: string };
const buttons = (blocks: unknown[]): Button[] =>
  blocks.flatMap((b) => ((b as { type: string }).type === 'actions' ? ((b as { elements: Button[] }).elements ?? []) : []));

describe('gate message', () => {
  it('shows the step, action, arguments, hash and approvals, with Approve / Deny carrying exactly the gate', () => {
    const { s, gate } = awaiting();
    const msg = gateMessage(s, gate);
    expect(shapeProblems(msg.blocks, 'message')).toEqual([]);
    const text = allTexts(msg).join('\n');
    expect(text).toContain(`:raised_hand: *Approval needed*: step \`lockdown\` (lockdown.enable) of \`${s.id}\` — 1/2 from group \`responders\``);
    expect(text).toContain('*Arguments*\n```{\n  "reason": "refresh token of agent 4217 leaked in ticket #88231"\n}```');
    expect(text).toContain(`args hash \`${gate.argsHash.slice(0, 12)}\``);
    expect(text).not.toContain(gate.argsHash.slice(0, 13));
    expect(text).toContain('*Approved by*\n• alice at 2026-03-14T02:51:40.102Z');
    expect(text).toContain(`or: \`/incident approve ${s.id} lockdown\``);
    const [approve, deny] = buttons(msg.blocks);
    expect(approve).toMatchObject({ action_id: GATE_APPROVE_ACTION, style: 'primary' });
    expect(deny).toMatchObject({ action_id: GATE_DENY_ACTION, style: 'danger' });
    for (const b of [approve, deny]) {
      expect(b?.value).toBe(JSON.stringify({ incidentId: s.id, gate: 'lockdown', argsHash: gate.argsHash }));
      expect(parseGateValue(b?.value)).toEqual({ incidentId: s.id, gate: 'lockdown', argsHash: gate.argsHash });
    }
    expect(msg.text).toBe(`${s.id}: lockdown (lockdown.enable) approval needed, 1/2 from responders, args ${gate.argsHash.slice(0, 12)}`);
  });

  it('the all-clear gate names resolve', () => {
    const { s } = awaiting();
    s.state = 'awaiting-resolve';
    const gate = { ...(s.gates[1] as GateStatus), state: 'open' as const, approvals: [] };
    const msg = gateMessage(s, gate, { command: '/inc' });
    const text = allTexts(msg).join('\n');
    expect(text).toContain(`*Approval needed*: the all-clear of \`${s.id}\` — 0/1`);
    expect(text).toContain(`or: \`/inc resolve ${s.id}\``);
    expect(parseGateValue(buttons(msg.blocks)[0]?.value).gate).toBe('resolve');
  });

  it('a decided or cancelled gate, or one of an ended incident, renders without buttons', () => {
    const { s, gate } = awaiting();
    const approved = gateMessage(s, { ...gate, state: 'approved', approvals: (recorded.gates[0] as GateStatus).approvals });
    expect(buttons(approved.blocks)).toEqual([]);
    expect(allTexts(approved).join('\n')).toContain(':white_check_mark: *Approved*');
    expect(allTexts(approved).join('\n')).toContain('• alice at 2026-03-14T02:51:40.102Z\n• bob at 2026-03-14T02:53:05.877Z');
    const cancelled = gateMessage(s, { ...gate, state: 'cancelled' });
    expect(buttons(cancelled.blocks)).toEqual([]);
    expect(allTexts(cancelled).join('\n')).toContain(':no_entry_sign: *Cancelled*');
    const aborted = gateMessage({ ...s, state: 'aborted' }, gate);
    expect(buttons(aborted.blocks)).toEqual([]);
    expect(allTexts(aborted).join('\n')).toContain('*No longer open* (incident aborted)');
    for (const m of [approved, cancelled, aborted]) expect(shapeProblems(m.blocks, 'message')).toEqual([]);
  });

  it('shows sensitive arguments as the status does (fingerprints), and incident text pings nobody', () => {
    const { s, gate } = awaiting();
    const fp = fingerprint('s3cr3t-token');
    gate.args = { reason: `leaked ${fp} <!channel> <@U123> @here`, jtis: [fp] };
    gate.approvals[0]!.by = '<!everyone>';
    gate.group = '<#C1>';
    const msg = gateMessage(s, gate);
    const texts = allTexts(msg);
    expect(livePings(texts)).toEqual([]);
    expect(texts.join('\n')).toContain(`"reason": "leaked ${fp} &lt;!channel&gt; &lt;@U123&gt; @\u2060here"`);
    expect(texts.join('\n')).not.toContain('s3cr3t-token');
  });

  it('cuts huge arguments on a line boundary, says so, and the buttons still carry the full hash', () => {
    const { s, gate } = awaiting();
    gate.args = { addresses: Array.from({ length: 2000 }, (_, i) => `203.0.113.${i % 256}/32`), note: '<&>'.repeat(3000) };
    gate.argsHash = argsHash('network.ban_ips', gate.args);
    gate.approvals = Array.from({ length: 200 }, (_, i) => ({ by: `responder-${i}-${'z'.repeat(100)}`, host: 'h', at: '2026-03-14T02:51:40.102Z', via: 'slack' }));
    const msg = gateMessage(s, gate);
    expect(shapeProblems(msg.blocks, 'message')).toEqual([]);
    const text = allTexts(msg).join('\n');
    expect(text).toMatch(/… \d+ more lines```\n_\(arguments cut for Slack; the hash covers all of them: `\/incident status INC-[^`]+`\)_/);
    expect(text).toMatch(/_…and \d+ more approvals_/);
    expect(text).not.toMatch(/&(?!amp;|lt;|gt;)/);
    expect(parseGateValue(buttons(msg.blocks)[0]?.value).argsHash).toBe(gate.argsHash);
  });
});

describe('gate button value', () => {
  const ref: GateRef = { incidentId: 'INC-20260314-k3v9qa', gate: 'revoke-all', argsHash: 'a'.repeat(64) };

  it('round-trips exactly {incidentId, gate, argsHash} as compact JSON', () => {
    const value = encodeGateValue(ref);
    expect(value).toBe('{"incidentId":"INC-20260314-k3v9qa","gate":"revoke-all","argsHash":"' + 'a'.repeat(64) + '"}');
    expect(value.length).toBeLessThanOrEqual(SLACK_LIMITS.buttonValue);
    expect(parseGateValue(value)).toEqual(ref);
    // Longest possible reference still fits a button.
    expect(encodeGateValue({ incidentId: 'I'.repeat(200), gate: 'g'.repeat(200), argsHash: 'f'.repeat(64) }).length).toBeLessThanOrEqual(SLACK_LIMITS.buttonValue);
  });

  it('refuses forged, altered and oversized values with a reason', () => {
    const forged: Array<[unknown, RegExp]> = [
      [undefined, /missing/],
      [42, /missing/],
      ['x'.repeat(2001), /2001 characters/],
      [JSON.stringify({ ...ref, pad: 'x'.repeat(2000) }), /characters, more than Slack allows/],
      ['{"incidentId":', /not JSON/],
      ['null', /not an object/],
      ['[1,2,3]', /not an object/],
      [JSON.stringify({ incidentId: ref.incidentId, gate: ref.gate }), /expected exactly argsHash, gate, incidentId/],
      [JSON.stringify({ ...ref, approver: 'alice' }), /expected exactly/],
      [JSON.stringify({ ...ref, argsHash: 'A'.repeat(64) }), /argsHash is not a SHA-256/],
      [JSON.stringify({ ...ref, argsHash: 'a'.repeat(63) }), /argsHash/],
      [JSON.stringify({ ...ref, argsHash: 12 }), /argsHash/],
      [JSON.stringify({ ...ref, incidentId: '../../etc' }), /incidentId is not an incident id/],
      [JSON.stringify({ ...ref, incidentId: 'INC 1' }), /incidentId/],
      [JSON.stringify({ ...ref, gate: 'Revoke' }), /gate is not a gate name/],
      [JSON.stringify({ ...ref, gate: ['revoke-all'] }), /gate/],
      [JSON.stringify({ ...ref, gate: 'g'.repeat(201) }), /gate/],
      // Same reference, other spelling: only Firebreak's own encoding is taken.
      [JSON.stringify({ gate: ref.gate, incidentId: ref.incidentId, argsHash: ref.argsHash }), /canonical/],
      [JSON.stringify(ref, null, 1), /canonical/],
      ['{"incidentId":"INC-20260314-k3v9qa","gate":"revoke-all","argsHash":"' + 'a'.repeat(64) + '","argsHash":"' + 'b'.repeat(64) + '"}', /canonical/],
    ];
    for (const [value, why] of forged) {
      expect(() => parseGateValue(value), String(value).slice(0, 80)).toThrow(GateValueError);
      expect(() => parseGateValue(value), String(value).slice(0, 80)).toThrow(why);
    }
    expect(() => encodeGateValue({ ...ref, gate: 'Bad Gate' })).toThrow(GateValueError);
    expect(() => encodeGateValue({ ...ref, extra: 1 } as GateRef)).not.toThrow();
    expect(encodeGateValue({ ...ref, extra: 1 } as GateRef)).toBe(encodeGateValue(ref));
  });
});
