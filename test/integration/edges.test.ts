/**
 * A fleet of nginx edge hosts: three real nginx instances, each with its edge process
 * (`createEdgeWorker`, one per task queue, here all in this process), fed by real incidents on
 * the dev server. A ban reaches all three (403 from each, asked as the banned client through
 * realip), an abort's unban clears all three; an edge that is stopped is waited for — the
 * step's status says so — and converges to the current bans when it comes back.
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { abortIncident, declareIncident, getStatus, TERMINAL, waitFor } from '../../lib/incidents/index.js';
import { createLogger } from '../../lib/logger.js';
import type { IncidentStatus } from '../../workflows/definitions.js';
import { createEdgeWorker } from '../../worker/edge.js';
import { TargetClients } from '../../activities/index.js';
import { createNetworkActivities } from '../../activities/network/index.js';
import type { ActionResult } from '../../workflows/definitions.js';
import type { ExpiryInput } from '../../workflows/expiry.js';
import type { FirebreakWorker } from '../../worker/create.js';
import { DECLARER, startStack, type Stack } from '../helpers/firebreak.js';
import { get, startNginx, waitForStatus, type Nginx } from '../helpers/nginx.js';
import { uniquePrefix } from '../helpers/services.js';

const NAMES = ['edge-a', 'edge-b', 'edge-c'];
const RUNBOOK = [
  'name: edge-ban',
  'title: Ban addresses on every edge, then hold for a human',
  'severity: low',
  'params:',
  '  addresses: { type: "string[]", default: [] }',
  'phases:',
  '  containment:',
  '    - id: ban',
  '      action: network.ban_ips',
  '      with: { addresses: "{{ params.addresses }}", reason: edge test }',
  '  recovery:',
  '    - id: hold',
  '      action: lockdown.status',
  '      approval: { count: 1, group: dba, escalate_after: 1h }',
].join('\n');

let nginxes: Nginx[] = [];
let stack: Stack;
let connection: NativeConnection;
let clients: TargetClients;
const edges = new Map<string, FirebreakWorker>();
const queues = new Map(NAMES.map((n) => [n, uniquePrefix(n)]));
const logger = createLogger({ level: 'silent', pretty: false });

const from = (ip: string) => ({ headers: { 'X-Real-IP': ip } });
const until = (id: string, pred: (s: IncidentStatus) => boolean, timeoutMs = 30_000) => waitFor(stack.client, id, pred, { timeoutMs, intervalMs: 100 });
/** What the checksum covers: the file without its comments (the header, with the generation). */
const sha = (path: string) =>
  createHash('sha256')
    .update(
      readFileSync(path, 'utf8')
        .split('\n')
        .filter((l) => l.trim() && !l.startsWith('#'))
        .map((l) => `${l}\n`)
        .join(''),
    )
    .digest('hex');
const denyLines = (n: Nginx) =>
  readFileSync(n.denyFile, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('deny '));

async function startEdge(name: string): Promise<void> {
  const fw = await createEdgeWorker({ config: stack.config, logger, name, connection });
  edges.set(name, fw);
  void fw.run();
}

beforeAll(async () => {
  nginxes = await Promise.all(NAMES.map(() => startNginx({ serverExtra: ['set_real_ip_from 127.0.0.1;', 'real_ip_header X-Real-IP;'] })));
  const yaml = [
    'edges:',
    ...NAMES.map((name, i) => {
      const n = nginxes[i] as Nginx;
      return `  - { name: ${name}, taskQueue: ${queues.get(name)}, denyFile: ${JSON.stringify(n.denyFile)}, testCommand: ${JSON.stringify(n.testCommand)}, reloadCommand: ${JSON.stringify(n.reloadCommand)}, probe: { url: "${n.url}", header: X-Real-IP } }`;
    }),
  ].join('\n');
  stack = await startStack('edges', { extraConfig: yaml });
  stack.writeRunbook('edge-ban', RUNBOOK);
  connection = await NativeConnection.connect({ address: inject('temporalAddress') });
  for (const name of NAMES) await startEdge(name);
});
afterAll(async () => {
  await clients?.close();
  for (const fw of edges.values()) await fw.close();
  await connection?.close();
  await stack?.stop();
  for (const n of nginxes) await n.stop();
});

