/**
 * Bad input is found before anything acts: the front door refuses what it can
 * judge (nothing started), the worker rejects the rest with its own config and
 * files (state rejected, every problem listed, nothing done), and
 * `declare --wait` says so in its exit code.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentsError } from '../../lib/errors.js';
import { approveGate, declareIncident, getStatus, TERMINAL, waitFor } from '../../lib/incidents/index.js';
import type { IncidentStatus } from '../../workflows/definitions.js';
import { runCli } from '../helpers/cli.js';
import { DECLARER, startStack, type Stack } from '../helpers/firebreak.js';

let stack: Stack;

const RUNBOOK = [
  'name: bad-input',
  'title: Bad input',
  'severity: high',
  'params:',
  '  ips: { type: "string[]", default: [] }',
  '  file: { type: string, default: "" }',
  '  ro: { type: boolean, default: false }',
  'resolve:',
  '  approval: { count: 1, group: responders }',
  'phases:',
  '  detection:',
  '    - id: flag-before',
  '      action: lockdown.status',
  '  containment:',
  '    - id: lockdown',
  '      action: lockdown.enable',
  '    - id: ban',
  '      action: network.ban_ips',
  '      when: params.ips',
  '      with: { addresses: "{{ params.ips }}" }',
  '    - id: bulk',
  '      action: network.ban_ips',
  '      when: params.file',
  '      with: { addresses_file: "{{ params.file }}" }',
  '    - id: ro',
  '      action: database.read_only',
  '      when: params.ro',
].join('\n');

// A step whose arguments come from a step output that does not exist: it fails when it runs.
const BLOCKS = [
  'name: blocks',
  'title: Blocks at run time',
  'severity: high',
  'resolve:',
  '  approval: { count: 1, group: responders }',
  'phases:',
  '  detection:',
  '    - id: flag-before',
  '      action: lockdown.status',
  '  containment:',
  '    - id: ban',
  '      action: network.ban_ips',
  '      with: { addresses: "{{ steps.flag-before.output.nope }}" }',
].join('\n');

beforeAll(async () => {
  stack = await startStack('validate');
  stack.writeRunbook('bad-input', RUNBOOK);
  stack.writeRunbook('blocks', BLOCKS);
});
afterAll(async () => {
  await stack?.stop();
});

const declare = (params: Record<string, string | string[] | boolean>, extra: { mode?: string; dedupKey?: string } = {}) =>
  declareIncident(stack.client, stack.config, { runbook: 'bad-input', params, actor: stack.actor(DECLARER), ...extra });
const settled = (id: string): Promise<IncidentStatus> =>
  waitFor(stack.client, id, (s) => TERMINAL.includes(s.state) || s.state === 'blocked' || s.state === 'awaiting-approval' || s.state === 'awaiting-resolve', { timeoutMs: 30_000, intervalMs: 100 });

/** Every Redis key of this stack's target (ban keys, registry, lockdown flag, undo records). */
const targetKeys = async (): Promise<string[]> => (await stack.redis.redis.keys(`*${stack.redis.prefix}*`)).sort();

async function started(dedupKey: string): Promise<number> {
  let n = 0;
  for await (const _ of stack.client.workflow.list({ query: `FirebreakDedupKey = '${dedupKey}'` })) n += 1;
  return n;
}

describe('front door', () => {
  it('refuses bad inline addresses before anything starts, every problem listed', async () => {
    const key = `fd-${Date.now()}`;
    const err = await declare({ ips: ['10.0.0.1/33', '127.0.0.1', 'not-an-ip', '192.0.2.7'] }, { dedupKey: key }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentsError);
    const problems = (err as InvalidArgumentsError).problems;
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^step ban \(network\.ban_ips\): addresses\[0\]: /);
    expect(problems[1]).toMatch(/addresses\[1\]: 127\.0\.0\.1\/32 overlaps 127\.0\.0\.0\/8 \(loopback\), which is never banned/);
    expect(problems[2]).toMatch(/addresses\[2\]: /);
    expect((err as InvalidArgumentsError).exitCode).toBe(2);
    expect(await started(key)).toBe(0);
  });

  it('applies the target ban policy (broadest prefix) too', async () => {
    const err = (await declare({ ips: ['10.0.0.0/8'] }).catch((e: unknown) => e)) as InvalidArgumentsError;
    expect(err.problems).toEqual([expect.stringMatching(/10\.0\.0\.0\/8 is broader than \/16.*network\.minPrefixV4/)]);
  });
});

