/**
 * The `firebreak` CLI as users run it: a real `node bin/firebreak.js` process
 * per call, against this file's stack (own config, task queue, Redis prefix,
 * in-process worker). Calls run one after another: each costs about a second
 * of node + tsx start-up on a 2-core machine.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/config.js';
import { djangoKey, LOCKDOWN_KEY } from '../../lib/redis-keys.js';
import { DECLARER, startStack, type Stack } from '../helpers/firebreak.js';

const BIN = join(PROJECT_ROOT, 'bin/firebreak.js');
/** A line of a JavaScript stack trace. */
const STACK_LINE = /^\s+at /m;

let stack: Stack;

beforeAll(async () => {
  stack = await startStack('cli');
});
afterAll(async () => {
  await stack?.stop();
});

interface CliResult {
  args: string[];
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The environment of a CLI call: this stack's config, acting as `user`, and no FIREBREAK_* from outside. */
const cliEnv = (user: string): NodeJS.ProcessEnv => stack.cliEnv(user);

/** Run `firebreak ...args` as `user`; resolves with exit code and output (never rejects on a non-zero exit). */
function cli(args: string[], user: string = DECLARER, timeoutMs = 45_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: stack.dir, env: cliEnv(user), stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ args, code, signal, stdout, stderr }));
  });
}

/** What a failed expectation shows: the whole call. */
const show = (r: CliResult) => `firebreak ${r.args.join(' ')} → exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

function expectExit(r: CliResult, code: number): void {
  expect(r.code, show(r)).toBe(code);
}

/** Exit 0 and one JSON document on stdout. */
function okJson<T = Record<string, unknown>>(r: CliResult): T {
  expectExit(r, 0);
  return JSON.parse(r.stdout) as T;
}

/** A failure the contract way: the exit code, one line on stderr, no stack trace, nothing on stdout. */
function expectOneLineError(r: CliResult, code: number, message: RegExp): void {
  expectExit(r, code);
  expect(r.stdout, show(r)).toBe('');
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, show(r)).toHaveLength(1);
  expect(lines[0], show(r)).toMatch(message);
  expect(r.stderr, show(r)).not.toMatch(STACK_LINE);
}

/** With --json a failure is one JSON document on stdout: `{ ok: false, error: { code, message } }`. */
function expectJsonError(r: CliResult, code: number, message: RegExp): { code: string; message: string } {
  expectExit(r, code);
  const doc = JSON.parse(r.stdout) as { ok: boolean; error: { code: string; message: string } };
  expect(doc.ok).toBe(false);
  expect(Object.keys(doc).sort()).toEqual(['error', 'ok']);
  expect(doc.error.code, show(r)).toEqual(expect.any(String));
  expect(doc.error.message, show(r)).toMatch(message);
  expect(doc.error.message).not.toContain('\n');
  expect(r.stderr, show(r)).not.toMatch(STACK_LINE);
  return doc.error;
}

interface StatusJson {
  id: string;
  state: string;
  phase: string;
  steps: Array<{ id: string; action: string; state: string }>;
  gates: Array<{ id: string; state: string; required: number; approvals: Array<{ by: string }> }>;
  activeContainment: string[];
  abortReason: string | null;
}

/** `status <id> --json` until `done`; every poll is a real CLI call. */
async function statusUntil(id: string, done: (s: StatusJson) => boolean, timeoutMs = 30_000): Promise<StatusJson> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = okJson<StatusJson>(await cli(['status', id, '--json']));
    if (done(s)) return s;
    if (Date.now() > deadline) throw new Error(`${id} still ${s.state} (phase ${s.phase}) after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The lockdown flag in this stack's Redis, polled until it equals `want` (null: absent). */
async function flagBecomes(want: string | null, timeoutMs = 15_000): Promise<string | null> {
  const deadline = Date.now() + timeoutMs;
  let v = await stack.redis.redis.get(stack.flagKey);
  while (v !== want && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    v = await stack.redis.redis.get(stack.flagKey);
  }
  return v;
}

