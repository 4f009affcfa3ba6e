/** Signing keys at the CLI: `keys init|show`, and a responder who keeps their key in ssh-agent (SSHSIG), verified by the workflow. */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parsePublicLine } from '../../lib/identity/registry.js';
import { declareIncident, getStatus, waitFor } from '../../lib/incidents/index.js';
import { runCli } from '../helpers/cli.js';
import { DECLARER, startStack, type Stack } from '../helpers/firebreak.js';
import { startAgent, type TestAgent } from '../helpers/ssh-agent.js';

let agent: TestAgent;
let stack: Stack;
let agentLine: string;

beforeAll(async () => {
  agent = await startAgent();
  agentLine = `ssh-ed25519 ${agent.keygen('bob').split(' ')[1]} bob`;
  agent.add('bob');
  stack = await startStack('sshcli', { extraKeys: { bob: [agentLine] } });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  agent?.stop();
});

const cli = (args: string[], env: NodeJS.ProcessEnv) => runCli(args, { cwd: stack.dir, env });

it('FIREBREAK_SIGN_WITH=ssh-agent: bob approves with his agent key; as carol the same key is refused', async () => {
  const { id } = await declareIncident(stack.client, stack.config, { runbook: 'token-leak', params: { lockdown: true }, actor: stack.actor(DECLARER) });
  await waitFor(stack.client, id, (s) => s.gates.some((g) => g.id === 'lockdown' && g.state === 'open'));
  const agentKeyId = (parsePublicLine(agentLine) as { ok: true; value: { key: { id: string } } }).value.key.id;
  // No key file for this person: only the agent signs.
  const viaAgent = (user: string) => stack.cliEnv(user, { FIREBREAK_SIGN_WITH: 'ssh-agent', SSH_AUTH_SOCK: agent.socket, XDG_CONFIG_HOME: join(stack.dir, 'nobody') });
  const asCarol = await cli(['approve', id, 'lockdown'], viaAgent('carol'));
  expect(asCarol.code).toBe(1);
  expect(asCarol.stderr).toContain(`key ${agentKeyId} is bob's, not carol's`);
  const ok = await cli(['--json', 'approve', id, 'lockdown'], viaAgent('bob'));
  expect(ok.code).toBe(0);
  const vote = (await getStatus(stack.client, id)).gates.find((g) => g.id === 'lockdown')?.approvals[0];
  expect(vote).toMatchObject({ by: 'bob', via: 'personal', keyId: agentKeyId });
  expect(vote?.signed?.format).toBe('sshsig');
  expect(await stack.redis.redis.get(stack.flagKey)).toBeNull();
  const noAgent = await cli(['approve', id, 'lockdown'], stack.cliEnv('alice', { FIREBREAK_SIGN_WITH: 'ssh-agent', SSH_AUTH_SOCK: join(agent.dir, 'none.sock') }));
  expect(noAgent.code).toBe(1);
  expect(noAgent.stderr).toMatch(/cannot reach ssh-agent at .*none\.sock/);
  await stack.client.workflow.getHandle(`firebreak-${id}`).terminate('test done');
});

it('keys init writes a 0600 key in a 0700 folder and prints the public line; a second init refuses; keys show agrees', async () => {
  const home = join(stack.dir, 'fresh-home');
  const env = stack.cliEnv('erin', { XDG_CONFIG_HOME: home });
  const made = await cli(['--json', 'keys', 'init'], env);
  expect(made.code).toBe(0);
  const view = JSON.parse(made.stdout) as { keyId: string; path: string; publicLine: string; user: string };
  expect(view.path).toBe(join(home, 'firebreak', 'ed25519.key'));
  expect(statSync(view.path).mode & 0o777).toBe(0o600);
  expect(statSync(join(home, 'firebreak')).mode & 0o777).toBe(0o700);
  expect(view.publicLine).toBe(`ed25519 ${view.publicLine.split(' ')[1]} erin ${view.keyId}`);
  expect(parsePublicLine(view.publicLine).ok).toBe(true);
  expect(made.stdout + made.stderr).not.toContain('PRIVATE KEY');
  const again = await cli(['keys', 'init'], env);
  expect(again.code).toBe(1);
  expect(again.stderr).toMatch(/already exists: keeping it \(pass --force/);
  const shown = JSON.parse((await cli(['--json', 'keys', 'show'], env)).stdout) as { keyId: string };
  expect(shown.keyId).toBe(view.keyId);
  const agentView = JSON.parse((await cli(['--json', 'keys', 'show'], { ...env, FIREBREAK_SIGN_WITH: 'ssh-agent', SSH_AUTH_SOCK: agent.socket })).stdout) as { keyId: string };
  expect(agentView.keyId).toBe((parsePublicLine(agentLine) as { ok: true; value: { key: { id: string } } }).value.key.id);
  const none = await cli(['keys', 'show'], stack.cliEnv('erin', { XDG_CONFIG_HOME: join(stack.dir, 'nobody') }));
  expect(none.code).toBe(1);
  expect(none.stderr).toMatch(/no signing key at .*: create one with `firebreak keys init`/);
});
