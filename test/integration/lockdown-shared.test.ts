/**
 * The scenario end to end (issue 11 §2): `firebreak lockdown on`, then a token-leak
 * incident whose approved lockdown step holds the same flag; `lockdown off` succeeds and says
 * the lockdown stays ON, held by the other incident, whose all-clear then lifts it.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { approveGate, declareIncident, resolveIncident, TERMINAL, waitFor } from '../../lib/incidents/index.js';
import { runCli } from '../helpers/cli.js';
import { DECLARER, startStack, type Stack } from '../helpers/firebreak.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack('lockdown-shared');
});
afterAll(async () => {
  await stack?.stop();
});

const cli = (args: string[], user = DECLARER) => runCli(args, { cwd: stack.dir, env: stack.cliEnv(user) });

it('lockdown off while another incident holds the flag: a success that says who still holds it; the last all-clear lifts it', async () => {
  const on = await cli(['lockdown', 'on', '--json']);
  expect(on.code, on.stderr).toBe(0);
  const lockdownId = (JSON.parse(on.stdout) as { id: string }).id;
  expect(await stack.redis.redis.get(stack.flagKey)).toBe('1');

  const { id: other } = await declareIncident(stack.client, stack.config, { runbook: 'token-leak', params: { reason: 'shared', lockdown: true }, actor: stack.actor(DECLARER) });
  await waitFor(stack.client, other, (s) => s.gates.some((g) => g.id === 'lockdown' && g.state === 'open'), { timeoutMs: 30_000 });
  await approveGate(stack.client, other, 'lockdown', stack.actor('alice'));
  await approveGate(stack.client, other, 'lockdown', stack.actor('bob'));
  const held = await waitFor(stack.client, other, (s) => s.state === 'awaiting-resolve', { timeoutMs: 30_000 });
  expect(held.steps.find((x) => x.id === 'lockdown')?.summary).toMatch(new RegExp(`^lockdown was already ON .* \\(also held by ${lockdownId}\\)$`));

  const off = await cli(['lockdown', 'off'], 'alice');
  expect(off.code, off.stderr).toBe(0);
  expect(off.stdout.trim()).toBe(`${lockdownId}: all-clear 1/1; incident completed; lockdown stays ON: still held by ${other}`);
  expect(await stack.redis.redis.get(stack.flagKey)).toBe('1');

  await resolveIncident(stack.client, other, stack.actor('carol'));
  const done = await waitFor(stack.client, other, (s) => TERMINAL.includes(s.state), { timeoutMs: 30_000 });
  expect(done.state).toBe('completed');
  expect(done.steps.find((x) => x.id === 'lockdown')).toMatchObject({ state: 'undone', summary: expect.stringMatching(/^lockdown off \(.* cleared, was 1\)$/) });
  expect(await stack.redis.redis.get(stack.flagKey)).toBeNull();
}, 120_000);

it('target check lists who holds the lockdown, and a hold whose incident was terminated as orphaned (exit 1)', async () => {
  const on = await cli(['lockdown', 'on', '--json']);
  expect(on.code, on.stderr).toBe(0);
  const lockdownId = (JSON.parse(on.stdout) as { id: string }).id;
  const { id: other } = await declareIncident(stack.client, stack.config, { runbook: 'token-leak', params: { reason: 'orphan test', lockdown: true }, actor: stack.actor(DECLARER) });
  await waitFor(stack.client, other, (s) => s.gates.some((g) => g.id === 'lockdown' && g.state === 'open'), { timeoutMs: 30_000 });
  await approveGate(stack.client, other, 'lockdown', stack.actor('alice'));
  await approveGate(stack.client, other, 'lockdown', stack.actor('bob'));
  await waitFor(stack.client, other, (s) => s.state === 'awaiting-resolve', { timeoutMs: 30_000 });

  const live = await cli(['target', 'check', stack.config.defaultTarget, '--json']);
  const before = JSON.parse(live.stdout) as { judgedHolds: Array<{ kind: string; holders: Array<{ incidentId: string; standing: string }> }>; checks: Array<{ check: string; state: string }> };
  const lockdown = before.judgedHolds.find((h) => h.kind === 'lockdown');
  expect(lockdown?.holders.map((h) => [h.incidentId, h.standing]).sort()).toEqual([[lockdownId, 'live'], [other, 'live']].sort());
  expect(before.checks.find((c) => c.check === 'containment holds')?.state).toBe('ok');

  // Terminated: nothing will ever release its hold.
  await stack.client.workflow.getHandle(`firebreak-${other}`).terminate('test: an operator terminated it');
  const after = await cli(['target', 'check', stack.config.defaultTarget]);
  expect(after.code).toBe(1);
  expect(after.stdout).toMatch(new RegExp(`WARN\\s+containment holds\\s+1 orphaned hold, nothing will release it: lockdown lockdown held by ${other} \\(incident terminated: nothing will release it\\)`));
  expect(after.stdout).toMatch(new RegExp(`ORPHANED\\s+lockdown\\s+lockdown\\s+${other} \\(lockdown, since `));
  expect(after.stdout).toMatch(new RegExp(`live\\s+lockdown\\s+lockdown\\s+${lockdownId} `));
  // The lockdown incident's all-clear leaves the flag ON: the orphan still holds it.
  const off = await cli(['lockdown', 'off'], 'alice');
  expect(off.stdout.trim()).toBe(`${lockdownId}: all-clear 1/1; incident completed; lockdown stays ON: still held by ${other}`);
  expect(await stack.redis.redis.get(stack.flagKey)).toBe('1');
}, 120_000);
