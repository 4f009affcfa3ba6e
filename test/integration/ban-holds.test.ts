/**
 * Bans held by several incidents (issue 11 §2), against the real Redis through the activities
 * as the worker runs them: each incident step's hold lives on the network beside the ban key,
 * the ban lasts until the latest end among its holds and is lifted with its last holder; an
 * explicit lift ends every hold and says whose; an expiry ends only the holds that ended; an
 * older worker's bans and undo arguments keep working.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, TargetClients } from '../../activities/index.js';
import { banHoldsKey, countActiveBans, listBanHolds, parseHoldList, RELEASE_SCRIPT, TAKE_SCRIPT } from '../../activities/network/holds.js';
import { loadConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/logger.js';
import { BAN_REGISTRY, contractKeys, djangoKey, ownKey, type KeySpace } from '../../lib/redis-keys.js';
import type { ActionInput, ActionResult } from '../../workflows/definitions.js';
import { redisClient, type TestRedis } from '../helpers/services.js';

let r: TestRedis;
let dir: string;
let clients: TargetClients;
let acts: ReturnType<typeof createActivities>;
let space: KeySpace;
let denyFile: string;

beforeAll(() => {
  r = redisClient('ban-holds');
  dir = mkdtempSync(join(tmpdir(), 'fbt-ban-holds-'));
  mkdirSync(join(dir, 'nginx'));
  denyFile = join(dir, 'nginx', 'deny.conf');
  space = { keyPrefix: r.prefix, keyVersion: 1 };
  const file = join(dir, 'firebreak.yaml');
  writeFileSync(
    file,
    [
      'defaultTarget: web',
      'targets:',
      `  web: { development: true, redis: { keyPrefix: "${r.prefix}" }, nginx: { denyFile: ${JSON.stringify(denyFile)}, testCommand: ["true"], reloadCommand: ["true"] } }`,
      `  plain: { development: true, redis: { keyPrefix: "${r.prefix}-plain" } }`,
    ].join('\n'),
  );
  const config = loadConfig({ file, env: {} });
  clients = new TargetClients(config);
  acts = createActivities({ config, logger: createLogger({ level: 'silent', pretty: false }), clients });
});
afterAll(async () => {
  await clients.close();
  await r.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

type Target = 'web' | 'plain';
const spaceOf = (t: Target): KeySpace => (t === 'web' ? space : { keyPrefix: `${r.prefix}-plain`, keyVersion: 1 });
const banKey = (net: string, t: Target = 'web') => djangoKey(spaceOf(t), contractKeys.ban(net));
const holdsHash = (t: Target = 'web') => banHoldsKey(spaceOf(t));
/** A network's holds (field → value) from the target's holds hash. */
const holdsOf = async (net: string, t: Target = 'web') => parseHoldList(await r.redis.hget(holdsHash(t), net));
const registry = (t: Target = 'web') => ownKey(spaceOf(t), BAN_REGISTRY);
const record = (incident: string, step: string, t: Target = 'web') => ownKey(spaceOf(t), 'undo', incident, step);
const secondsOf = (iso: string) => Math.floor(Date.parse(iso) / 1000);
const denyLines = () =>
  readFileSync(denyFile, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('deny '));

function ban(incidentId: string, addresses: string[], ttl: number, opts: { target?: Target; requestedAt?: string; stepId?: string } = {}): ActionInput {
  return {
    incidentId,
    stepId: opts.stepId ?? 'ban',
    action: 'network.ban_ips',
    target: opts.target ?? 'web',
    mode: 'live',
    args: { addresses, ttl_seconds: ttl },
    requestedAt: opts.requestedAt ?? new Date().toISOString(),
  };
}

/** The undo of a ban step, as the workflow runs it on abort: same incident, step `<step>.undo`, the step's own undo arguments. */
function undoOf(req: ActionInput, res: ActionResult): ActionInput {
  if (!res.undo) throw new Error(`${req.incidentId}/${req.stepId} returned no undo`);
  return { ...req, stepId: `${req.stepId}.undo`, action: res.undo.action, args: res.undo.args, requestedAt: new Date().toISOString() };
}

/** `firebreak bans lift`: the ban-lift incident's step runs network.unban_ips with the addresses. */
function lift(incidentId: string, addresses: string[], target: Target = 'web'): ActionInput {
  return { incidentId, stepId: 'lift', action: 'network.unban_ips', target, mode: 'live', args: { addresses, reason: 'false positive' }, requestedAt: new Date().toISOString() };
}

/** What Redis holds about one network: ban key (value, TTL > 0), registry score, holds. */
async function stateOf(net: string, t: Target = 'web') {
  const [value, ttl, score, holds] = await Promise.all([r.redis.get(banKey(net, t)), r.redis.ttl(banKey(net, t)), r.redis.zscore(registry(t), net), holdsOf(net, t)]);
  return { value, live: value === null ? null : ttl > 0, score, holds };
}

