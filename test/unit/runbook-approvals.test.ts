/** Gates no one could pass (issue 11 §4): an unknown or reserved group, more approvals than members. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { prepareDeclaration } from '../../lib/incidents/declare.js';
import { parseRunbook } from '../../lib/runbook/loader.js';
import { approvalProblems } from '../../lib/runbook/approvals.js';
import { runCli } from '../helpers/cli.js';

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

describe('at the front door and in runbook validate', () => {
  it('declare refuses a gate of an unknown group before anything starts; runbook validate says the same (exit 2)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fbt-gates-'));
    mkdirSync(join(dir, 'runbooks'));
    writeFileSync(join(dir, 'runbooks', 'bad-gate.yaml'), ['name: bad-gate', 'title: Bad gate', 'severity: high', 'phases:', '  containment:', '    - id: lock', '      action: lockdown.enable', '      approval: { count: 1, group: toString }'].join('\n'));
    const file = join(dir, 'firebreak.yaml');
    writeFileSync(file, ['runbooksDir: runbooks', 'approvers: { groups: { responders: [alice, bob] } }', 'targets:', '  dev: { development: true }'].join('\n'));
    const config = loadConfig({ file, env: {} });
    expect(() => prepareDeclaration(config, { runbook: 'bad-gate', actor: { user: 'olga', host: 'h', via: 'cli' } })).toThrow(/step lock: approval group "toString" is not one of approvers.groups/);
    const r = await runCli(['--json', 'runbook', 'validate', 'bad-gate'], { cwd: dir, env: { ...process.env, FIREBREAK_CONFIG: file } });
    expect(r.code).toBe(2);
    const doc = JSON.parse(r.stdout) as { results: Array<{ valid: boolean; message: string }> };
    expect(doc.results[0]?.valid).toBe(false);
    expect(doc.results[0]?.message).toMatch(/approval group "toString"/);
  });
});
