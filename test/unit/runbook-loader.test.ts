import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, it, expect } from 'vitest';
import { ACTIONS } from '../../lib/actions.js';
import type { ActionSpec } from '../../lib/actions.js';
import {
  coerceParams,
  listRunbooks,
  loadRunbook,
  parseRunbook,
  ParamError,
  RunbookError,
  UnknownRunbookError,
} from '../../lib/runbook/loader.js';
import type { ValidateOptions } from '../../lib/runbook/loader.js';

const RUNBOOKS = fileURLToPath(new URL('../../runbooks', import.meta.url));

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'firebreak-runbook-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** 8 lines; `phases:` is line 8, so a body starts on line 9. */
const head = (name = 't'): string => `name: ${name}
title: Test
severity: low
params:
  reason: { type: string, default: why }
  count: { type: integer, default: 3 }
  ids: { type: "string[]", default: [] }
phases:
`;

/** A catalog with typed and required arguments (the shipped one has few). */
const TEST_ACTIONS: Record<string, ActionSpec<string>> = {
  ...ACTIONS,
  'ip.ban': {
    activity: 'ipBan',
    description: 'test action',
    args: {
      cidr: { type: 'string', required: true, description: 'address or CIDR' },
      hours: { type: 'integer', description: 'ban length' },
      mode: { type: 'string', enum: ['deny', 'log'], description: 'what to do' },
      cidrs: { type: 'string[]', description: 'more addresses' },
      ratio: { type: 'number', description: 'a number' },
    },
    mutates: true,
    reversible: true,
    liftOnResolve: true,
    timeoutMs: 1000,
  },
};

/** Write `content` as t.yaml in a fresh folder and load it by name; return the RunbookError. */
function loadError(content: string, options: ValidateOptions = {}, name = 't'): RunbookError {
  const dir = tempDir();
  writeFileSync(join(dir, `${name}.yaml`), content);
  try {
    loadRunbook(dir, name, options);
  } catch (e) {
    if (e instanceof RunbookError) return e;
    throw e;
  }
  throw new Error('expected the runbook to be rejected');
}

/** Assert a problem at exactly `path` on `line`, and that the formatted message names file, line and path. */
function expectProblem(err: RunbookError, path: string, line: number, message: RegExp, file = 't.yaml'): void {
  const p = err.problems.find((x) => x.path === path && message.test(x.message));
  expect(p, `no problem at ${path} matching ${message}; got:\n${err.message}`).toBeDefined();
  if (!p) return;
  expect(p.file).toBe(file);
  expect(p.line).toBe(line);
  expect(err.message).toContain(`${file}:${line}:${p.column}: ${path}: ${p.message}`);
  expect(err.exitCode).toBe(2);
}

describe('shipped runbooks', () => {
  it('all validate', () => {
    const list = listRunbooks(RUNBOOKS);
    expect(list.filter((r) => !r.valid)).toEqual([]);
    expect(list.map((r) => r.name)).toEqual(expect.arrayContaining(['admin-compromise', 'sqli', 'token-leak']));
  });

  it.each([
    ['token-leak', 'high'],
    ['sqli', 'critical'],
    ['admin-compromise', 'critical'],
  ])('%s: evidence, containment with the approval policy, timeline', (name, severity) => {
    const { doc, file, sha256, content } = loadRunbook(RUNBOOKS, name);
    expect(file).toBe(`${name}.yaml`);
    expect(sha256).toBe(createHash('sha256').update(content).digest('hex'));
    expect(doc.severity).toBe(severity);
    expect(doc.params.reason).toMatchObject({ type: 'string', required: false });
    expect(doc.phases.detection.map((s) => s.action)).toEqual(['evidence.snapshot', 'lockdown.status']);
    expect(doc.phases.postmortem.map((s) => s.action)).toEqual(['report.timeline', 'report.postmortem']);
    // Recovery runs what the target can do: every step that needs a system is conditional on it.
    const recovery = doc.phases.recovery;
    expect(recovery.map((s) => s.action)).toEqual(expect.arrayContaining(['deploy.verify_commit', 'deploy.redeploy', 'deploy.probe', 'secrets.manual']));
    for (const step of recovery) {
      if (step.action.startsWith('secrets.rotate')) expect(step.when, `${name}/${step.id}`).toContain("'secrets' in incident.capabilities");
      if (step.action === 'secrets.rotate_jwt_key') expect(step.approval, `${name}/${step.id} logs everyone out`).toMatchObject({ count: 2 });
      if (step.action.startsWith('deploy.verify') || step.action === 'deploy.redeploy') expect(step.when).toContain("'github' in incident.capabilities");
    }
    expect(recovery.find((s) => s.action === 'deploy.redeploy')?.with).toEqual({ sha: '{{ steps.verify.output.sha }}' });
    const containment = doc.phases.containment;
    expect(containment.length).toBeGreaterThanOrEqual(3);
    // Global revocation, database read-only and the kill-switch need two approvers; per-user and per-jti revocation none.
    for (const step of containment) {
      const scope = step.with.scope;
      const drastic = (step.action === 'tokens.revoke' && scope === 'all') || step.action === 'database.read_only' || step.action === 'lockdown.enable';
      if (drastic) expect(step.approval, `${name}/${step.id}`).toMatchObject({ count: 2, group: 'responders' });
      if (step.action === 'tokens.revoke' && scope !== 'all') expect(step.approval, `${name}/${step.id}`).toBeUndefined();
      expect(step.needs, `${name}/${step.id} runs concurrently`).toEqual([]);
    }
    const lockdown = containment.find((s) => s.action === 'lockdown.enable');
    expect(lockdown).toMatchObject({ when: 'params.lockdown', with: { reason: '{{ params.reason }}' } });
  });
});