/** The incidents holding a network, from its holds. */
const holderIds = (holds: Record<string, string>) => Object.keys(holds).map((f) => (f === '~legacy' ? 'unknown' : f.slice(0, f.lastIndexOf('/')))).sort();

describe('the issue: two incidents ban the same network', () => {
  it('A bans first, B bans it too, A aborts: the ban stays (B holds it, until B’s end); B aborts: lifted, nothing left', async () => {
    const net = '203.0.113.7/32';
    const a = ban('INC-ISSUE-A', ['203.0.113.7'], 7200);
    const b = ban('INC-ISSUE-B', ['203.0.113.7'], 3600);
    const before = await stateOf(net);
    expect(before).toEqual({ value: null, live: null, score: null, holds: {} });

    const ra = await acts.networkBanIps(a);
    expect(ra.summary).toMatch(/\(1 new, 0 already banned\); nginx deny file .*: 1 lines, reloaded$/);
    const rb = await acts.networkBanIps(b);
    // B found A's later ban: kept, and says who else holds it.
    expect(rb.summary).toMatch(/\(0 new, 1 already banned, 1 until later\); nginx deny file .*: 1 lines, unchanged \(also held by INC-ISSUE-A\)$/);
    const aEnd = secondsOf(ra.output?.expiresAt as string);
    const bEnd = secondsOf(rb.output?.expiresAt as string);
    expect(holderIds((await stateOf(net)).holds)).toEqual(['INC-ISSUE-A', 'INC-ISSUE-B']);

    // A aborts: its undo releases its own hold only; the ban is now B's, until B's end.
    const ua = await acts.networkUnbanIps(undoOf(a, ra));
    expect(ua.summary).toMatch(/^released INC-ISSUE-A\/ban's hold on 1 network: 0 lifted, 1 still held by INC-ISSUE-B; nginx deny file/);
    expect(ua.output).toMatchObject({ lifted: false, stillHeldBy: ['INC-ISSUE-B'], unbanned: 0, stillHeld: 1 });
    expect(ua.changed).toBe(false);
    expect(await stateOf(net)).toEqual({ value: String(bEnd), live: true, score: String(bEnd), holds: { 'INC-ISSUE-B/ban': expect.stringMatching(new RegExp(`^${bEnd}\\|\\d+\\|k$`)) } });
    expect(await r.redis.ttl(banKey(net))).toBeLessThanOrEqual(bEnd - Math.floor(Date.now() / 1000) + 1);
    expect(denyLines()).toEqual([`deny ${net};`]);
    expect(aEnd).toBeGreaterThan(bEnd);

    // B aborts: the last holder; lifted, the state is exactly what it was before A.
    const ub = await acts.networkUnbanIps(undoOf(b, rb));
    expect(ub.summary).toMatch(/^released INC-ISSUE-B\/ban's hold on 1 network: 1 lifted; nginx deny file .*: 0 lines, reloaded$/);
    expect(ub.output).toMatchObject({ lifted: true, stillHeldBy: [], unbanned: 1 });
    expect(ub.changed).toBe(true);
    expect(await stateOf(net)).toEqual(before);
    expect(denyLines()).toEqual([]);
  });

  it('a dry-run release says what would stay and for whom, and changes nothing', async () => {
    const a = ban('INC-DRY-A', ['203.0.113.8', '203.0.113.12'], 600);
    const b = ban('INC-DRY-B', ['203.0.113.8'], 600);
    const ra = await acts.networkBanIps(a);
    await acts.networkBanIps(b);
    const before = [await stateOf('203.0.113.8/32'), await stateOf('203.0.113.12/32')];
    const dry = await acts.networkUnbanIps({ ...undoOf(a, ra), mode: 'dry-run' });
    expect(dry.summary).toBe("would release the holds of INC-DRY-A/ban on 2 networks: 1 lifted, 1 still held by INC-DRY-B (2 banned now)");
    expect(dry.changed).toBe(false);
    expect([await stateOf('203.0.113.8/32'), await stateOf('203.0.113.12/32')]).toEqual(before);
    await acts.networkUnbanIps(lift('INC-DRY-X', ['203.0.113.8', '203.0.113.12']));
  });

  it('`bans lift` ends every hold on the network and says whose; the holders’ undos then find nothing of theirs', async () => {
    const net = '203.0.113.9/32';
    const a = ban('INC-LIFT-A', ['203.0.113.9', '203.0.113.10'], 3600);
    const b = ban('INC-LIFT-B', ['203.0.113.9'], 7200);
    const ra = await acts.networkBanIps(a);
    const rb = await acts.networkBanIps(b);
    const lifted = await acts.networkUnbanIps(lift('INC-LIFT-X', ['203.0.113.9']));
    expect(lifted.summary).toMatch(/^lifted 1 of 1 network, ending the holds of INC-LIFT-A\/ban, INC-LIFT-B\/ban; nginx deny file/);
    expect(lifted.output).toMatchObject({ lifted: true, stillHeldBy: [], unbanned: 1, endedHolds: ['INC-LIFT-A/ban', 'INC-LIFT-B/ban'], endedHoldsOf: ['INC-LIFT-A', 'INC-LIFT-B'] });
    expect(await stateOf(net)).toEqual({ value: null, live: null, score: null, holds: {} });
    expect(denyLines()).toEqual(['deny 203.0.113.10/32;']);

    const ub = await acts.networkUnbanIps(undoOf(b, rb));
    expect(ub).toMatchObject({ changed: false, output: { lifted: false, unbanned: 0, notHeld: 1 } });
    const ua = await acts.networkUnbanIps(undoOf(a, ra));
    expect(ua.output).toMatchObject({ lifted: true, unbanned: 1, notHeld: 1, requested: 2 });
    expect(denyLines()).toEqual([]);
  });

  it('a completed incident’s ban is held by its expiry: with two holders it lasts until the later end, and the earlier expiry only ends its own hold', async () => {
    const net = '203.0.113.11/32';
    const now = Date.now();
    const a = ban('INC-EXP-A', ['203.0.113.11'], 60);
    const b = ban('INC-EXP-B', ['203.0.113.11'], 3600);
    await acts.networkBanIps(a);
    const rb = await acts.networkBanIps(b);
    const bEnd = secondsOf(rb.output?.expiresAt as string);
    expect((await stateOf(net)).value).toBe(String(bEnd));
    // A's timer fires after its end (two minutes from now): A's hold ends, B's ban stays.
    const fired = new Date(now + 120_000).toISOString();
    const expiry = (inc: string): ActionInput => ({ incidentId: inc, stepId: 'ban.expiry', action: 'network.expire_bans', target: 'web', mode: 'live', args: {}, requestedAt: fired });
    const ea = await acts.networkExpireBans(expiry('INC-EXP-A'));
    expect(ea.output).toMatchObject({ removed: 0, holdsDropped: 1 });
    expect(await stateOf(net)).toEqual({ value: String(bEnd), live: true, score: String(bEnd), holds: { 'INC-EXP-B/ban': expect.any(String) } });
    expect(denyLines()).toEqual([`deny ${net};`]);
    // Idempotent.
    expect((await acts.networkExpireBans(expiry('INC-EXP-A'))).output).toMatchObject({ removed: 0, holdsDropped: 0 });
    // B's own timer, after B's end: the last hold ends, the ban goes.
    const late = { ...expiry('INC-EXP-B'), requestedAt: new Date((bEnd + 5) * 1000).toISOString() };
    const eb = await acts.networkExpireBans(late);
    expect(eb.output).toMatchObject({ removed: 1, holdsDropped: 1 });
    expect(await stateOf(net)).toEqual({ value: null, live: null, score: null, holds: {} });
    expect(denyLines()).toEqual([]);
  });
});

// ---- every order --------------------------------------------------------------------------------

type Op = { kind: 'take' | 'release'; who: number; retry?: boolean };

/** Every interleaving of take_i, release_i (take before release) for `k` incidents: (2k)! / 2^k orders. */
function interleavings(k: number): Op[][] {
  const out: Op[][] = [];
  const walk = (seq: Op[], taken: boolean[], released: boolean[]) => {
    if (seq.length === 2 * k) {
      out.push(seq);
      return;
    }
    for (let i = 0; i < k; i += 1) {
      if (!taken[i]) walk([...seq, { kind: 'take', who: i }], taken.map((t, j) => t || j === i), released);
      else if (!released[i]) walk([...seq, { kind: 'release', who: i }], taken, released.map((t, j) => t || j === i));
    }
  };
  walk([], Array<boolean>(k).fill(false), Array<boolean>(k).fill(false));
  return out;
}

/** The order with each release repeated (a retry) at some later point, a different one per order. */
function withRetries(order: Op[], o: number): Op[] {
  const seq = [...order];
  const k = order.length / 2;
  for (let i = 0; i < k; i += 1) {
    const at = seq.findIndex((op) => op.kind === 'release' && op.who === i && !op.retry);
    const slots = seq.length - at; // positions after it, up to the end
    seq.splice(at + 1 + ((o * 7 + i * 3) % slots), 0, { kind: 'release', who: i, retry: true });
  }
  return seq;
}

type Before = 'none' | 'held' | 'legacy';

/**
 * One sequence on its own network (target without nginx, so sequences run side by side):
 * after every step the ban is in force exactly while someone holds it (or it was there before),
 * until the latest end among them, key, registry and holds agreeing; the step's result names the
 * other holders; at the end the network is exactly as before.
 */
async function runSequence(seq: Op[], k: number, net: string, before: Before, label: string): Promise<void> {
  const start = new Date().toISOString();
  const startS = secondsOf(start);
  const ttls = [3600, 4200, 4800];
  const address = net.replace('/32', '');
  let preEnd: number | undefined;
  if (before === 'held') {
    // Another incident's ban, there before and after (its hold is in the middle of the others' ends).
    const res = await acts.networkBanIps(ban(`INC-Z-${label}`, [address], 4000, { target: 'plain', requestedAt: start }));
    preEnd = secondsOf(res.output?.expiresAt as string);
  } else if (before === 'legacy') {
    // An older worker's ban: the key and the registry entry, no hold records.
    preEnd = startS + 4500;
    await r.redis.set(banKey(net, 'plain'), String(preEnd), 'EXAT', preEnd);
    await r.redis.zadd(registry('plain'), preEnd, net);
  }
  const initial = await stateOf(net, 'plain');
  const reqs = Array.from({ length: k }, (_, i) => ban(`INC-S-${label}-${i}`, [address], ttls[i] as number, { target: 'plain', requestedAt: start }));
  const takes: Array<ActionResult | undefined> = [];
  const holding = new Set<number>();
  const preHolder = before === 'held' ? [`INC-Z-${label}`] : before === 'legacy' ? ['unknown'] : [];
  const others = (i: number) => [...[...holding].filter((j) => j !== i).map((j) => reqs[j]?.incidentId as string), ...preHolder].sort();

  for (const [step, op] of seq.entries()) {
    const where = `${label} step ${step} (${op.kind} ${op.who}${op.retry ? ' again' : ''})`;
    const req = reqs[op.who] as ActionInput;
    if (op.kind === 'take') {
      const expectOthers = others(op.who);
      const res = await acts.networkBanIps(req);
      takes[op.who] = res;
      holding.add(op.who);
      expect(res.output?.alsoHeldBy ?? [], where).toEqual(expectOthers);
    } else {
      const wasHolding = holding.has(op.who);
      holding.delete(op.who);
      const res = await acts.networkUnbanIps(undoOf(req, takes[op.who] as ActionResult));
      const still = others(op.who);
      expect(res.output?.stillHeldBy, where).toEqual(still);
      expect(res.output?.lifted, where).toBe(wasHolding && !still.length);
      expect(res.changed, where).toBe(wasHolding && !still.length);
      expect(res.output?.notHeld, where).toBe(wasHolding ? 0 : 1);
    }
    // The invariant: banned ⇔ someone holds it (or it was there before); until the latest end.
    const s = await stateOf(net, 'plain');
    const ends = [...holding].map((i) => startS + (ttls[i] as number));
    if (preEnd !== undefined) ends.push(preEnd);
    if (!ends.length) {
      expect(s, where).toEqual({ value: null, live: null, score: null, holds: {} });
      continue;
    }
    const end = Math.max(...ends);
    expect(s.value, where).toBe(String(end));
    expect(s.live, where).toBe(true);
    expect(s.score, where).toBe(String(end));
    const expectHolders = [...[...holding].map((i) => reqs[i]?.incidentId as string), ...(before === 'held' ? [`INC-Z-${label}`] : []), ...(before === 'legacy' && holding.size ? ['unknown'] : [])].sort();
    expect(holderIds(s.holds), where).toEqual(expectHolders);
  }
  expect(await stateOf(net, 'plain'), `${label}: back to the start`).toEqual(initial);
}

/** Run `jobs` with at most `width` at once. */
async function pool(jobs: Array<() => Promise<void>>, width: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < jobs.length) {
        const job = jobs[next++] as () => Promise<void>;
        await job();
      }
    }),
  );
}

