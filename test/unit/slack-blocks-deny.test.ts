/**
 * Deny on a gate: the modal asks why for exactly the gate clicked and carries where its
 * message is; the reason is judged before anything is recorded; denials read back from the
 * incident's notes show on the gate message, which keeps its buttons (the gate stays open).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DENY_CALLBACK_ID, denyModal, DenyMetadataError, encodeDenyMetadata, parseDenyMetadata, parseDenySubmission } from '../../slack/blocks/deny-modal.js';
import { denialNote, GATE_APPROVE_ACTION, gateDenials, gateMessage } from '../../slack/blocks/gate-message.js';
import type { GateStatus, IncidentStatus } from '../../workflows/definitions.js';
import { allTexts, livePings, shapeProblems, stateOf } from './slack-blocks-shape.js';

const recorded = JSON.parse(readFileSync(new URL('../fixtures/incident-status.json', import.meta.url), 'utf8')) as IncidentStatus;
const ref = { incidentId: 'INC-20261203-abcdef', gate: 'lockdown', argsHash: 'ab'.repeat(32) };

describe('deny modal', () => {
  it('is a valid modal whose metadata names exactly the gate and its message', () => {
    const view = denyModal({ ...ref, channel: 'C0INCIDENT', ts: '1764720000.000100' });
    expect(view.callback_id).toBe(DENY_CALLBACK_ID);
    expect(shapeProblems(view.blocks, 'modal')).toEqual([]);
    expect(parseDenyMetadata(view.private_metadata)).toEqual({ ...ref, channel: 'C0INCIDENT', ts: '1764720000.000100' });
    expect(parseDenySubmission(stateOf(view, { reason: '  wrong target  ' }))).toEqual({ ok: true, reason: 'wrong target' });
    expect(parseDenySubmission(stateOf(view, { reason: '' }))).toMatchObject({ ok: false, errors: { reason: expect.stringMatching(/Say why/) } });
    expect(parseDenySubmission(stateOf(view, { reason: 'x'.repeat(1001) }))).toMatchObject({ ok: false, errors: { reason: expect.stringMatching(/limited to 1000/) } });
    expect(parseDenySubmission({ reason: { value: { value: 42 } } })).toMatchObject({ ok: false });
  });

  it('refuses metadata it would not have written', () => {
    const good = JSON.parse(encodeDenyMetadata(ref)) as Record<string, unknown>;
    for (const bad of [undefined, 'x'.repeat(3001), '{not json', '[]', JSON.stringify({ ...good, extra: 1 }), JSON.stringify({ ...good, gate: '{"incidentId":"x"}' }), JSON.stringify({ ...good, channel: 'c-lower' }), JSON.stringify({ ...good, ts: 'now' })]) {
      expect(() => parseDenyMetadata(bad)).toThrow(DenyMetadataError);
    }
    expect(() => encodeDenyMetadata({ ...ref, channel: '#general' })).toThrow(DenyMetadataError);
  });
});

describe('denials on the gate message', () => {
  it('are read from the notes of this gate since it opened, escaped, and leave the buttons', () => {
    const s = structuredClone(recorded);
    s.state = 'awaiting-approval';
    const gate = s.gates[0] as GateStatus;
    gate.state = 'open';
    const after = new Date(Date.parse(gate.openedAt) + 1_000).toISOString();
    const before = new Date(Date.parse(gate.openedAt) - 1_000).toISOString();
    s.timeline.push(
      { at: after, kind: 'note', by: 'carol', message: denialNote(gate.id, 'wrong target <!channel> @here') },
      { at: before, kind: 'note', by: 'bob', message: denialNote(gate.id, 'an earlier opening') },
      { at: after, kind: 'note', by: 'bob', message: denialNote('other-gate', 'not this one') },
      { at: after, kind: 'note', by: 'bob', message: 'just a note' },
    );
    const denials = gateDenials(s, gate);
    expect(denials).toEqual([{ by: 'carol', reason: 'wrong target <!channel> @here', at: after }]);
    const msg = gateMessage(s, gate, { denials });
    expect(shapeProblems(msg.blocks, 'message')).toEqual([]);
    const text = allTexts(msg).join('\n');
    expect(text).toContain(`*Denied by*\n• carol at ${after}: wrong target &lt;!channel&gt;`);
    expect(text).toContain(`A denial is a note: the gate stays open. To stop the incident: \`/incident abort ${s.id} &lt;reason&gt;\``);
    expect(livePings(allTexts(msg))).toEqual([]);
    expect(msg.text).toContain('denied by carol');
    expect(JSON.stringify(msg.blocks)).toContain(GATE_APPROVE_ACTION);
  });
});