describe('normalization', () => {
  it('turns snake_case YAML into the camelCase doc with defaults', () => {
    const content = `${head()}  containment:
    - id: lock
      action: lockdown.enable
      with: { reason: "{{ params.reason }}" }
      approval: { count: 2 }
      retry: { maximum_attempts: 3, initial_interval: 500ms, maximum_interval: 1h30m, backoff_coefficient: 2 }
      timeout: 2m
      continue_on_error: true
`;
    const { doc } = parseRunbook(content, 'runbooks/t.yml');
    expect(doc.phases.detection).toEqual([]);
    expect(doc.phases.containment[0]).toEqual({
      id: 'lock',
      action: 'lockdown.enable',
      with: { reason: '{{ params.reason }}' },
      needs: [],
      approval: { count: 2, group: 'responders', escalateAfterMs: 15 * 60_000 },
      retry: { maximumAttempts: 3, initialIntervalMs: 500, maximumIntervalMs: 90 * 60_000, backoffCoefficient: 2 },
      timeoutMs: 120_000,
      continueOnError: true,
    });
    expect(doc.resolve.approval).toEqual({ count: 1, group: 'responders', escalateAfterMs: 30 * 60_000 });
    expect(doc.params.ids).toEqual({ type: 'string[]', required: false, default: [], sensitive: false });
  });
});