describe('every order of take and release, each release retried, with and without a ban there before', () => {
  it('has the expected number of orders', () => {
    expect(interleavings(2)).toHaveLength(6);
    expect(interleavings(3)).toHaveLength(90);
    const seq = withRetries(interleavings(3)[17] as Op[], 17);
    expect(seq).toHaveLength(9);
    for (let i = 0; i < 3; i += 1) {
      const first = seq.findIndex((op) => op.kind === 'release' && op.who === i);
      expect(seq.findIndex((op) => op.kind === 'release' && op.who === i && op.retry)).toBeGreaterThan(first);
    }
  });

  for (const k of [2, 3]) {
    it(`${k} incidents: all ${k === 2 ? 6 : 90} orders × {nothing, another incident's ban, an older worker's ban} before`, async () => {
      const t0 = performance.now();
      const jobs: Array<() => Promise<void>> = [];
      let count = 0;
      interleavings(k).forEach((order, o) => {
        for (const before of ['none', 'held', 'legacy'] as const) {
          const id = count++;
          const net = `198.${k === 2 ? 18 : 19}.${id >> 8}.${id & 255}/32`;
          jobs.push(() => runSequence(withRetries(order, o), k, net, before, `k${k}-o${o}-${before}`));
        }
      });
      await pool(jobs, 24);
      const ms = performance.now() - t0;
      // Every hold is gone: what is left on the target is the pre-existing bans and their own holds.
      const left = Object.entries(await r.redis.hgetall(holdsHash('plain'))).filter(([net]) => net.startsWith(`198.${k === 2 ? 18 : 19}.`));
      expect(left.length).toBeGreaterThan(0);
      for (const [net, text] of left) expect(Object.keys(parseHoldList(text)).every((f) => f.startsWith('INC-Z-')), net).toBe(true);
      console.log(`ban holds, ${k} incidents: ${count} sequences of ${3 * k} steps in ${ms.toFixed(0)} ms`);
    }, 120_000);
  }
});