describe('worker', () => {
  it('rejects what only the worker can judge: nothing runs, every problem listed, Redis untouched', async () => {
    const before = await targetKeys();
    const { id } = await declare({ file: '/nonexistent/firebreak-bans.txt', ro: true });
    const s = await settled(id);
    expect(s.state).toBe('rejected');
    expect(s.phase).toBe('done');
    expect(s.rejection).toEqual([
      { step: 'bulk', action: 'network.ban_ips', message: `addresses_file /nonexistent/firebreak-bans.txt is outside the worker's inputs folder (${stack.config.inputsDir}); only files there are read` },
      { step: 'ro', action: 'database.read_only', message: 'target "local" has no postgres section in config' },
    ]);
    expect(s.steps.every((x) => x.state === 'pending')).toBe(true);
    expect(s.steps.find((x) => x.id === 'ro')?.error).toMatch(/no postgres section/);
    expect(s.timeline.at(-1)?.message).toMatch(/incident rejected before any step ran, nothing was done: 2 problem/);
    expect(await stack.redis.redis.get(stack.flagKey)).toBeNull();
    expect(await targetKeys()).toEqual(before);
    const desc = await stack.client.workflow.getHandle(`firebreak-${id}`).describe();
    expect(desc.status.name).toBe('COMPLETED');
    expect(desc.searchAttributes.FirebreakState).toEqual(['rejected']);
  });

  it('rejects a dry-run with bad input the same way', async () => {
    const { id } = await declare({ file: '/nonexistent/firebreak-bans.txt' }, { mode: 'dry-run' });
    const s = await settled(id);
    expect(s.state).toBe('rejected');
    expect(s.rejection?.map((p) => p.step)).toEqual(['bulk']);
    expect(s.steps.every((x) => x.state === 'pending')).toBe(true);
  });

  it('a valid bulk file passes and the incident runs', async () => {
    // File arguments are read from the worker's inputs folder (default <dataDir>/inputs), by name.
    mkdirSync(stack.config.inputsDir, { recursive: true });
    writeFileSync(join(stack.config.inputsDir, 'bans.txt'), '# attackers\n198.51.100.7\n');
    const { id } = await declare({ file: 'bans.txt' }, { mode: 'dry-run' });
    const s = await settled(id);
    expect(s.rejection).toBeUndefined();
    expect(s.steps.find((x) => x.id === 'bulk')?.state).toBe('planned');
  });
});

describe('declare --wait exit codes', () => {
  const cli = (args: string[]) => runCli(args, { cwd: stack.dir, env: stack.cliEnv(DECLARER), timeoutMs: 60_000 });

  it('front-door rejection: exit 2, every problem on stderr, nothing started', async () => {
    const key = `cli-fd-${Date.now()}`;
    const r = await cli(['declare', 'bad-input', '--set', 'ips=300.1.1.1', '--set', 'ips=::1', '--dedup-key', key, '--wait']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/invalid step arguments, nothing was started/);
    expect(r.stderr).toMatch(/step ban \(network\.ban_ips\): addresses\[0\]/);
    expect(r.stderr).toMatch(/addresses\[1\]: ::1\/128 overlaps ::1\/128 \(loopback\)/);
    expect(await started(key)).toBe(0);
  });

  it('worker rejection: exit 2 with the rejected status', async () => {
    const r = await cli(['declare', 'bad-input', '--set', 'file=/nonexistent/x.txt', '--wait', '--json']);
    expect(r.code, r.stderr).toBe(2);
    const out = JSON.parse(r.stdout) as { ok: boolean; status: { state: string; rejection: Array<{ step: string }> } };
    expect(out.ok).toBe(false);
    expect(out.status.state).toBe('rejected');
    expect(out.status.rejection.map((p) => p.step)).toEqual(['bulk']);
  });

  it('blocked: exit 1', async () => {
    const r = await cli(['declare', 'blocks', '--wait', '--json']);
    expect(r.code, r.stderr).toBe(1);
    const out = JSON.parse(r.stdout) as { id: string; status: { state: string } };
    expect(out.status.state).toBe('blocked');
    expect((await getStatus(stack.client, out.id)).steps.find((x) => x.id === 'ban')?.error).toMatch(/cannot resolve \{\{ steps\.flag-before\.output\.nope \}\}/);
  });

  it('waiting at a gate: exit 0', async () => {
    const r = await cli(['declare', 'token-leak', '--set', 'lockdown=true', '--wait', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { id: string; status: { state: string } };
    expect(out.status.state).toBe('awaiting-approval');
    // The refusal says where approver groups are configured.
    const escaped = stack.configFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    await expect(approveGate(stack.client, out.id, 'lockdown', stack.actor('mallory'))).rejects.toThrow(
      new RegExp(`mallory is not an approver in group "responders" \\(members: alice, bob, carol; configure approvers\\.groups\\.responders in ${escaped}\\)`),
    );
  });
});
