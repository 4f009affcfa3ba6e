/**
 * `firebreak bans list|show|lift` and `firebreak target check` as users run
 * them (a real CLI process per call) against real Temporal, Redis, PostgreSQL
 * and nginx, with an in-process worker. App processes are simulated by writing
 * their reader heartbeat keys; a ban is lifted by two different users and the
 * Redis key, registry entry and nginx deny line are read back before and after.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/config.js';
import { declareIncident, waitFor } from '../../lib/incidents/index.js';
import { BAN_REGISTRY, contractKeys, djangoKey, ownKey, readerKey, READER_TTL_SECONDS } from '../../lib/redis-keys.js';
import type { ExpiryInput } from '../../workflows/expiry.js';
import { createAppDatabase, type AppDatabase } from '../helpers/app-db.js';
import { APPROVERS, DECLARER, startStack, type Stack } from '../helpers/firebreak.js';
import { startNginx, type Nginx } from '../helpers/nginx.js';

const BIN = join(PROJECT_ROOT, 'bin/firebreak.js');
const UNSET_ENV = `FBT_INSPECT_UNSET_${process.pid}`;

let stack: Stack;
let nginx: Nginx;
let app: AppDatabase;
let banIncident: string;

const RUNBOOK = [
  'name: ban-only',
  'title: Ban only',
  'severity: low',
  'params:',
  '  addresses: { type: "string[]", default: [] }',
  'phases:',
  '  containment:',
  '    - id: ban',
  '      action: network.ban_ips',
  '      with: { addresses: "{{ params.addresses }}", reason: scanner seen in logs }',
].join('\n');

beforeAll(async () => {
  nginx = await startNginx();
  app = await createAppDatabase('inspect');
  const pwFile = join(nginx.dir, 'pg-password');
  writeFileSync(pwFile, 'not-used-with-trust-auth\n', { mode: 0o600 });
  stack = await startStack('inspect', {
    targetExtra: [
      `    ${nginx.targetYaml}`,
      `    postgres: { adminUrl: "postgres://postgres@127.0.0.1:5432/postgres", password: { file: "${pwFile}" }, database: "${app.name}", appRole: "${app.role}" }`,
      `    slack: { webhook: { env: ${UNSET_ENV} } }`,
    ].join('\n'),
  });
  stack.writeRunbook('ban-only', RUNBOOK);
}, 60_000);
afterAll(async () => {
  await stack?.stop();
  await app?.cleanup();
  await nginx?.stop();
});

interface CliResult {
  args: string[];
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], user: string = DECLARER): Promise<CliResult> {
  const env = stack.cliEnv(user);
  delete env[UNSET_ENV];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: stack.dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ args, code, stdout, stderr }));
  });
}

const show = (r: CliResult) => `firebreak ${r.args.join(' ')} → exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
function json<T = Record<string, unknown>>(r: CliResult, code = 0): T {
  expect(r.code, show(r)).toBe(code);
  return JSON.parse(r.stdout) as T;
}

const space = () => ({ keyPrefix: stack.redis.prefix, keyVersion: 1 });
const banKey = (net: string) => djangoKey(space(), contractKeys.ban(net));
const registry = () => ownKey(space(), BAN_REGISTRY);
const denyLines = () => readFileSync(nginx.denyFile, 'utf8').split('\n').filter((l) => l.startsWith('deny '));
/** An app process's heartbeat, as the middleware writes it. */
async function heartbeat(keyPrefix: string, keyVersion: number, host: string, pid: number, agoSeconds = 0): Promise<number> {
  const seen = Math.floor(Date.now() / 1000) - agoSeconds;
  await stack.redis.redis.set(djangoKey({ keyPrefix, keyVersion }, readerKey(host, pid)), String(seen), 'EX', READER_TTL_SECONDS);
  return seen;
}

interface Ban {
  network: string;
  until: string | null;
  relation?: string;
  bannedBy: Array<{ incident: string; step: string; reason?: string }>;
  holders: Array<{ incidentId: string; stepId: string; until?: string }>;
}
interface Check {
  check: string;
  state: string;
  detail: string;
}