// ---- crash safety ------------------------------------------------------------------------------

describe('a take or a release is one atomic unit per chunk: retries neither double nor steal', () => {
  it('a retried take after success is a no-op: one hold, the same result, one release lifts it', async () => {
    const net = '203.0.113.20/32';
    const a = ban('INC-RT-A', ['203.0.113.20'], 3600);
    const first = await acts.networkBanIps(a);
    const hold = await holdsOf(net);
    const again = await acts.networkBanIps(a);
    expect(again.output).toEqual(first.output);
    expect(again.undo).toEqual(first.undo);
    expect(again.summary.replace(/reloaded|unchanged/, '')).toBe(first.summary.replace(/reloaded|unchanged/, ''));
    expect(await holdsOf(net)).toEqual(hold);
    expect(Object.keys(hold)).toEqual(['INC-RT-A/ban']);
    const released = await acts.networkUnbanIps(undoOf(a, first));
    expect(released.output).toMatchObject({ lifted: true, unbanned: 1 });
    expect(await stateOf(net)).toEqual({ value: null, live: null, score: null, holds: {} });
  });

  it('a retried release never releases another incident’s hold', async () => {
    const net = '203.0.113.21/32';
    const a = ban('INC-RR-A', ['203.0.113.21'], 3600);
    const b = ban('INC-RR-B', ['203.0.113.21'], 600);
    const ra = await acts.networkBanIps(a);
    await acts.networkBanIps(b);
    await acts.networkUnbanIps(undoOf(a, ra));
    const after = await stateOf(net);
    for (let i = 0; i < 3; i += 1) {
      const retry = await acts.networkUnbanIps(undoOf(a, ra));
      expect(retry).toMatchObject({ changed: false, output: { lifted: false, stillHeldBy: ['INC-RR-B'], notHeld: 1 } });
    }
    expect(await stateOf(net)).toEqual(after);
    expect(holderIds(after.holds)).toEqual(['INC-RR-B']);
    await acts.networkUnbanIps(lift('INC-RR-X', ['203.0.113.21']));
  });

  it('a worker killed between chunks of a big ban or release: the retry completes it, each hold counted once', async () => {
    const addresses = Array.from({ length: 2_500 }, (_, i) => `100.70.${i >> 8}.${i & 255}`);
    const nets = addresses.map((x) => `${x}/32`);
    const a = ban('INC-KILL-A', addresses, 3600, { target: 'plain' });
    const b = ban('INC-KILL-B', addresses.slice(0, 1_000), 600, { target: 'plain' });
    const banKeys = (part: string[]) => part.map((n) => banKey(n, 'plain'));
    const end = secondsOf(a.requestedAt) + 3600;
    const now = Math.floor(Date.now() / 1000);
    // The first attempt of A got one chunk of 1,000 through (one script call), then the worker died.
    await r.redis.eval(TAKE_SCRIPT, 3 + 1000, registry('plain'), record('INC-KILL-A', 'ban', 'plain'), holdsHash('plain'), ...banKeys(nets.slice(0, 1_000)), String(end), String(30 * 86400), 'INC-KILL-A/ban', String(now), ...nets.slice(0, 1_000));
    const rb = await acts.networkBanIps(b);
    expect(rb.output).toMatchObject({ banned: 1_000, newlyBanned: 0, alsoHeldBy: ['INC-KILL-A'] });
    const ra = await acts.networkBanIps(a);
    expect(ra.output).toMatchObject({ banned: 2_500, newlyBanned: 2_500, alsoHeldBy: ['INC-KILL-B'] });
    expect(ra.summary).toMatch(/\(2500 new, 0 already banned\)/);
    for (const n of [nets[0], nets[999], nets[1000], nets[2499]] as string[]) {
      const s = await holdsOf(n, 'plain');
      expect(Object.keys(s).sort()).toEqual(n === nets[0] || n === nets[999] ? ['INC-KILL-A/ban', 'INC-KILL-B/ban'] : ['INC-KILL-A/ban']);
    }
    // A's abort: the first release attempt got one chunk through (the first 1,000, which B also holds), then the worker died.
    await r.redis.eval(RELEASE_SCRIPT, 2 + 1000, registry('plain'), holdsHash('plain'), ...banKeys(nets.slice(0, 1_000)), 'own', 'INC-KILL-A/ban', String(now), ...nets.slice(0, 1_000));
    const ua = await acts.networkUnbanIps(undoOf(a, ra));
    expect(ua.output).toMatchObject({ lifted: false, unbanned: 1_500, stillHeld: 0, notHeld: 1_000, stillHeldBy: ['INC-KILL-B'] });
    expect((await r.redis.zmscore(registry('plain'), ...nets)).filter((x) => x !== null)).toHaveLength(1_000);
    expect(await r.redis.exists(...nets.slice(1_000).map((n) => banKey(n, 'plain')))).toBe(0);
    const bEnd = String(secondsOf(b.requestedAt) + 600);
    expect(new Set(await r.redis.mget(...nets.slice(0, 1_000).map((n) => banKey(n, 'plain'))))).toEqual(new Set([bEnd]));
    const ub = await acts.networkUnbanIps(undoOf(b, rb));
    expect(ub.output).toMatchObject({ lifted: true, unbanned: 1_000 });
    expect(await r.redis.exists(...nets.map((n) => banKey(n, 'plain')))).toBe(0);
    expect((await r.redis.hmget(holdsHash('plain'), ...nets)).filter((h) => h !== null)).toEqual([]);
    expect(await r.redis.zmscore(registry('plain'), ...nets.slice(0, 5))).toEqual([null, null, null, null, null]);
  });
});