/** End the ban's 72 h timer so the shared dev server stays tidy. */
async function endTimer(s: IncidentStatus): Promise<void> {
  const m = /expiry timer (\S+) fires/.exec(s.timeline.find((t) => /expiry timer/.test(t.message))?.message ?? '');
  if (m?.[1]) await stack.client.workflow.getHandle(m[1]).terminate('test done');
}

describe('bans on a fleet of nginx edges', () => {
  it('config: each edge has its own task queue and the default target', () => {
    expect(stack.config.edges.map((e) => [e.name, e.taskQueue, e.target])).toEqual(NAMES.map((n) => [n, queues.get(n), 'local']));
  });

  it('a ban reaches all three edges (403 from each, checksums equal), an abort clears all three', async () => {
    for (const n of nginxes) expect((await get(n.port, from('203.0.113.7'))).status).toBe(200);
    const t0 = Date.now();
    const res = await declareIncident(stack.client, stack.config, { runbook: 'edge-ban', params: { addresses: ['203.0.113.7'] }, actor: stack.actor(DECLARER) });
    let s = await until(res.id, (x) => x.state === 'awaiting-approval');
    const ban = s.steps.find((x) => x.id === 'ban');
    expect(ban?.state).toBe('succeeded');
    expect(ban?.summary).toMatch(/; 3\/3 nginx edges in sync \(1 bans, sha256 [0-9a-f]{12}, probed\)$/);
    const proof = ban?.proof?.edges as Array<{ edge: string; sha256: string; probed: string[] }>;
    expect(proof.map((p) => p.edge)).toEqual(NAMES);
    for (const p of proof) expect(p.probed).toEqual(['203.0.113.7 → 403']);
    // The worker's expected checksum is what is on each host's disk.
    const shas = nginxes.map((n) => sha(n.denyFile));
    expect(new Set(shas).size).toBe(1);
    expect(proof[0]?.sha256).toBe(shas[0]?.slice(0, 12));
    for (const n of nginxes) {
      expect(denyLines(n)).toEqual(['deny 203.0.113.7/32;']);
      await waitForStatus(n.port, 403, from('203.0.113.7'));
      expect((await get(n.port, from('203.0.113.8'))).status).toBe(200);
    }
    process.stdout.write(`edges: declare → ban verified on 3 edges in ${Date.now() - t0} ms\n`);

    await abortIncident(stack.client, res.id, 'false positive', stack.actor(DECLARER));
    s = await until(res.id, (x) => TERMINAL.includes(x.state));
    expect(s.state).toBe('aborted');
    const undone = s.steps.find((x) => x.id === 'ban');
    expect(undone?.state).toBe('undone');
    // The undo's probe asked as the lifted address: not 403 any more on any edge.
    expect(undone?.summary).toMatch(/3\/3 nginx edges in sync \(0 bans, sha256 [0-9a-f]{12}, probed\)$/);
    for (const n of nginxes) {
      expect(denyLines(n)).toEqual([]);
      expect((await get(n.port, from('203.0.113.7'))).status).toBe(200);
    }
    await endTimer(s);
  });

  it('an edge that is down: the step waits for it and says so, then it comes back and converges', async () => {
    const c = nginxes[2] as Nginx;
    await (edges.get('edge-c') as FirebreakWorker).close();
    edges.delete('edge-c');
    const res = await declareIncident(stack.client, stack.config, { runbook: 'edge-ban', params: { addresses: ['198.51.100.9', '2001:db8:9::/64'] }, actor: stack.actor(DECLARER) });
    let s = await until(res.id, (x) => /waiting for edge edge-c/.test(x.steps.find((st) => st.id === 'ban')?.waiting ?? ''), 30_000);
    const ban = s.steps.find((x) => x.id === 'ban');
    expect(ban?.state).toBe('running');
    expect(ban?.waiting).toMatch(/^waiting for edge edge-c since \S+ \(attempt \d+\): no edge process picked up its deny set within 5 s \(is `firebreak edge edge-c` running, polling fbt-edge-c-[0-9a-f]+\?\)$/);
    expect(s.timeline.some((t) => t.step === 'ban' && /^ban: waiting for edge edge-c: no edge process picked up/.test(t.message))).toBe(true);
    // The edges that are up enforce the ban meanwhile; the one that is down does not (yet).
    for (const n of nginxes.slice(0, 2)) await waitForStatus(n.port, 403, from('198.51.100.9'));
    expect((await get(c.port, from('198.51.100.9'))).status).toBe(200);
    expect(denyLines(c)).toEqual([]);

    await startEdge('edge-c');
    s = await until(res.id, (x) => x.state === 'awaiting-approval', 60_000);
    const done = s.steps.find((x) => x.id === 'ban');
    expect(done?.state).toBe('succeeded');
    expect(done?.waiting).toBeUndefined();
    expect(done?.summary).toMatch(/; 3\/3 nginx edges in sync \(2 bans,/);
    expect(s.timeline.some((t) => t.step === 'ban' && /^ban: edge edge-c caught up after \d+ attempts/.test(t.message))).toBe(true);
    expect(denyLines(c)).toEqual(['deny 198.51.100.9/32;', 'deny 2001:db8:9::/64;']);
    await waitForStatus(c.port, 403, from('198.51.100.9'));
    expect((await get(c.port, from('2001:db8:9::1'))).status).toBe(403);
    expect(new Set(nginxes.map((n) => sha(n.denyFile))).size).toBe(1);

    await abortIncident(stack.client, res.id, 'test done', stack.actor(DECLARER));
    s = await until(res.id, (x) => TERMINAL.includes(x.state));
    for (const n of nginxes) expect(denyLines(n)).toEqual([]);
    await endTimer(s);
    expect((await getStatus(stack.client, res.id)).activeContainment).toEqual([]);
  });

  it("a ban's expiry (ExpiryWorkflow) drops it from every edge", async () => {
    clients = new TargetClients(stack.config);
    const acts = createNetworkActivities({ config: stack.config, logger, clients });
    // A ban made 57 s ago with the shortest TTL ends in about 3 s; an incident's ban then sends the whole set, both, to every edge.
    const direct = await acts.networkBanIps({ incidentId: 'INC-EDGE-EXP', stepId: 'ban', action: 'network.ban_ips', target: 'local', mode: 'live', args: { addresses: ['192.0.2.44'], ttl_seconds: 60 }, requestedAt: new Date(Date.now() - 57_000).toISOString() });
    const res = await declareIncident(stack.client, stack.config, { runbook: 'edge-ban', params: { addresses: ['192.0.2.55'] }, actor: stack.actor(DECLARER) });
    let s = await until(res.id, (x) => x.state === 'awaiting-approval');
    for (const n of nginxes) expect(denyLines(n)).toEqual(['deny 192.0.2.44/32;', 'deny 192.0.2.55/32;']);
    const input: ExpiryInput = { incidentId: 'INC-EDGE-EXP', stepId: 'ban', target: 'local', mode: 'live', action: 'network.expire_bans', args: {}, at: direct.output?.expiresAt as string };
    const result = await stack.client.workflow.execute<(i: ExpiryInput) => Promise<ActionResult>>('ExpiryWorkflow', { args: [input], workflowId: `${queues.get('edge-a')}-expiry`, taskQueue: stack.config.temporal.taskQueue });
    expect(result.summary).toMatch(/^dropped 1 ended ban .*; 3\/3 nginx edges in sync \(1 bans, sha256 [0-9a-f]{12}, probed\)$/);
    expect(result.edges).toBeUndefined();
    // Each edge was asked as the lifted address until its reloaded nginx let it through.
    const edgesProof = (result.proof as { edges: Array<{ probed: string[] }> }).edges;
    expect(edgesProof.map((e) => e.probed)).toEqual(nginxes.map((): unknown[] => ['192.0.2.55 → 403', expect.stringMatching(/^192\.0\.2\.44 → (?!403)\d{3}$/)]));
    for (const n of nginxes) {
      expect(denyLines(n)).toEqual(['deny 192.0.2.55/32;']);
      expect((await get(n.port, from('192.0.2.44'))).status).toBe(200);
      expect((await get(n.port, from('192.0.2.55'))).status).toBe(403);
    }
    await abortIncident(stack.client, res.id, 'test done', stack.actor(DECLARER));
    s = await until(res.id, (x) => TERMINAL.includes(x.state));
    await endTimer(s);
  });
});