describe('validation errors name file, path and line', () => {
  it('unknown action', () => {
    const err = loadError(`${head()}  containment:
    - id: a
      action: tokens.nuke
`);
    expectProblem(err, 'phases.containment[0].action', 11, /unknown action 'tokens\.nuke' \(known: .*lockdown\.enable/);
  });

  it('unknown argument', () => {
    const err = loadError(`${head()}  containment:
    - id: a
      action: lockdown.enable
      with:
        reason: x
        force: true
`);
    expectProblem(err, 'phases.containment[0].with.force', 14, /unknown argument 'force' for action lockdown\.enable \(accepts: reason\)/);
    expect(err.problems).toHaveLength(1);
  });

  it('missing required argument points at the with mapping, or the step without one', () => {
    const err = loadError(
      `${head()}  containment:
    - id: ban
      action: ip.ban
      with:
        hours: 72
    - id: ban2
      action: ip.ban
`,
      { actions: TEST_ACTIONS },
    );
    expectProblem(err, 'phases.containment[0].with.cidr', 12, /missing required argument 'cidr' for action ip\.ban/);
    expectProblem(err, 'phases.containment[1].with.cidr', 14, /missing required argument 'cidr'/);
  });

  it('wrong literal types and enum values, all reported', () => {
    const err = loadError(
      `${head()}  containment:
    - id: ban
      action: ip.ban
      with:
        cidr: 10.0.0.0/8
        hours: "72"
        mode: block
        cidrs: [10.0.0.1, 7]
        ratio: true
`,
      { actions: TEST_ACTIONS },
    );
    expectProblem(err, 'phases.containment[0].with.hours', 14, /expected integer, got string/);
    expectProblem(err, 'phases.containment[0].with.mode', 15, /"block" is not one of: deny, log/);
    expectProblem(err, 'phases.containment[0].with.cidrs[1]', 16, /expected string, got integer/);
    expectProblem(err, 'phases.containment[0].with.ratio', 17, /expected number, got boolean/);
    expect(err.problems).toHaveLength(4);
  });

  it('a sole reference must carry the argument type; text with references is a string', () => {
    const err = loadError(
      `${head()}  containment:
    - id: ban
      action: ip.ban
      with:
        cidr: "{{ params.reason }}"
        hours: "{{ params.reason }}"
        ratio: "{{ params.count }}"
        cidrs: "{{ params.ids }}"
        mode: "{{ incident.severity }}"
    - id: ban2
      action: ip.ban
      with:
        cidr: "{{ steps.ban.output }}"
        hours: "{{ params.count }}0"
`,
      { actions: TEST_ACTIONS },
    );
    expectProblem(err, 'phases.containment[0].with.hours', 14, /\{\{ params\.reason \}\}: param 'reason' is string; expected integer/);
    expectProblem(err, 'phases.containment[1].with.hours', 22, /text with references is a string; expected integer/);
    expect(err.problems).toHaveLength(3);
    expectProblem(err, 'phases.containment[1].with.cidr', 21, /step 'ban' is not guaranteed to have finished/);
  });

  it('unknown param reference', () => {
    const err = loadError(`${head()}  containment:
    - id: a
      action: lockdown.enable
      with:
        reason: "why: {{ params.nope }}"
`);
    expectProblem(err, 'phases.containment[0].with.reason', 13, /\{\{ params\.nope \}\}: unknown param 'nope' \(declared: count, ids, reason\)/);
  });

  it('malformed reference', () => {
    const err = loadError(`${head()}  containment:
    - id: a
      action: lockdown.enable
      with:
        reason: "{{ params.reason"
`);
    expectProblem(err, 'phases.containment[0].with.reason', 13, /unclosed '\{\{'/);
  });

  it('reference to a later or unordered step; earlier phases and transitive needs are fine', () => {
    const err = loadError(`${head()}  detection:
    - id: early
      action: lockdown.enable
      with:
        reason: "{{ steps.late.output.x }}"
  containment:
    - id: late
      action: lockdown.status
    - id: peer
      action: lockdown.enable
      with:
        reason: "{{ steps.late.output.x }}"
    - id: mid
      action: lockdown.status
      needs: [late]
    - id: ordered
      action: lockdown.enable
      needs: [mid]
      with:
        reason: "{{ steps.late.output.x }} after {{ steps.early.output }}"
`);
    expectProblem(err, 'phases.detection[0].with.reason', 13, /step 'late' runs later \(phase containment\)/);
    expectProblem(err, 'phases.containment[1].with.reason', 20, /step 'late' is not guaranteed to have finished: add it to needs/);
    expect(err.problems).toHaveLength(2);
  });

  it('unknown and cross-phase needs', () => {
    const err = loadError(`${head()}  detection:
    - id: first
      action: lockdown.status
  containment:
    - id: a
      action: lockdown.status
      needs:
        - ghost
        - first
`);
    expectProblem(err, 'phases.containment[0].needs[0]', 16, /unknown step 'ghost'/);
    expectProblem(err, 'phases.containment[0].needs[1]', 17, /step 'first' is in phase detection; needs may only name steps of the same phase/);
  });

  it('needs cycle', () => {
    const err = loadError(`${head()}  containment:
    - id: a
      action: lockdown.status
      needs: [c]
    - id: b
      action: lockdown.status
      needs: [a]
    - id: c
      action: lockdown.status
      needs: [b]
    - id: self
      action: lockdown.status
      needs: [self]
`);
    expectProblem(err, 'phases.containment[1].needs[0]', 15, /needs cycle: a -> c -> b -> a/);
    expectProblem(err, 'phases.containment[3].needs[0]', 21, /step 'self' cannot need itself/);
    expect(err.problems).toHaveLength(2);
  });

  it('duplicate step id across phases', () => {
    const err = loadError(`${head()}  detection:
    - id: snap
      action: lockdown.status
  postmortem:
    - id: snap
      action: report.timeline
`);
    expectProblem(err, 'phases.postmortem[0].id', 13, /duplicate step id 'snap' \(first used at phases\.detection\[0\]\)/);
  });

  it('unknown keys (typos) in steps, nested mappings and the top level', () => {
    const err = loadError(`${head()}  containment:
    - id: a
      action: lockdown.status
    - id: b
      action: lockdown.status
      need: [a]
      approval: { count: 2, escalate: 5m }
  cleanup: []
descripton: oops
`);
    expectProblem(err, 'phases.containment[1].need', 14, /unknown key 'need'/);
    expectProblem(err, 'phases.containment[1].approval.escalate', 15, /unknown key 'escalate'/);
    expectProblem(err, 'phases.cleanup', 16, /unknown key 'cleanup'/);
    expectProblem(err, 'descripton', 17, /unknown key 'descripton'/);
  });

  it('bad durations', () => {
    const err = loadError(`${head()}  containment:
    - id: a
      action: lockdown.status
      timeout: 5min
      approval: { count: 2, escalate_after: 0s }
resolve:
  approval: { escalate_after: 30 }
`);
    expectProblem(err, 'phases.containment[0].timeout', 12, /invalid duration "5min": use e\.g\. 500ms, 30s, 15m, 2h, 3d/);
    expectProblem(err, 'phases.containment[0].approval.escalate_after', 13, /invalid duration "0s"/);
    expectProblem(err, 'resolve.approval.escalate_after', 15, /invalid duration 30/);
  });

  it('timers shorter than the minimum each firing can afford', () => {
    const err = loadError(`${head()}  containment:
    - id: a
      action: lockdown.status
      timeout: 500ms
      retry: { initial_interval: 10ms, maximum_interval: 50ms }
      approval: { count: 1, escalate_after: 1ms }
resolve:
  approval: { escalate_after: 59s }
`);
    expectProblem(err, 'phases.containment[0].timeout', 12, /timeout must be at least 1s/);
    expectProblem(err, 'phases.containment[0].retry.initial_interval', 13, /initial_interval must be at least 100ms/);
    expectProblem(err, 'phases.containment[0].retry.maximum_interval', 13, /maximum_interval must be at least 100ms/);
    expectProblem(err, 'phases.containment[0].approval.escalate_after', 14, /escalate_after must be at least 1m \(each firing writes to the incident's history\)/);
    expectProblem(err, 'resolve.approval.escalate_after', 16, /escalate_after must be at least 1m/);
  });

  it('bad when: syntax (with column), unknown refs, unordered steps, in over a non-list', () => {
    const err = loadError(`${head()}  containment:
    - id: a
      action: lockdown.status
      when: params.reason == 'x' and
    - id: b
      action: lockdown.status
      when: params.nope or steps.a.output.ok
    - id: c
      action: lockdown.status
      when: "'x' in params.reason"
`);
    expectProblem(err, 'phases.containment[0].when', 12, /invalid condition: unexpected end of condition \(column 25 of the condition\)/);
    expectProblem(err, 'phases.containment[1].when', 15, /params\.nope: unknown param 'nope'/);
    expectProblem(err, 'phases.containment[1].when', 15, /steps\.a\.output\.ok: step 'a' is not guaranteed to have finished/);
    expectProblem(err, 'phases.containment[2].when', 18, /the right side of 'in' \(column 8\) must be a list/);
    expect(err.problems).toHaveLength(4);
  });

  it('bad params: default type, enum, required with default, name', () => {
    const err = loadError(`name: t
title: T
severity: low
params:
  n: { type: integer, default: "3" }
  s: { type: string, enum: [a, b], default: c }
  b: { type: boolean, enum: [x] }
  r: { type: string, required: true, default: x }
  Bad-Name: { type: strin }
`);
    expectProblem(err, 'params.n.default', 5, /default must be integer, got string/);
    expectProblem(err, 'params.s.default', 6, /default "c" is not one of: a, b/);
    expectProblem(err, 'params.b.enum', 7, /enum is only allowed for string and string\[\] params/);
    expectProblem(err, 'params.r.default', 8, /a required param cannot have a default/);
    expectProblem(err, 'params.Bad-Name', 9, /param name 'Bad-Name' must match/);
    expectProblem(err, 'params.Bad-Name.type', 9, /expected one of/);
  });

  it('missing top-level keys point at the document mapping', () => {
    const err = loadError(`# comment first\nname: t\nseverity: extreme\n`);
    expectProblem(err, 'title', 2, /is required/);
    expectProblem(err, 'severity', 3, /expected one of "low"\|"medium"\|"high"\|"critical"/);
  });

  it('hints at quoting string[] inside a flow mapping', () => {
    const err = loadError(`name: t\ntitle: Test\nseverity: low\nparams:\n  ids: { type: string[], default: [] }\n`);
    expect(err.problems[0]).toMatchObject({ file: 't.yaml', path: '', line: 5 });
    expect(err.problems[0]?.message).toMatch(/hint: inside \{ \} write type: "string\[\]" with quotes/);
  });

  it('YAML syntax errors give file and line', () => {
    const err = loadError(`name: t\ntitle: Test\nseverity: low\nphases:\n  detection: a: b\n`);
    expect(err.problems).toHaveLength(1);
    const [p] = err.problems;
    expect(p).toMatchObject({ file: 't.yaml', path: '', line: 5 });
    expect(p?.message).toMatch(/^YAML syntax error: /);
    expect(err.message).toBe(`t.yaml:5:${p?.column}: ${p?.message}`);
  });

  it('duplicate YAML keys are syntax errors', () => {
    const err = loadError(`name: t\ntitle: Test\nseverity: low\ntitle: Again\n`);
    expect(err.problems[0]).toMatchObject({ file: 't.yaml', line: 4 });
    expect(err.problems[0]?.message).toMatch(/unique/);
  });

  it('name must equal the file base name', () => {
    const err = loadError(`${head('other')}  detection: []\n`);
    expectProblem(err, 'name', 1, /name 'other' must equal the file's base name 't'/);
  });

  it('a non-mapping document', () => {
    const err = loadError('- just\n- a list\n');
    expect(err.message).toBe("t.yaml:1:1: a runbook must be a YAML mapping (name, title, severity, params, phases…)");
  });
});

describe('loadRunbook / listRunbooks', () => {
  it('lists known names on an unknown runbook', () => {
    expect(() => loadRunbook(RUNBOOKS, 'token-leek')).toThrow(UnknownRunbookError);
    expect(() => loadRunbook(RUNBOOKS, 'token-leek')).toThrow(/^unknown runbook 'token-leek'; known runbooks: admin-compromise, (.+, )?sqli, token-leak$/);
    expect(() => loadRunbook(RUNBOOKS, '../package')).toThrow(UnknownRunbookError);
    try {
      loadRunbook(tempDir(), 'x');
    } catch (e) {
      expect((e as UnknownRunbookError).exitCode).toBe(2);
      expect((e as Error).message).toMatch(/no runbooks found/);
    }
  });

  it('loads by path; file is relative to the runbooks folder when inside it', () => {
    const byPath = loadRunbook(RUNBOOKS, join(RUNBOOKS, 'sqli.yaml'));
    expect(byPath.file).toBe('sqli.yaml');
    expect(loadRunbook(RUNBOOKS, 'sqli.yaml').sha256).toBe(byPath.sha256);
    expect(byPath.doc.name).toBe('sqli');
    const elsewhere = tempDir();
    const outside = join(tempDir(), 'sqli.yaml');
    writeFileSync(outside, byPath.content);
    expect(loadRunbook(elsewhere, outside).file).toBe(outside);
  });

  it('lists valid and invalid runbooks, ignoring other files', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'good.yaml'), `${head('good')}  detection: []\n`);
    writeFileSync(join(dir, 'broken.yml'), `name: broken\ntitle: Broken\nseverity: low\nphases:\n  detection:\n    - { id: a, action: nope }\n`);
    writeFileSync(join(dir, 'README.md'), '# not a runbook\n');
    const list = listRunbooks(dir);
    expect(list.map(({ error: _error, ...r }) => r)).toEqual([
      { name: 'broken', file: 'broken.yml', title: 'Broken', severity: 'low', valid: false },
      { name: 'good', file: 'good.yaml', title: 'Test', severity: 'low', valid: true },
    ]);
    expect(list[0]?.error).toMatch(/^broken\.yml:6:\d+: phases\.detection\[0\]\.action: unknown action 'nope'/);
    expect(listRunbooks(join(dir, 'missing'))).toEqual([]);
  });
});

describe('coerceParams', () => {
  const { doc } = parseRunbook(
    `name: p
title: P
severity: medium
params:
  reason: { type: string, required: true, description: Why }
  count: { type: integer, default: 3 }
  ratio: { type: number }
  flag: { type: boolean, default: true }
  ids: { type: "string[]", default: [] }
  scope: { type: string, enum: [jti, user, all], default: user }
  scopes: { type: "string[]", enum: [a, b] }
  api_key: { type: string, sensitive: true }
  pin: { type: integer, sensitive: true }
`,
    'p.yaml',
  );

  it('coerces CLI strings and applies defaults', () => {
    expect(coerceParams(doc, { reason: 'r', count: '5', ratio: '0.25', flag: 'FALSE', ids: 'u1, u2,,', scope: 'all', scopes: 'a,b' })).toEqual({
      reason: 'r',
      count: 5,
      ratio: 0.25,
      flag: false,
      ids: ['u1', 'u2'],
      scope: 'all',
      scopes: ['a', 'b'],
    });
    expect(coerceParams(doc, { reason: '' })).toEqual({ reason: '', count: 3, flag: true, ids: [], scope: 'user' });
  });

  it('accepts typed JSON values', () => {
    const out = coerceParams(doc, { reason: 'r', count: -2, ratio: 1, flag: false, ids: ['x'], api_key: 's3cret' });
    expect(out).toEqual({ reason: 'r', count: -2, ratio: 1, flag: false, ids: ['x'], scope: 'user', api_key: 's3cret' });
  });

  it('returns defaults as copies', () => {
    const out = coerceParams(doc, { reason: 'r' });
    (out.ids as string[]).push('mutated');
    expect(doc.params.ids?.default).toEqual([]);
  });

  it('reports every problem at once', () => {
    let err: ParamError | undefined;
    try {
      coerceParams(doc, { count: '5x', flag: 'maybe', scope: 'everything', bogus: '1', scopes: 'a,c', ratio: 'abc' });
    } catch (e) {
      err = e as ParamError;
    }
    expect(err).toBeInstanceOf(ParamError);
    expect(err?.exitCode).toBe(2);
    expect(err?.problems).toEqual([
      `param 'count' (integer): expected an integer, got "5x"`,
      `param 'flag' (boolean): expected true or false, got "maybe"`,
      `param 'scope' (string): "everything" is not one of: jti, user, all`,
      `unknown param 'bogus' (runbook p takes: api_key, count, flag, ids, pin, ratio, reason, scope, scopes)`,
      `param 'scopes' (string[]): "c" is not one of: a, b`,
      `param 'ratio' (number): expected a number, got "abc"`,
      `missing required param 'reason' (Why)`,
    ]);
  });

  it('rejects wrong JSON types and unsafe integers', () => {
    expect(() => coerceParams(doc, { reason: 'r', count: 1.5 })).toThrow(/expected an integer, got number/);
    expect(() => coerceParams(doc, { reason: 'r', count: '9007199254740993' })).toThrow(/expected an integer/);
    expect(() => coerceParams(doc, { reason: 7 })).toThrow(/param 'reason' \(string\): expected a string, got integer/);
    expect(() => coerceParams(doc, { reason: 'r', flag: 1 })).toThrow(/expected true or false/);
  });

  it('never echoes a sensitive value', () => {
    try {
      coerceParams(doc, { reason: 'r', pin: 'hunter2' });
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).toContain("param 'pin'");
      expect((e as Error).message).not.toContain('hunter2');
    }
  });
});

it('a list param of only blanks (a lone tab) is refused, not taken as an empty list that skips the step (issue 11 §4)', () => {
  const doc = parseRunbook(['name: t', 'title: T', 'severity: low', 'params:', '  jtis: { type: "string[]" }', 'phases:', '  containment:', '    - id: r', '      action: lockdown.status'].join('\n'), 't.yaml').doc;
  expect(() => coerceParams(doc, { jtis: '\t' })).toThrow(/param 'jtis' \(string\[\]\): the list is only blanks and commas \(got "\\t"\)/);
  expect(() => coerceParams(doc, { jtis: ' , ' })).toThrow(/only blanks and commas/);
  expect(coerceParams(doc, { jtis: '' })).toEqual({ jtis: [] });
  expect(coerceParams(doc, { jtis: 'a, b,' })).toEqual({ jtis: ['a', 'b'] });
});
