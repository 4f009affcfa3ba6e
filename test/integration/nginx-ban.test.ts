/**
 * IP bans enforced by a real nginx (Debian package) through real incidents:
 * a ban makes nginx answer 403 to the banned client and 200 to others; abort
 * lifts it; a ban that ends is dropped by the expiry action; the ban's durable
 * timer (ExpiryWorkflow) runs in Temporal's time-skipping test server against
 * the real Redis and nginx.
 *
 * Loopback is never banned (it is where a local proxy and health checks come
 * from), so the banned client is identified the way nginx behind a load
 * balancer identifies it: the realip module takes X-Real-IP from 127.0.0.1.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { createActivities, TargetClients } from '../../activities/index.js';
import { createNetworkActivities } from '../../activities/network/index.js';
import { abortIncident, declareIncident, getStatus, TERMINAL, waitFor } from '../../lib/incidents/index.js';
import { createLogger } from '../../lib/logger.js';
import { BAN_REGISTRY, contractKeys, djangoKey, ownKey } from '../../lib/redis-keys.js';
import { findTestServer } from '../../lib/temporal-bin.js';
import type { ActionInput, ActionResult, IncidentStatus } from '../../workflows/definitions.js';
import type { ExpiryInput } from '../../workflows/expiry.js';
import { DECLARER, startStack, type Stack } from '../helpers/firebreak.js';
import { get, startNginx, waitForStatus, type Nginx } from '../helpers/nginx.js';

let nginx: Nginx;
let stack: Stack;
let clients: TargetClients;
let acts: ReturnType<typeof createNetworkActivities>;

const RUNBOOK = [
  'name: ban-test',
  'title: Ban addresses, then hold for a human',
  'severity: low',
  'params:',
  '  addresses: { type: "string[]", default: [] }',
  'phases:',
  '  containment:',
  '    - id: ban',
  '      action: network.ban_ips',
  '      with: { addresses: "{{ params.addresses }}", reason: nginx test }',
  '      retry: { maximum_attempts: 2, initial_interval: 100ms }',
  '  recovery:',
  '    - id: hold',
  '      action: lockdown.status',
  '      approval: { count: 1, group: dba, escalate_after: 1h }',
].join('\n');

beforeAll(async () => {
  nginx = await startNginx({ serverExtra: ['set_real_ip_from 127.0.0.1;', 'real_ip_header X-Real-IP;'] });
  stack = await startStack('nginx-ban', { targetExtra: `    ${nginx.targetYaml}` });
  stack.writeRunbook('ban-test', RUNBOOK);
  clients = new TargetClients(stack.config);
  acts = createNetworkActivities({ config: stack.config, logger: createLogger({ level: 'silent', pretty: false }), clients });
});
afterAll(async () => {
  await clients?.close();
  await stack?.stop();
  await nginx?.stop();
});

const space = () => ({ keyPrefix: stack.redis.prefix, keyVersion: 1 });
const banKey = (net: string) => djangoKey(space(), contractKeys.ban(net));
const from = (ip: string) => ({ headers: { 'X-Real-IP': ip } });
const until = (id: string, pred: (s: IncidentStatus) => boolean, timeoutMs = 30_000) => waitFor(stack.client, id, pred, { timeoutMs, intervalMs: 100 });
const denyLines = () =>
  readFileSync(nginx.denyFile, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('deny '));

let n = 0;
const direct = (args: Record<string, unknown>, requestedAt = new Date().toISOString()): ActionInput => ({
  incidentId: `INC-NGX-${++n}`,
  stepId: 'ban',
  action: 'network.ban_ips',
  target: 'local',
  mode: 'live',
  args,
  requestedAt,
});

describe('IP bans enforced by nginx', () => {
  it('the worker runs the network activities', () => {
    const all = createActivities({ config: stack.config, logger: createLogger({ level: 'silent', pretty: false }), clients });
    // activities/index.ts must spread createNetworkActivities(deps) for incidents to ban anything.
    expect(Object.keys(all)).toEqual(expect.arrayContaining(['networkBanIps', 'networkUnbanIps', 'networkExpireBans']));
  });

  it('nginx serves everyone before any ban', async () => {
    expect(await get(nginx.port)).toEqual({ status: 200, body: 'ok\n' });
    expect((await get(nginx.port, { localAddress: '127.0.0.2' })).status).toBe(200);
    expect((await get(nginx.port, from('203.0.113.7'))).status).toBe(200);
  });

  it('an incident asked to ban loopback 127.0.0.2 is refused before it starts and nginx keeps serving it', async () => {
    // The front door runs network.ban_ips' own validator: nothing is started, nothing changes.
    await expect(declareIncident(stack.client, stack.config, { runbook: 'ban-test', params: { addresses: ['127.0.0.2'] }, actor: stack.actor(DECLARER) })).rejects.toThrow(
      /invalid step arguments, nothing was started:\n {2}step ban \(network\.ban_ips\): addresses\[0\]: 127\.0\.0\.2\/32 overlaps 127\.0\.0\.0\/8 \(loopback\), which is never banned/,
    );
    expect((await get(nginx.port, { localAddress: '127.0.0.2' })).status).toBe(200);
    expect(await stack.redis.redis.exists(banKey('127.0.0.2/32'))).toBe(0);
  });

  it('a ban through an incident: nginx answers 403 to the banned client only, an expiry timer is started, abort lifts it', async () => {
    const res = await declareIncident(stack.client, stack.config, {
      runbook: 'ban-test',
      params: { addresses: ['203.0.113.7', '2001:db8:7::/64'] },
      actor: stack.actor(DECLARER),
    });
    let s = await until(res.id, (x) => x.state === 'awaiting-approval');
    const ban = s.steps.find((x) => x.id === 'ban');
    expect(ban).toMatchObject({ state: 'succeeded', proof: { denyFile: { path: nginx.denyFile, lines: 2, reloaded: true } } });
    expect(ban?.summary).toMatch(/^banned 2 networks until .*Z \(2 new, 0 already banned\); nginx deny file .*: 2 lines, reloaded$/);
    expect(s.activeContainment).toEqual(['ban']);
    expect(denyLines()).toEqual(['deny 203.0.113.7/32;', 'deny 2001:db8:7::/64;']);

    await waitForStatus(nginx.port, 403, from('203.0.113.7'));
    expect((await get(nginx.port, from('2001:db8:7::5'))).status).toBe(403);
    expect((await get(nginx.port, from('203.0.113.8'))).status).toBe(200);
    expect((await get(nginx.port, from('2001:db8:8::5'))).status).toBe(200);
    expect((await get(nginx.port)).status).toBe(200);
    expect((await get(nginx.port, { localAddress: '127.0.0.2' })).status).toBe(200);

    // The app's key: the end (72 h from the step's start) with the matching TTL.
    const value = Number(await stack.redis.redis.get(banKey('203.0.113.7/32')));
    expect(value).toBeGreaterThan(Date.now() / 1000 + 72 * 3600 - 120);
    expect(await stack.redis.redis.ttl(banKey('203.0.113.7/32'))).toBeGreaterThan(72 * 3600 - 120);

    // The durable timer: an ExpiryWorkflow child, named in the timeline, sleeping until the end.
    const timer = s.timeline.find((t) => t.step === 'ban' && /expiry timer/.test(t.message));
    const timerId = /expiry timer (\S+) fires at (\S+)/.exec(timer?.message ?? '');
    expect(timerId?.[1]).toMatch(new RegExp(`^firebreak-${res.id}-ban-expiry-\\d+$`));
    expect(Date.parse(timerId?.[2] ?? '') / 1000).toBe(value);
    const child = stack.client.workflow.getHandle(timerId?.[1] as string);
    const described = await child.describe();
    expect(described.type).toBe('ExpiryWorkflow');
    expect(described.status.name).toBe('RUNNING');

    await abortIncident(stack.client, res.id, 'false positive', stack.actor(DECLARER));
    s = await until(res.id, (x) => TERMINAL.includes(x.state));
    expect(s.state).toBe('aborted');
    expect(s.steps.find((x) => x.id === 'ban')?.state).toBe('undone');
    expect(s.timeline.some((t) => t.kind === 'undo' && new RegExp(`abort: network\\.unban_ips for ban: released ${res.id}/ban's hold on 2 networks: 2 lifted;`).test(t.message))).toBe(true);
    await waitForStatus(nginx.port, 200, from('203.0.113.7'));
    expect((await get(nginx.port, from('2001:db8:7::5'))).status).toBe(200);
    expect(await stack.redis.redis.exists(banKey('203.0.113.7/32'))).toBe(0);
    expect(denyLines()).toEqual([]);
    // The timer would find nothing to do in 72 h; end it so the shared dev server stays tidy.
    await child.terminate('test done');
    expect((await getStatus(stack.client, res.id)).activeContainment).toEqual([]);
  });

  it('a ban that ends is dropped from nginx by the expiry action', async () => {
    // Started 57 s ago with the shortest TTL: it ends about 3 s from now.
    const res = await acts.networkBanIps(direct({ addresses: ['198.51.100.23'], ttl_seconds: 60 }, new Date(Date.now() - 57_000).toISOString()));
    const end = Date.parse(res.output?.expiresAt as string);
    await waitForStatus(nginx.port, 403, from('198.51.100.23'));
    // Redis drops the app's key by itself (EXAT); the registry and nginx wait for the expiry action.
    while (Date.now() < end + 1_000) await new Promise((r) => setTimeout(r, 200));
    expect(await stack.redis.redis.exists(banKey('198.51.100.23/32'))).toBe(0);
    expect((await get(nginx.port, from('198.51.100.23'))).status).toBe(403);
    const expired = await acts.networkExpireBans({ ...direct({}), stepId: 'ban.expiry', action: 'network.expire_bans' });
    expect(expired.output).toEqual({ removed: 1, active: 0, holdsDropped: 0, denyFile: nginx.denyFile });
    await waitForStatus(nginx.port, 200, from('198.51.100.23'));
    expect(denyLines()).toEqual([]);
  });

  it('the 72 h timer, time-skipped: ExpiryWorkflow runs the real expiry against Redis and nginx', async () => {
    const res = await acts.networkBanIps(direct({ addresses: ['198.51.100.77'] }));
    const at = res.output?.expiresAt as string;
    expect(Date.parse(at) - Date.now()).toBeGreaterThan(71 * 3600_000);
    await waitForStatus(nginx.port, 403, from('198.51.100.77'));

    // Never downloads: the pinned test server from `npm run setup`.
    const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: findTestServer() } } });
    try {
      const taskQueue = `expiry-${stack.redis.prefix}`;
      const worker = await Worker.create({
        connection: env.nativeConnection,
        namespace: env.namespace ?? 'default',
        taskQueue,
        workflowBundle: { codePath: inject('workflowBundle') },
        activities: acts,
      });
      const input: ExpiryInput = { incidentId: 'INC-NGX-TS', stepId: 'ban', target: 'local', mode: 'live', action: 'network.expire_bans', args: {}, at };
      const t0 = Date.now();
      const result = await worker.runUntil(
        env.client.workflow.execute<(i: ExpiryInput) => Promise<ActionResult>>('ExpiryWorkflow', { args: [input], workflowId: `expiry-ts-${stack.redis.prefix}`, taskQueue }),
      );
      expect(Date.now() - t0).toBeLessThan(30_000); // 72 h of workflow time
      expect(result.output).toMatchObject({ removed: 1, active: 0 });
      expect(result.summary).toMatch(/^dropped 1 ended ban \(as of .*\); 0 active; nginx deny file .*: 0 lines, reloaded$/);
    } finally {
      await env.teardown();
    }
    await waitForStatus(nginx.port, 200, from('198.51.100.77'));
    expect(await stack.redis.redis.zcard(ownKey(space(), BAN_REGISTRY))).toBe(0);
    // The app's key still has its real TTL (the test server skipped workflow time, not Redis time).
    expect(await stack.redis.redis.exists(banKey('198.51.100.77/32'))).toBe(1);
    await stack.redis.redis.del(banKey('198.51.100.77/32'));
  });
});