describe('bans', () => {
  it('bans through an incident, then list and show give the worker view with who banned it', async () => {
    const declared = await declareIncident(stack.client, stack.config, {
      runbook: 'ban-only',
      params: { addresses: ['203.0.113.77', '198.51.100.0/24'] },
      actor: stack.actor(DECLARER),
    });
    banIncident = declared.id;
    const s = await waitFor(stack.client, banIncident, (x) => x.state === 'completed' || x.state === 'blocked', { timeoutMs: 30_000 });
    expect(s.state).toBe('completed');
    expect(await stack.redis.redis.get(banKey('203.0.113.77/32'))).not.toBeNull();

    const list = json<{ ok: boolean; total: number; bans: Ban[] }>(await cli(['bans', 'list', '--json']));
    expect(list.total).toBe(2);
    expect(list.bans.map((b) => b.network)).toEqual(['198.51.100.0/24', '203.0.113.77/32']);
    for (const b of list.bans) {
      expect(b.bannedBy).toEqual([expect.objectContaining({ incident: banIncident, step: 'ban' })]);
      // The reason is free text from the parameters: never written to the target, so not shown (issue 11 §3).
      expect(b.bannedBy[0]).not.toHaveProperty('reason');
      expect(b.holders).toEqual([expect.objectContaining({ incidentId: banIncident, stepId: 'ban', until: b.until })]);
      expect(Date.parse(b.until ?? '') - Date.now()).toBeGreaterThan(71 * 3600 * 1000);
    }
    const human = await cli(['bans', 'list']);
    expect(human.code, show(human)).toBe(0);
    expect(human.stdout).toContain(`203.0.113.77/32`);
    expect(human.stdout).toContain(`by ${banIncident}/ban`);

    const covered = json<{ banned: boolean; bans: Ban[] }>(await cli(['bans', 'show', '198.51.100.9', '--json']));
    expect(covered.banned).toBe(true);
    expect(covered.bans).toEqual([expect.objectContaining({ network: '198.51.100.0/24', relation: 'covers' })]);
    const none = json<{ banned: boolean; bans: Ban[] }>(await cli(['bans', 'show', '192.0.2.1', '--json']));
    expect(none).toMatchObject({ banned: false, bans: [] });
  }, 60_000);

  it('refuses bad addresses before anything starts (exit 2) and what is not banned (exit 1)', async () => {
    const bad = await cli(['bans', 'lift', '10.0.0.1/8', '--reason', 'x']);
    expect(bad.code, show(bad)).toBe(2);
    expect(bad.stderr).toContain('did you mean 10.0.0.0/8');
    expect((await cli(['bans', 'show', 'nope'])).code).toBe(2);
    expect((await cli(['bans', 'lift', '203.0.113.77'])).code).toBe(2); // --reason is required
    const notBanned = json<{ ok: boolean; error: { message: string } }>(await cli(['bans', 'lift', '192.0.2.1', '--reason', 'x', '--json']), 1);
    expect(notBanned.error.message).toMatch(/192\.0\.2\.1\/32 is not banned/);
    const broader = await cli(['bans', 'lift', '198.51.100.9', '--reason', 'x']);
    expect(broader.code, show(broader)).toBe(1);
    expect(broader.stderr).toContain('covered by 198.51.100.0/24: lift that instead');
  }, 60_000);

  it('lift needs one other responder: untouched before the approval, gone after; the old expiry is harmless', async () => {
    const alice = APPROVERS[0] as string;
    const bob = APPROVERS[1] as string;
    const lifted = '203.0.113.77/32';
    const asked = json<{ id: string; state: string; gate: { id: string; required: number; group: string } }>(
      await cli(['bans', 'lift', '203.0.113.77', '--reason', 'customer office NAT, false positive', '--json'], alice),
    );
    expect(asked).toMatchObject({ state: 'awaiting-approval', gate: { id: 'lift', required: 1, group: 'responders' } });
    // Asked again: the same incident (dedup key), not a second one.
    const again = json<{ id: string; existing: boolean }>(await cli(['bans', 'lift', '203.0.113.77', '--reason', 'again', '--json'], alice));
    expect(again).toMatchObject({ id: asked.id, existing: true });

    const untouched = async () => {
      expect(await stack.redis.redis.get(banKey(lifted))).not.toBeNull();
      expect(await stack.redis.redis.zscore(registry(), lifted)).not.toBeNull();
      expect(denyLines()).toContain(`deny ${lifted};`);
    };
    await untouched();
    const self = await cli(['approve', asked.id, 'lift'], alice);
    expect(self.code, show(self)).toBe(1);
    await untouched();

    const ok = await cli(['approve', asked.id, 'lift'], bob);
    expect(ok.code, show(ok)).toBe(0);
    const done = await waitFor(stack.client, asked.id, (x) => x.state === 'completed' || x.state === 'blocked', { timeoutMs: 30_000 });
    expect(done.state).toBe('completed');
    expect(done.steps.find((x) => x.id === 'lift')?.summary).toMatch(/^lifted 1 of 1 network/);
    expect(await stack.redis.redis.exists(banKey(lifted))).toBe(0);
    expect(await stack.redis.redis.zscore(registry(), lifted)).toBeNull();
    expect(denyLines()).toEqual(['deny 198.51.100.0/24;']);
    expect(await stack.redis.redis.get(banKey('198.51.100.0/24'))).not.toBeNull();

    // The original ban's timer fires (here: now): it drops only ended bans, so nothing comes back and the other ban stays.
    const expiry: ExpiryInput = { incidentId: banIncident, stepId: 'ban', target: 'local', mode: 'live', action: 'network.expire_bans', args: {}, at: new Date().toISOString() };
    const result = (await stack.client.workflow.execute('ExpiryWorkflow', {
      workflowId: `firebreak-test-expiry-${asked.id}`,
      taskQueue: stack.config.temporal.taskQueue,
      args: [expiry],
    })) as { summary: string };
    expect(result.summary).toMatch(/^dropped 0 ended bans .*; 1 active/);
    expect(await stack.redis.redis.exists(banKey(lifted))).toBe(0);
    expect(await stack.redis.redis.zscore(registry(), lifted)).toBeNull();
    expect(denyLines()).toEqual(['deny 198.51.100.0/24;']);
    const list = json<{ total: number; bans: Ban[] }>(await cli(['bans', 'list', '--json']));
    expect(list.bans.map((b) => b.network)).toEqual(['198.51.100.0/24']);
  }, 90_000);
});