// ---- an older worker's bans and undo arguments -----------------------------------------------------

/** What the older worker's ban left: the key, the registry entry, its undo record (the networks it banned first) and meta. */
async function legacyBan(incidentId: string, nets: string[], end: number): Promise<void> {
  for (const net of nets) await r.redis.set(banKey(net), String(end), 'EXAT', end);
  await r.redis.zadd(registry(), ...nets.flatMap((n) => [end, n]));
  await r.redis.sadd(record(incidentId, 'ban'), ...nets);
  await r.redis.set(`${record(incidentId, 'ban')}:meta`, JSON.stringify({ at: new Date().toISOString(), networks: nets.length }));
}

describe('bans and undos of an older worker (incidents open across the upgrade)', () => {
  it('an old inline undo ({addresses}, no holder) lifts what its record says the step banned first', async () => {
    const end = Math.floor(Date.now() / 1000) + 3600;
    await legacyBan('INC-OLD-1', ['203.0.113.30/32'], end);
    const holds = await listBanHolds(r.redis, space);
    expect(holds.find((h) => h.subject === '203.0.113.30/32')).toEqual({ kind: 'ban', subject: '203.0.113.30/32', holders: [{ incidentId: 'unknown', stepId: 'older-worker', since: '', until: new Date(end * 1000).toISOString() }] });
    const res = await acts.networkUnbanIps({ incidentId: 'INC-OLD-1', stepId: 'ban.undo', action: 'network.unban_ips', target: 'web', mode: 'live', args: { addresses: ['203.0.113.30/32'] }, requestedAt: new Date().toISOString() });
    expect(res.output).toMatchObject({ lifted: true, unbanned: 1, released: 'INC-OLD-1/ban' });
    expect(await stateOf('203.0.113.30/32')).toEqual({ value: null, live: null, score: null, holds: {} });
  });

  it('an old ban joined by a new incident: the old undo releases only the older worker’s hold; the other order restores the old ban exactly', async () => {
    const end = Math.floor(Date.now() / 1000) + 5000;
    const net = '203.0.113.31/32';
    // Order 1: old A, new B; A's old undo (from_record) first.
    await legacyBan('INC-OLD-2', [net], end);
    const b = ban('INC-NEW-2', ['203.0.113.31'], 3600);
    const rb = await acts.networkBanIps(b);
    expect(rb.summary).toMatch(/\(also held by unknown\)$/);
    expect(holderIds((await stateOf(net)).holds)).toEqual(['INC-NEW-2', 'unknown']);
    const oldUndo = await acts.networkUnbanIps({ incidentId: 'INC-OLD-2', stepId: 'ban.undo', action: 'network.unban_ips', target: 'web', mode: 'live', args: { addresses: [], from_record: 'INC-OLD-2/ban' }, requestedAt: new Date().toISOString() });
    expect(oldUndo.output).toMatchObject({ lifted: false, stillHeldBy: ['INC-NEW-2'] });
    const bEnd = secondsOf(rb.output?.expiresAt as string);
    expect(await stateOf(net)).toEqual({ value: String(bEnd), live: true, score: String(bEnd), holds: { 'INC-NEW-2/ban': expect.any(String) } });
    await acts.networkUnbanIps(undoOf(b, rb));
    expect(await stateOf(net)).toEqual({ value: null, live: null, score: null, holds: {} });

    // Order 2: old C, new D; D's undo first: the old ban is back exactly as the older worker left it.
    await legacyBan('INC-OLD-3', [net], end);
    const initial = await stateOf(net);
    const d = ban('INC-NEW-3', ['203.0.113.31'], 7200);
    const rd = await acts.networkBanIps(d);
    expect((await stateOf(net)).value).toBe(String(secondsOf(rd.output?.expiresAt as string)));
    const ud = await acts.networkUnbanIps(undoOf(d, rd));
    expect(ud.output).toMatchObject({ lifted: false, stillHeldBy: ['unknown'] });
    expect(await stateOf(net)).toEqual(initial);
    // A new incident that never held it cannot lift it.
    const e = ban('INC-NEW-4', ['203.0.113.31'], 600);
    const stray = await acts.networkUnbanIps({ ...e, stepId: 'ban.undo', action: 'network.unban_ips', args: { addresses: [net], holder: 'INC-NEW-4/ban' } });
    expect(stray.output).toMatchObject({ lifted: false, notHeld: 1, stillHeldBy: ['unknown'] });
    expect(await stateOf(net)).toEqual(initial);
    // The old undo of C lifts it.
    const uc = await acts.networkUnbanIps({ incidentId: 'INC-OLD-3', stepId: 'ban.undo', action: 'network.unban_ips', target: 'web', mode: 'live', args: { addresses: [net] }, requestedAt: new Date().toISOString() });
    expect(uc.output).toMatchObject({ lifted: true, unbanned: 1 });
    expect(await stateOf(net)).toEqual({ value: null, live: null, score: null, holds: {} });
  });

  it('an older worker’s first attempt of the same step, retried by the new worker: the ban is the step’s own, no unknown holder', async () => {
    const net = '203.0.113.32/32';
    const a = ban('INC-OLD-5', ['203.0.113.32'], 3600);
    const end = secondsOf(a.requestedAt) + 3600;
    await legacyBan('INC-OLD-5', [net], end);
    const ra = await acts.networkBanIps(a);
    expect(ra.summary).toMatch(/\(1 new, 0 already banned\); nginx deny file .*: \d+ lines, (reloaded|unchanged)$/);
    expect(Object.keys((await stateOf(net)).holds)).toEqual(['INC-OLD-5/ban']);
    expect((await acts.networkUnbanIps(undoOf(a, ra))).output).toMatchObject({ lifted: true });
  });

  it('an older worker extending a held ban (a rolling upgrade): the release keeps it until that end, held by an unknown holder', async () => {
    const net = '203.0.113.35/32';
    const a = ban('INC-MIX-A', ['203.0.113.35'], 600);
    const ra = await acts.networkBanIps(a);
    // The older worker's ban script: SET the later end, ZADD GT; no hold recorded.
    const later = secondsOf(ra.output?.expiresAt as string) + 3000;
    await r.redis.set(banKey(net), String(later), 'EXAT', later);
    await r.redis.zadd(registry(), 'GT', later, net);
    const ua = await acts.networkUnbanIps(undoOf(a, ra));
    expect(ua.output).toMatchObject({ lifted: false, stillHeldBy: ['unknown'], stillHeld: 1 });
    expect(await stateOf(net)).toEqual({ value: String(later), live: true, score: String(later), holds: {} });
    // A new incident joining it sees the unknown holder, until the older worker's end.
    const b = ban('INC-MIX-B', ['203.0.113.35'], 600);
    const rb = await acts.networkBanIps(b);
    expect(rb.output).toMatchObject({ alsoHeldBy: ['unknown'] });
    expect((await stateOf(net)).holds).toEqual({ 'INC-MIX-B/ban': expect.any(String), '~legacy': expect.stringMatching(new RegExp(`^${later}\\|`)) });
    await acts.networkUnbanIps(lift('INC-MIX-X', [net]));
  });

  it('`bans lift` of an older worker’s ban says it ended an unknown holder', async () => {
    const net = '203.0.113.33/32';
    await legacyBan('INC-OLD-6', [net], Math.floor(Date.now() / 1000) + 600);
    const res = await acts.networkUnbanIps(lift('INC-LIFT-OLD', [net]));
    expect(res.output).toMatchObject({ lifted: true, unbanned: 1, endedHoldsOf: ['unknown'] });
    expect(res.summary).toMatch(/ending the holds of unknown \(older-worker\)/);
  });

  it('an undo naming another incident’s hold is refused, nothing changed', async () => {
    const a = ban('INC-REF-A', ['203.0.113.34'], 600);
    const ra = await acts.networkBanIps(a);
    const before = await stateOf('203.0.113.34/32');
    await expect(acts.networkUnbanIps({ ...undoOf(a, ra), incidentId: 'INC-REF-B' })).rejects.toMatchObject({
      type: 'FirebreakBadInput',
      message: 'network.unban_ips refused, nothing was changed: holder names incident INC-REF-A, not this incident (INC-REF-B)',
    });
    await expect(acts.networkUnbanIps({ ...undoOf(a, ra), args: { addresses: ['203.0.113.34'], holder: 'INC-REF-A/Bad Step' } })).rejects.toMatchObject({ type: 'FirebreakBadInput', message: expect.stringMatching(/holder must be "<incident>\/<step>"/) });
    expect(await stateOf('203.0.113.34/32')).toEqual(before);
    await acts.networkUnbanIps(undoOf(a, ra));
  });
});