describe('--help', () => {
  // Each command's help names its own options; every one also shows the global --json.
  const cases: Array<[string[], string[]]> = [
    [[], ['--json', '--verbose', '--config', 'declare', 'status', 'list', 'approve', 'abort', 'resolve', 'note', 'retry', 'runbook', 'lockdown', 'worker', 'edge', 'dev', 'codec-server']],
    [['declare'], ['<runbook>', '--target', '--set <key=value>', '--severity', '--mode', '--dedup-key', '--summary', '--wait', '--timeout']],
    [['status'], ['<id>', '--watch', '--timeline']],
    [['list'], ['--open', '--limit']],
    [['approve'], ['<id> <gate>', '--hash', '--comment']],
    [['abort'], ['<id>', '--reason']],
    [['resolve'], ['<id>', '--comment']],
    [['note'], ['<id> <text...>']],
    [['retry'], ['<id>']],
    [['runbook', 'list'], []],
    [['runbook', 'show'], ['<name>']],
    [['runbook', 'validate'], ['[names...]']],
    [['runbook', 'actions'], []],
    [['lockdown', 'on'], ['--target', '--reason', '--mode']],
    [['lockdown', 'off'], ['--target']],
    [['worker'], ['--bundle']],
    [['edge'], ['<name>', 'edges: in config']],
    [['dev'], ['--port', '--ui-port', '--no-worker']],
    [['codec-server'], ['--port', '--host', '--cors-origin', '--auth-token-env']],
  ];
  it.each(cases)('firebreak %j --help', async (cmd, mentions) => {
    const r = await cli([...cmd, '--help']);
    expectExit(r, 0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`Usage: firebreak ${cmd.join(' ')}`.trimEnd());
    for (const m of [...mentions, '--json', '--help']) expect(r.stdout, `${m} in help of ${cmd.join(' ')}`).toContain(m);
  });
});