describe('target check and namespace readers', () => {
  it('reports every check from the worker; no reader is a loud warning naming the namespace apps do read', async () => {
    // An app process reading version 2 while the target says version 1: the mismatch.
    await heartbeat(stack.redis.prefix, 2, 'web-1', 4242);
    const raw = await cli(['target', 'check', 'local', '--json']);
    expect(raw.stdout).not.toContain('not-used-with-trust-auth');
    const r = json<{ ok: boolean; worker: string; checks: Check[] }>(raw, 1);
    expect(r.ok).toBe(false);
    const by = new Map(r.checks.map((c) => [c.check, c]));
    expect(by.get('redis reachable')?.state).toBe('ok');
    expect(by.get('namespace readers')).toMatchObject({ state: 'warn' });
    expect(by.get('namespace readers')?.detail).toContain(`no app process has read ${stack.redis.prefix}:1 in the last 60 s — is KEY_PREFIX/VERSION right?`);
    expect(by.get('namespace readers')?.detail).toContain(`app processes do read ${stack.redis.prefix}:2 (1)`);
    expect(by.get('postgres admin')?.state).toBe('ok');
    expect(by.get('postgres app')).toMatchObject({ state: 'ok', detail: `connected as ${app.role} to ${app.name}` });
    expect(by.get('secret postgres.password')?.state).toBe('ok');
    expect(by.get('secret slack.webhook')).toMatchObject({ state: 'fail', detail: `secret environment variable ${UNSET_ENV} is not set` });
    expect(by.get('nginx deny file')?.state).toBe('ok');
    expect(by.get('nginx test')?.state).toBe('ok');
    expect(by.get('github')?.state).toBe('skip');

    const human = await cli(['target', 'check', 'local']);
    expect(human.code, show(human)).toBe(1);
    expect(human.stdout).toMatch(/WARN {2}namespace readers/);
    expect(human.stdout).toMatch(/FAIL {2}secret slack\.webhook/);
    expect(human.stdout).toContain('!!! no app process has read');
    expect(human.stdout).not.toContain('not-used-with-trust-auth');
  }, 60_000);

  it('counts the readers of the namespace with newest and oldest last-seen; all ok exits 0', async () => {
    const newest = await heartbeat(`${stack.redis.prefix}-prod`, 1, 'web-1', 100, 1);
    const oldest = await heartbeat(`${stack.redis.prefix}-prod`, 1, 'web-2', 200, 9);
    const r = json<{ ok: boolean; checks: Check[]; readers: { count: number; newest: string; oldest: string; namespace: string } }>(await cli(['target', 'check', 'prod', '--json']));
    expect(r.ok).toBe(true);
    expect(r.readers).toMatchObject({ count: 2, namespace: `${stack.redis.prefix}-prod:1` });
    expect(r.readers.newest).toBe(new Date(newest * 1000).toISOString());
    expect(r.readers.oldest).toBe(new Date(oldest * 1000).toISOString());
    const human = await cli(['target', 'check', 'prod']);
    expect(human.code, show(human)).toBe(0);
    expect(human.stdout).toContain('all checks ok');
    expect((await cli(['target', 'check', 'nope'])).code).toBe(2);
  }, 60_000);

  it('lockdown on says loudly when nobody reads the namespace, and how many do', async () => {
    const on = json<{ id: string; status: { steps: Array<{ id: string; summary: string | null }> } }>(await cli(['lockdown', 'on', '--json']));
    const summary = on.status.steps.find((x) => x.id === 'lockdown')?.summary ?? '';
    expect(summary).toContain(`WARNING: no app process has read ${stack.redis.prefix}:1 in the last 60 s — is KEY_PREFIX/VERSION right?`);
    const status = await cli(['status', on.id]);
    expect(status.stdout).toContain('no app process has read');
    expect((await cli(['abort', on.id, '--reason', 'test done'])).code).toBe(0);
    await waitFor(stack.client, on.id, (x) => x.state === 'aborted', { timeoutMs: 30_000 });

    await heartbeat(stack.redis.prefix, 1, 'web-1', 7);
    const again = json<{ id: string; status: { steps: Array<{ id: string; summary: string | null; proof: Record<string, unknown> | null }> } }>(await cli(['lockdown', 'on', '--json']));
    const step = again.status.steps.find((x) => x.id === 'lockdown');
    expect(step?.summary).toContain(`1 app process reads ${stack.redis.prefix}:1 (last seen `);
    expect(step?.proof?.readers).toMatchObject({ count: 1, processes: ['web-1:7'] });
    expect((await cli(['abort', again.id, '--reason', 'test done'])).code).toBe(0);
    await waitFor(stack.client, again.id, (x) => x.state === 'aborted', { timeoutMs: 30_000 });
  }, 90_000);
});