describe('listBanHolds (for firebreak target check)', () => {
  it('lists active bans with every holder, at most `limit`, and countActiveBans gives the total', async () => {
    const a = ban('INC-LS-A', ['192.0.2.10', '192.0.2.11'], 3600, { target: 'plain' });
    const b = ban('INC-LS-B', ['192.0.2.11'], 7200, { target: 'plain' });
    const ra = await acts.networkBanIps(a);
    const rb = await acts.networkBanIps(b);
    const views = (await listBanHolds(r.redis, spaceOf('plain'))).filter((v) => v.subject.startsWith('192.0.2.'));
    expect(views).toEqual([
      { kind: 'ban', subject: '192.0.2.10/32', holders: [{ incidentId: 'INC-LS-A', stepId: 'ban', since: expect.any(String), until: ra.output?.expiresAt }] },
      {
        kind: 'ban',
        subject: '192.0.2.11/32',
        holders: [
          { incidentId: 'INC-LS-A', stepId: 'ban', since: expect.any(String), until: ra.output?.expiresAt },
          { incidentId: 'INC-LS-B', stepId: 'ban', since: expect.any(String), until: rb.output?.expiresAt },
        ],
      },
    ]);
    expect(await listBanHolds(r.redis, spaceOf('plain'), { limit: 1 })).toHaveLength(1);
    expect(await countActiveBans(r.redis, spaceOf('plain'))).toBeGreaterThanOrEqual(2);
    await acts.networkUnbanIps(lift('INC-LS-X', ['192.0.2.10', '192.0.2.11'], 'plain'));
  });
});