describe('usage errors exit 2 with one line and no stack trace', () => {
  it('unknown command', async () => {
    expectOneLineError(await cli(['frobnicate']), 2, /unknown command 'frobnicate'/);
  });

  it('missing argument', async () => {
    expectOneLineError(await cli(['status']), 2, /missing required argument 'id'/);
  });

  it('a command group without its subcommand shows its help and exits 2', async () => {
    const r = await cli(['runbook']);
    expectExit(r, 2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Usage: firebreak runbook');
  });

  it('unknown command with --json: the error is the JSON document', async () => {
    const e = expectJsonError(await cli(['frobnicate', '--json']), 2, /unknown command 'frobnicate'/);
    expect(e.code).toBe('usage');
  });

  it('declare: unknown runbook lists the known ones', async () => {
    const r = await cli(['declare', 'no-such-runbook']);
    expectOneLineError(r, 2, /unknown runbook 'no-such-runbook'/);
    for (const name of ['admin-compromise', 'lockdown', 'sqli', 'token-leak']) expect(r.stderr).toContain(name);
  });

  it('declare: unknown parameter (--json)', async () => {
    const e = expectJsonError(await cli(['declare', 'token-leak', '--set', 'nope=1', '--json']), 2, /unknown param 'nope'.*takes: .*lockdown.*reason/);
    expect(e.code).toBe('invalid');
  });

  it('texts over their limit (issue 11 §1) exit 2 before anything is sent', async () => {
    expectOneLineError(await cli(['abort', 'INC-20990101-nosuch', '--reason', 'r'.repeat(1001)]), 2, /--reason is limited to 1000 characters \(got 1001\)/);
    expectOneLineError(await cli(['approve', 'INC-20990101-nosuch', 'lockdown', '--comment', 'c'.repeat(1001)]), 2, /--comment is limited to 1000 characters/);
    expectOneLineError(await cli(['declare', 'token-leak', '--summary', 's'.repeat(1001)]), 2, /--summary is limited to 1000 characters/);
  });

  it('declare: unknown mode (--json)', async () => {
    expectJsonError(await cli(['declare', 'token-leak', '--mode', 'yolo', '--json']), 2, /unknown mode "yolo" \(one of live, dry-run, drill\)/);
  });

  it('declare: --set without =', async () => {
    expectOneLineError(await cli(['declare', 'token-leak', '--set', 'reason']), 2, /--set expects key=value, got "reason"/);
  });

  it('declare: a --timeout that is not a number (it used to make --wait wait forever)', async () => {
    expectOneLineError(await cli(['declare', 'token-leak', '--wait', '--timeout', 'soon']), 2, /--timeout expects a number of seconds, got "soon"/);
  });
});

describe('runbook', () => {
  it('list --json: the shipped runbooks, all valid', async () => {
    const doc = okJson<{ runbooksDir: string; runbooks: Array<{ name: string; valid: boolean }> }>(await cli(['runbook', 'list', '--json']));
    expect(doc.runbooksDir).toBe(stack.runbooksDir);
    for (const name of ['token-leak', 'sqli', 'admin-compromise', 'lockdown']) {
      expect(doc.runbooks.find((r) => r.name === name), name).toMatchObject({ valid: true });
    }
  });

  it('validate: exit 0 for the shipped runbooks; a broken one exits 2 with FILE:LINE:COL: PATH: message', async () => {
    const ok = await cli(['runbook', 'validate']);
    expectExit(ok, 0);
    expect(ok.stdout).toContain('✓ token-leak.yaml');

    const yaml = [
      'name: broken',
      'title: A runbook naming an action that does not exist',
      'severity: low',
      'phases:',
      '  detection:',
      '    - id: look',
      '      action: no.such.action',
    ].join('\n');
    stack.writeRunbook('broken', yaml);
    try {
      const r = await cli(['runbook', 'validate', 'broken']);
      expectExit(r, 2);
      const line = yaml.split('\n').findIndex((l) => l.includes('no.such.action')) + 1;
      const col = (yaml.split('\n')[line - 1] ?? '').indexOf('no.such.action') + 1;
      expect(`${r.stdout}${r.stderr}`).toContain(`broken.yaml:${line}:${col}: phases.detection[0].action: unknown action 'no.such.action'`);
      expect(r.stderr).not.toMatch(STACK_LINE);
    } finally {
      rmSync(join(stack.runbooksDir, 'broken.yaml'), { force: true });
    }
  });
});

describe('token-leak lifecycle through the CLI only', () => {
  let id: string;

  it('declare --json, then status shows the open two-person gate', async () => {
    const res = okJson<Record<string, unknown>>(await cli(['declare', 'token-leak', '--set', 'lockdown=true', '--json']));
    expect(res).toMatchObject({ ok: true, existing: false, runbook: 'token-leak', mode: 'live', target: 'local' });
    expect(res.runbookSha256).toMatch(/^[0-9a-f]{64}$/);
    id = String(res.id);
    expect(id).toMatch(/^INC-\d{8}-[a-z0-9]{6}$/);
    expect(res.workflowId).toBe(`firebreak-${id}`);

    const s = await statusUntil(id, (x) => x.state === 'awaiting-approval');
    expect(s.id).toBe(id);
    expect(s.phase).toBe('containment');
    expect(s.steps.find((x) => x.id === 'lockdown-before')).toMatchObject({ action: 'lockdown.status', state: 'succeeded' });
    expect(s.steps.find((x) => x.id === 'lockdown')).toMatchObject({ action: 'lockdown.enable', state: 'awaiting-approval' });
    expect(s.gates).toEqual([expect.objectContaining({ id: 'lockdown', state: 'open', required: 2, approvals: [] })]);
    expect(await stack.redis.redis.get(stack.flagKey)).toBeNull();
  });

  it('approve: the declarer is refused (exit 1); alice and bob open the gate and the flag is set', async () => {
    expectOneLineError(await cli(['approve', id, 'lockdown']), 1, /two-person rule: oncall-olga declared this incident/);

    const a = await cli(['approve', id, 'lockdown'], 'alice');
    expectExit(a, 0);
    expect(a.stdout).toContain('lockdown: 1/2 approvals (open)');
    const b = await cli(['approve', id, 'lockdown', '--json'], 'bob');
    const doc = okJson<{ ok: boolean; gate: { state: string; approvals: Array<{ by: string }> } }>(b);
    expect(doc.ok).toBe(true);
    expect(doc.gate.state).toBe('approved');
    expect(doc.gate.approvals.map((v) => v.by)).toEqual(['alice', 'bob']);

    const s = await statusUntil(id, (x) => x.state === 'awaiting-resolve');
    expect(s.steps.find((x) => x.id === 'lockdown')).toMatchObject({ action: 'lockdown.enable', state: 'succeeded' });
    expect(s.activeContainment).toEqual(['lockdown']);
    expect(await stack.redis.redis.get(stack.flagKey)).toBe('1');
  });

  it('note, then resolve as carol: the incident completes and the flag is lifted', async () => {
    const n = await cli(['note', id, 'token', 'rotated', 'upstream']);
    expectExit(n, 0);
    expect(n.stdout).toContain(`${id}: note added`);

    const r = await cli(['resolve', id], 'carol');
    expectExit(r, 0);
    expect(r.stdout).toContain(`${id}: all-clear 1/1 (approved)`);

    const s = await statusUntil(id, (x) => x.state === 'completed');
    expect(s.phase).toBe('done');
    expect(s.steps.find((x) => x.id === 'lockdown')?.state).toBe('undone');
    expect(s.activeContainment).toEqual([]);
    expect(await stack.redis.redis.get(stack.flagKey)).toBeNull();
  });

  it('list --json has the incident; the human status shows every phase and the note', async () => {
    // Visibility is eventually consistent; it normally has the incident at once.
    let incidents: Array<{ id: string; status: string; runbook?: string }> = [];
    const deadline = Date.now() + 10_000;
    do {
      incidents = okJson<{ incidents: typeof incidents }>(await cli(['list', '--json', '--limit', '1000'])).incidents;
    } while (!incidents.some((i) => i.id === id) && Date.now() < deadline);
    expect(incidents.find((i) => i.id === id)).toMatchObject({ runbook: 'token-leak' });

    const r = await cli(['status', id, '--timeline', '100']);
    expectExit(r, 0);
    expect(r.stdout).toContain(`${id}  Leaked access or refresh token`);
    expect(r.stdout).toContain('state completed');
    for (const title of ['I. Detection & analysis', 'II. Containment', 'III. Eradication & recovery', 'IV. Post-mortem & notification']) {
      expect(r.stdout).toContain(title);
    }
    expect(r.stdout).toContain('token rotated upstream');
  });
});

describe('declare --wait, then abort', () => {
  it('returns once the gate is open; abort ends the incident', async () => {
    const res = okJson<{ ok: boolean; id: string; existing: boolean; status: StatusJson }>(await cli(['declare', 'token-leak', '--set', 'lockdown=true', '--wait', '--json']));
    expect(res).toMatchObject({ ok: true, existing: false });
    expect(res.status.id).toBe(res.id);
    expect(res.status.state).toBe('awaiting-approval');
    expect(res.status.gates.find((g) => g.id === 'lockdown')?.state).toBe('open');

    const a = okJson<{ ok: boolean; id: string; state: string }>(await cli(['abort', res.id, '--reason', 'test', '--json']));
    expect(a).toMatchObject({ ok: true, id: res.id });
    expect(['aborting', 'aborted']).toContain(a.state);

    const s = await statusUntil(res.id, (x) => x.state === 'aborted');
    expect(s.abortReason).toBe('test');
    expect(s.gates.find((g) => g.id === 'lockdown')?.state).toBe('cancelled');
    expect(await stack.redis.redis.get(stack.flagKey)).toBeNull();
  });
});

describe('lockdown on|off', () => {
  it('on sets and verifies the flag; a second on returns the open incident; off needs another responder', async () => {
    const on = okJson<{ ok: boolean; id: string; existing: boolean; status: StatusJson }>(await cli(['lockdown', 'on', '--json']));
    expect(on).toMatchObject({ ok: true, existing: false });
    expect(on.status.state).toBe('awaiting-resolve');
    expect(on.status.steps.find((x) => x.action === 'lockdown.enable')?.state).toBe('succeeded');
    expect(await stack.redis.redis.get(stack.flagKey)).toBe('1');

    const again = okJson<{ id: string; existing: boolean }>(await cli(['lockdown', 'on', '--json']));
    expect(again).toMatchObject({ id: on.id, existing: true });

    expectOneLineError(await cli(['lockdown', 'off']), 1, /two-person rule/);
    expect(await stack.redis.redis.get(stack.flagKey)).toBe('1');

    // `off` returns once containment is lifted: the flag is already gone (polled anyway, it is cheap).
    const off = okJson<{ ok: boolean; id: string; state: string; gate: { state: string } }>(await cli(['lockdown', 'off', '--json'], 'alice'));
    expect(off).toMatchObject({ ok: true, id: on.id, state: 'completed', gate: { state: 'approved' } });
    expect(await flagBecomes(null)).toBeNull();
  });

  it('off exits 1 when the flag could not be lifted', async () => {
    // The key turned into a hash after enable: the undo's GET fails (WRONGTYPE) on every attempt,
    // so the all-clear blocks with containment in force. Target prod (its own flag and dedup key),
    // so visibility lagging behind the close of the previous lockdown incident cannot hand it back.
    const { redis } = stack.redis;
    const flag = djangoKey({ keyPrefix: `${stack.redis.prefix}-prod`, keyVersion: 1 }, LOCKDOWN_KEY);
    try {
      const on = okJson<{ id: string; existing: boolean }>(await cli(['lockdown', 'on', '--target', 'prod', '--json']));
      expect(on.existing).toBe(false);
      expect(await redis.get(flag)).toBe('1');
      await redis.del(flag);
      await redis.hset(flag, 'not', 'a string');
      const off = await cli(['lockdown', 'off', '--target', 'prod'], 'bob');
      expectOneLineError(off, 1, new RegExp(`^firebreak: lockdown not lifted: incident ${on.id} is blocked with the flag still set`));
      await redis.del(flag);
      await cli(['abort', on.id, '--reason', 'test cleanup']);
    } finally {
      await redis.del(flag);
    }
  });
});

describe('operation failures', () => {
  it('status of an unknown incident exits 1 with one line and no stack trace', async () => {
    expectOneLineError(await cli(['status', 'INC-does-not-exist']), 1, /^firebreak: no incident INC-does-not-exist$/);
  });

  it('--verbose adds the stack trace', async () => {
    const r = await cli(['status', 'INC-does-not-exist', '--verbose']);
    expectExit(r, 1);
    expect(r.stderr.split('\n')[0]).toBe('firebreak: no incident INC-does-not-exist');
    expect(r.stderr).toMatch(STACK_LINE);
  });
});
