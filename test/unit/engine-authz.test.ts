/** The authorization rules every validator asks (pure): participants, approvers, votes, the two-person rule. */
import { describe, expect, it } from 'vitest';
import type { Actor, GateStatus } from '../../workflows/definitions.js';
import { approverProblem, isParticipant, participantProblem, refuse, voteProblem, whereToConfigure, type Roster } from '../../workflows/incident/authz.js';

const who = (user: string): Actor => ({ user, host: 'h', via: 'cli' });
// The declarer is also listed as a responder: the two-person rule must still hold.
const roster: Roster = { declaredBy: who('olga'), approvers: { responders: ['alice', 'bob', 'olga'], dba: ['dora'], empty: [] }, approversSource: '/etc/firebreak.yaml' };
const gate = (over: Partial<GateStatus> = {}): GateStatus => ({
  id: 'lockdown',
  group: 'responders',
  required: 2,
  approvals: [],
  argsHash: 'a'.repeat(64),
  args: {},
  openedAt: '2026-01-01T00:00:00.000Z',
  escalations: 0,
  state: 'open',
  ...over,
});

describe('participants and approvers', () => {
  it.each([
    ['olga', true, 'two-person rule: olga declared this incident and cannot waive checklist items'],
    ['alice', true, undefined],
    ['dora', true, undefined],
    ['mallory', false, 'mallory is not an approver, so cannot waive checklist items (configure approvers.groups.<group> in /etc/firebreak.yaml)'],
  ])('%s: participant %s, approver problem %s', (user, participant, approver) => {
    expect(isParticipant(roster, who(user))).toBe(participant);
    expect(participantProblem(roster, who(user), 'abort')).toBe(participant ? undefined : `${user} is neither the declarer nor an approver, so cannot abort this incident`);
    expect(participantProblem(roster, who(user))).toBe(participant ? undefined : `${user} is neither the declarer nor an approver`);
    expect(approverProblem(roster, who(user), 'waive checklist items')).toBe(approver);
  });

  it('a default install names firebreak.yaml', () => {
    for (const approversSource of [undefined, 'defaults']) {
      expect(approverProblem({ ...roster, approversSource }, who('mallory'), 'override failed steps')).toBe('mallory is not an approver, so cannot override failed steps (configure approvers.groups.<group> in firebreak.yaml)');
    }
  });
});

describe('votes', () => {
  it.each([
    ['olga', 'two-person rule: olga declared this incident and cannot approve its gates'],
    ['alice', undefined],
    ['bob', undefined],
    ['dora', 'dora is not an approver in group "responders" (members: alice, bob, olga; configure approvers.groups.responders in /etc/firebreak.yaml)'],
    ['mallory', 'mallory is not an approver in group "responders" (members: alice, bob, olga; configure approvers.groups.responders in /etc/firebreak.yaml)'],
  ])('%s on an open responders gate: %s', (user, problem) => {
    expect(voteProblem(roster, gate(), 'lockdown', who(user), 'a'.repeat(64))).toBe(problem);
    expect(voteProblem(roster, gate(), 'lockdown', who(user))).toBe(problem);
  });

  it('refuses a missing or decided gate, a repeat vote and a vote for other arguments', () => {
    expect(voteProblem(roster, undefined, 'nope', who('alice'))).toBe('no gate "nope" is open on this incident');
    expect(voteProblem(roster, gate({ state: 'approved' }), 'lockdown', who('alice'))).toBe('gate "lockdown" is approved, not open');
    expect(voteProblem(roster, gate({ state: 'cancelled' }), 'lockdown', who('alice'))).toBe('gate "lockdown" is cancelled, not open');
    expect(voteProblem(roster, gate({ approvals: [{ by: 'alice', host: 'h', at: 'x' }] }), 'lockdown', who('alice'))).toBe('alice has already approved gate "lockdown"');
    expect(voteProblem(roster, gate(), 'lockdown', who('alice'), 'b'.repeat(64))).toBe(
      'approval is for arguments bbbbbbbbbbbb…, but gate "lockdown" now has aaaaaaaaaaaa…: read the status again and approve what it shows',
    );
  });

  it('says where groups are configured', () => {
    expect(whereToConfigure(roster, 'dba')).toBe('members: dora; configure approvers.groups.dba in /etc/firebreak.yaml');
    expect(whereToConfigure(roster, 'empty')).toBe('the group has no members; configure approvers.groups.empty in /etc/firebreak.yaml');
    expect(whereToConfigure({ ...roster, approversSource: 'defaults' }, 'nobody')).toBe(
      'the group has no members; configure approvers.groups.nobody in firebreak.yaml (none was in use when the incident was declared: create one, see the README Quick start)',
    );
  });

  it('refuse throws the problem, and nothing without one', () => {
    expect(() => refuse('no')).toThrow(/^no$/);
    expect(() => refuse(undefined)).not.toThrow();
  });
});