describe('holds of a ban whose own expiry never runs', () => {
  it('an ended ban whose incident was terminated loses its holds with its registry entry at any later expiry; a live ban keeps them', async () => {
    const a = ban('INC-SWEEP-A', ['192.0.2.40'], 60, { target: 'plain' });
    const b = ban('INC-SWEEP-B', ['192.0.2.41'], 3600, { target: 'plain' });
    await acts.networkBanIps(a);
    await acts.networkBanIps(b);
    expect(Object.keys(await holdsOf('192.0.2.40/32', 'plain'))).toEqual(['INC-SWEEP-A/ban']);
    // Another incident's ban timer fires two minutes from now: A's ban has ended by then, and A's own expiry never runs.
    const fired = new Date(Date.now() + 120_000).toISOString();
    const res = await acts.networkExpireBans({ incidentId: 'INC-SWEEP-C', stepId: 'ban.expiry', action: 'network.expire_bans', target: 'plain', mode: 'live', args: {}, requestedAt: fired });
    expect(res.output).toMatchObject({ removed: 1, holdsDropped: 0 });
    expect(await r.redis.hexists(holdsHash('plain'), '192.0.2.40/32')).toBe(0);
    expect(await r.redis.zscore(registry('plain'), '192.0.2.40/32')).toBeNull();
    expect(Object.keys(await holdsOf('192.0.2.41/32', 'plain'))).toEqual(['INC-SWEEP-B/ban']);
    expect((await stateOf('192.0.2.41/32', 'plain')).score).toBe(String(secondsOf(b.requestedAt) + 3600));
    await acts.networkUnbanIps(lift('INC-SWEEP-X', ['192.0.2.40', '192.0.2.41'], 'plain'));
    expect((await r.redis.hmget(holdsHash('plain'), '192.0.2.40/32', '192.0.2.41/32'))).toEqual([null, null]);
  });
});
