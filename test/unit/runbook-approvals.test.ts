/** Gates no one could pass (issue 11 §4): an unknown or reserved group, more approvals than members. */
import { describe, expect, it } from 'vitest';
import { parseRunbook } from '../../lib/runbook/loader.js';
import { approvalProblems } from '../../lib/runbook/approvals.js';

const doc = (group: string, count: number) =>
  parseRunbook(['name: t', 'title: T', 'severity: high', 'phases:', '  containment:', '    - id: lock', '      action: lockdown.enable', `      approval: { count: ${count}, group: ${group} }`].join('\n'), 't.yaml').doc;
const groups = { responders: ['alice', 'bob'], dba: ['dora'] };

describe('approval gates against the approver groups', () => {
  it('passes a gate its group can open', () => {
    expect(approvalProblems(doc('responders', 2), groups, 'fb.yaml')).toEqual([]);
  });

  it.each(['toString', 'constructor', 'nobody'])('refuses group %s, naming the groups there are', (group) => {
    expect(approvalProblems(doc(group, 1), groups, 'fb.yaml')).toEqual([`step lock: approval group "${group}" is not one of approvers.groups in fb.yaml (responders, dba)`]);
  });

  it('refuses more approvals than the group has members (count 1000)', () => {
    expect(approvalProblems(doc('responders', 1000), groups, 'fb.yaml')).toEqual(['step lock: needs 1000 approval(s) but group "responders" has 2 member(s) in fb.yaml: no one could pass it']);
  });

  it('judges the all-clear too, and nothing when the config has no groups yet', () => {
    expect(approvalProblems(doc('responders', 1), { dba: ['dora'] }, 'fb.yaml')).toEqual([
      'step lock: approval group "responders" is not one of approvers.groups in fb.yaml (dba)',
      'resolve: approval group "responders" is not one of approvers.groups in fb.yaml (dba)',
    ]);
    expect(approvalProblems(doc('toString', 1000), {}, 'fb.yaml')).toEqual([]);
  });
});
