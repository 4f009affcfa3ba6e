/**
 * The lockdown held by several incidents (issue 11 §2), against real Redis through
 * createActivities: the issue's scenario, every order of take / release / retried release
 * for two and three incidents, retries after a crash, and undos recorded before holds.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, TargetClients } from '../../activities/index.js';
import { listLockdownHolds } from '../../activities/lockdown.js';
import { loadConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/logger.js';
import { djangoKey, LOCKDOWN_KEY, ownKey, type KeySpace } from '../../lib/redis-keys.js';
import { parseRunbook, RunbookError } from '../../lib/runbook/loader.js';
import type { ActionInput, ActionResult } from '../../workflows/definitions.js';
import { redisClient, type TestRedis } from '../helpers/services.js';
import { interleavings, retriedOrders, type Event } from '../helpers/hold-orders.js';

const LANES = 16;

let r: TestRedis;
let dir: string;
let clients: TargetClients;
let acts: ReturnType<typeof createActivities>;
let space: KeySpace;
let flag: string;
let holdsKey: string;
let priorKey: string;

/**
 * A Redis database of its own: every lockdown.enable SCANs the whole database for reader
 * heartbeats, and database 0 holds the other tests' keys (100,000s of jtis), which would
 * make thousands of enables measure those tests instead of the holds.
 */
const REDIS_DB_URL = 'redis://127.0.0.1:6379/11';

const ownDatabase = (label: string): TestRedis => redisClient(label, REDIS_DB_URL);

beforeAll(() => {
  r = ownDatabase('lockdown-holds');
  dir = mkdtempSync(join(tmpdir(), 'fbt-lockdown-holds-'));
  const file = join(dir, 'firebreak.yaml');
  // One namespace per lane: the exhaustive orders run side by side, each on its own flag.
  const lanes = Array.from({ length: LANES }, (_, i) => `  lane${i}: { development: true, redis: { url: "${REDIS_DB_URL}", keyPrefix: "${r.prefix}-lane${i}" } }`);
  writeFileSync(file, ['targets:', `  local: { development: true, redis: { url: "${REDIS_DB_URL}", keyPrefix: "${r.prefix}" } }`, ...lanes].join('\n'));
  const config = loadConfig({ file, env: {} });
  clients = new TargetClients(config);
  acts = createActivities({ config, logger: createLogger({ level: 'silent', pretty: false }), clients });
  space = { keyPrefix: r.prefix, keyVersion: 1 };
  flag = djangoKey(space, LOCKDOWN_KEY);
  holdsKey = ownKey(space, 'hold', 'lockdown');
  priorKey = ownKey(space, 'hold', 'lockdown', 'prior');
});
afterAll(async () => {
  await clients?.close();
  await r?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const base = (incidentId: string): Omit<ActionInput, 'stepId' | 'action' | 'args'> => ({ incidentId, target: 'local', mode: 'live', requestedAt: new Date().toISOString() });
const take = (incidentId: string, reason = 'shared lockdown test'): Promise<ActionResult> =>
  acts.lockdownEnable({ ...base(incidentId), stepId: 'lockdown', action: 'lockdown.enable', args: { reason } });
/** The undo the workflow runs for a take: its recorded arguments, stepId `<step>.undo`. */
const release = (incidentId: string, taken: ActionResult): Promise<ActionResult> => {
  expect(taken.undo?.action).toBe('lockdown.disable');
  return acts.lockdownDisable({ ...base(incidentId), stepId: 'lockdown.undo', action: 'lockdown.disable', args: taken.undo?.args ?? {} });
};

/** Every key left under the test's prefix. */
async function keysLeft(): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await r.redis.scan(cursor, 'MATCH', `${r.prefix}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  return keys.sort();
}

async function state(): Promise<{ flag: string | null; holders: string[]; prior: boolean }> {
  const [f, h, p] = await Promise.all([r.redis.get(flag), r.redis.hkeys(holdsKey), r.redis.exists(priorKey)]);
  return { flag: f, holders: h.sort(), prior: p === 1 };
}

async function setInitial(initial: string | null): Promise<void> {
  await r.clear();
  if (initial !== null) await r.redis.set(flag, initial);
}

describe('the issue’s scenario: two incidents hold the lockdown', () => {
  it('A takes, B takes, A releases (stays ON, held by B), B releases (flag unset again)', async () => {
    await setInitial(null);
    const a = await take('INC-A');
    expect(a).toMatchObject({ changed: true, output: { prior: null, alsoHeldBy: [] } });
    const b = await take('INC-B');
    expect(b.changed).toBe(false);
    expect(b.summary).toMatch(/^lockdown was already ON .* \(also held by INC-A\)$/);
    expect(b.output).toMatchObject({ prior: null, alsoHeldBy: ['INC-A'] });
    expect((await listLockdownHolds(r.redis, space))[0]?.holders.map((h) => [h.incidentId, h.stepId])).toEqual([
      ['INC-A', 'lockdown'],
      ['INC-B', 'lockdown'],
    ]);

    const offA = await release('INC-A', a);
    expect(offA).toMatchObject({ summary: 'lockdown stays ON: still held by INC-B', changed: false, output: { lifted: false, stillHeldBy: ['INC-B'] } });
    expect(await r.redis.get(flag)).toBe('1');
    expect((await acts.lockdownStatus({ ...base('INC-X'), stepId: 's', action: 'lockdown.status', args: {} })).output).toEqual({ locked: true, raw: '1', heldBy: ['INC-B'] });

    const offB = await release('INC-B', b);
    expect(offB).toMatchObject({ summary: `lockdown off (${flag} cleared, was 1)`, changed: true, output: { lifted: true, stillHeldBy: [] } });
    expect(await r.redis.get(flag)).toBeNull();
    expect(await listLockdownHolds(r.redis, space)).toEqual([]);
    expect(await keysLeft()).toEqual([]);
  });

  it('a prior value the app had is restored exactly by the last holder, whoever took first', async () => {
    await setInitial('0');
    const a = await take('INC-A');
    const b = await take('INC-B');
    const offB = await release('INC-B', b); // the second holder leaves first
    expect(offB.output).toEqual({ lifted: false, stillHeldBy: ['INC-A'] });
    expect(await release('INC-A', a)).toMatchObject({ summary: `lockdown restored to ${flag} = 0`, changed: true, output: { lifted: true } });
    expect(await keysLeft()).toEqual([flag]);
    expect(await r.redis.get(flag)).toBe('0');
  });

  it('the reason is not written to the app’s Redis (issue 11 §3)', async () => {
    await setInitial(null);
    const a = await take('INC-A', 'credentials of bob@example.com leaked in a gist');
    for (const key of await keysLeft()) {
      const type = await r.redis.type(key);
      const text = type === 'hash' ? JSON.stringify(await r.redis.hgetall(key)) : String(await r.redis.get(key));
      expect(text).not.toMatch(/bob|gist|leaked/);
    }
    await release('INC-A', a);
  });
});

interface Lane {
  target: string;
  flag: string;
  holds: string;
  prior: string;
}

function lane(i: number): Lane {
  const s: KeySpace = { keyPrefix: `${r.prefix}-lane${i}`, keyVersion: 1 };
  return { target: `lane${i}`, flag: djangoKey(s, LOCKDOWN_KEY), holds: ownKey(s, 'hold', 'lockdown'), prior: ownKey(s, 'hold', 'lockdown', 'prior') };
}

/**
 * One order, asserting after each event: the flag is 1 while anybody holds it and exactly
 * the initial value when nobody does; the holders are exactly the incidents that took and
 * have not released; each result says who else holds it. At the end no hold record is left.
 */
async function runOrder(events: Event[], initial: string | null, l: Lane, label: string): Promise<void> {
  if (initial === null) await r.redis.del(l.flag);
  else await r.redis.set(l.flag, initial);
  const holding = new Set<string>();
  const taken = new Map<string, ActionResult>();
  const sorted = () => [...holding].sort();
  const call = (id: string) => ({ incidentId: id, target: l.target, mode: 'live' as const, requestedAt: new Date().toISOString() });
  for (const ev of events) {
    const id = `INC-${ev.incident}`;
    const where = () => `${label} [${events.map((e) => `${e.kind}${e.incident}`).join(' ')}] at ${ev.kind}${ev.incident}`;
    if (ev.kind === 't') {
      const res = await acts.lockdownEnable({ ...call(id), stepId: 'lockdown', action: 'lockdown.enable', args: { reason: 'order test' } });
      expect(res.output?.alsoHeldBy, where()).toEqual(sorted());
      expect(res.changed, where()).toBe(holding.size === 0 && initial !== '1');
      holding.add(id);
      taken.set(id, res);
    } else {
      holding.delete(id);
      const res = await acts.lockdownDisable({ ...call(id), stepId: 'lockdown.undo', action: 'lockdown.disable', args: taken.get(id)?.undo?.args ?? {} });
      const lifted = ev.kind === 'r' && holding.size === 0;
      expect(res.output, where()).toEqual({ lifted, stillHeldBy: sorted() });
      expect(res.changed, where()).toBe(lifted && initial !== '1');
    }
    const [f, h, p] = await Promise.all([r.redis.get(l.flag), r.redis.hkeys(l.holds), r.redis.exists(l.prior)]);
    expect({ flag: f, holders: h.sort(), prior: p === 1 }, where()).toEqual({ flag: holding.size ? '1' : initial, holders: sorted(), prior: holding.size > 0 });
  }
  expect(await r.redis.exists(l.holds, l.prior), label).toBe(0);
  expect(await r.redis.get(l.flag), label).toBe(initial);
}

/** Run every (order, initial) pair, LANES at a time, each lane on its own namespace; returns the activity calls made. */
async function runAll(orders: Event[][], initials: Array<string | null>): Promise<number> {
  const jobs = initials.flatMap((initial) => orders.map((order) => ({ order, initial })));
  let next = 0;
  let calls = 0;
  await Promise.all(
    Array.from({ length: LANES }, async (_, i) => {
      const l = lane(i);
      for (let job = jobs[next++]; job; job = jobs[next++]) {
        await runOrder(job.order, job.initial, l, `initial ${job.initial ?? 'unset'}`);
        calls += job.order.length;
      }
    }),
  );
  const left = await keysLeft();
  expect(left.filter((k) => !Array.from({ length: LANES }, (_, i) => lane(i).flag).includes(k))).toEqual([]);
  return calls;
}

describe('every order of take, release and retried release', () => {
  const INITIAL: Array<string | null> = [null, '1'];

  it('2 incidents: all 6 orders and all 20 with a retry after each release, flag unset or already 1', async () => {
    const started = performance.now();
    const plain = interleavings(2, false);
    const retried = interleavings(2, true);
    expect([plain.length, retried.length]).toEqual([6, 20]);
    const calls = await runAll([...plain, ...retried], INITIAL);
    console.log(`lockdown holds, 2 incidents: ${2 * (plain.length + retried.length)} orders, ${calls} activity calls in ${Math.round(performance.now() - started)} ms`);
  });

  it('3 incidents: all 90 orders, and the 90 again with each release retried 0…5 events later, flag unset or already 1', async () => {
    const started = performance.now();
    const plain = interleavings(3, false);
    const retried = retriedOrders(plain);
    expect([plain.length, retried.length]).toEqual([90, 90]);
    const calls = await runAll([...plain, ...retried], INITIAL);
    console.log(`lockdown holds, 3 incidents: ${2 * (plain.length + retried.length)} orders, ${calls} activity calls in ${Math.round(performance.now() - started)} ms`);
  }, 60_000);
});

describe('a retry after a crash never doubles or steals a hold', () => {
  it('a retried take after success is a no-op: one hold, the first prior, released once', async () => {
    await setInitial(null);
    const a1 = await take('INC-A');
    const b = await take('INC-B');
    const a2 = await take('INC-A'); // the worker died after the first attempt committed
    expect(a2.undo).toEqual(a1.undo);
    expect(a2.changed).toBe(true); // the same answer as the first attempt: it turned the lockdown on
    expect(await r.redis.hlen(holdsKey)).toBe(2);
    expect(JSON.parse((await r.redis.get(priorKey)) ?? '{}')).toMatchObject({ prior: null, by: 'INC-A' });
    expect((await release('INC-A', a2)).output).toEqual({ lifted: false, stillHeldBy: ['INC-B'] });
    expect(await r.redis.get(flag)).toBe('1');
    expect((await release('INC-B', b)).output).toEqual({ lifted: true, stillHeldBy: [] });
    expect(await keysLeft()).toEqual([]);
  });

  it('a retried release never releases another incident’s hold, nor restores twice', async () => {
    await setInitial('0');
    const a = await take('INC-A');
    const b = await take('INC-B');
    await release('INC-A', a);
    const again = await release('INC-A', a);
    expect(again).toMatchObject({ changed: false, output: { lifted: false, stillHeldBy: ['INC-B'] } });
    expect(await state()).toEqual({ flag: '1', holders: ['INC-B'], prior: true });
    await release('INC-B', b);
    await r.redis.set(flag, '2'); // the app changes its own flag after every incident let go
    const late = await release('INC-B', b);
    expect(late).toMatchObject({ changed: false, summary: `lockdown already released by INC-B: nobody holds it (${flag} = 2)`, output: { lifted: false, stillHeldBy: [] } });
    expect(await r.redis.get(flag)).toBe('2');
  });

  it('the hold and the flag are one atomic unit: a take or release that fails writes neither', async () => {
    await setInitial(null);
    await r.redis.hset(flag, 'not', 'a string');
    await expect(take('INC-A')).rejects.toMatchObject({ type: 'FirebreakTargetUnavailable', message: expect.stringMatching(/WRONGTYPE/) });
    expect(await r.redis.exists(holdsKey, priorKey)).toBe(0);
    await r.redis.del(flag);
    const a = await take('INC-A');
    await r.redis.del(flag);
    await r.redis.hset(flag, 'not', 'a string');
    await expect(release('INC-A', a)).rejects.toMatchObject({ type: 'FirebreakTargetUnavailable' });
    expect(await r.redis.hkeys(holdsKey)).toEqual(['INC-A']);
    await r.redis.del(flag);
    await r.redis.set(flag, '1');
    expect((await release('INC-A', a)).output).toEqual({ lifted: true, stillHeldBy: [] });
    expect(await keysLeft()).toEqual([]);
  });

  it('many incidents taking and releasing at once, with retries, end where they started', async () => {
    await setInitial(null);
    const ids = Array.from({ length: 12 }, (_, i) => `INC-P${i}`);
    const taken = await Promise.all(ids.map((id) => take(id)));
    expect(taken.filter((t) => t.changed)).toHaveLength(1);
    expect(await r.redis.hlen(holdsKey)).toBe(12);
    const outs = await Promise.all(ids.flatMap((id, i) => [release(id, taken[i] as ActionResult), release(id, taken[i] as ActionResult), take(`INC-Q${i}`)]));
    const late = ids.map((_, i) => `INC-Q${i}`);
    expect((await state()).holders).toEqual(late.sort());
    const qs = outs.filter((_, i) => i % 3 === 2);
    const lifts = await Promise.all(late.map((id, i) => release(id, qs[i] as ActionResult)));
    expect(lifts.filter((o) => o.output?.lifted === true)).toHaveLength(1);
    expect(await keysLeft()).toEqual([]);
  });
});

describe('undos recorded before holds (incidents open across the upgrade)', () => {
  /** What the old lockdown.enable wrote beside the flag, and the undo it returned. */
  async function legacyEnable(incidentId: string, prior: string | null): Promise<Record<string, unknown>> {
    await r.redis.set(ownKey(space, 'undo', incidentId, 'lockdown'), JSON.stringify({ prior, at: new Date().toISOString(), reason: 'old reason text' }), 'EX', 3600);
    await r.redis.set(flag, '1');
    return prior === null ? {} : { restore: prior };
  }
  const legacyUndo = (incidentId: string, args: Record<string, unknown>) => acts.lockdownDisable({ ...base(incidentId), stepId: 'lockdown.undo', action: 'lockdown.disable', args });

  it('alone, the old undo clears or restores as before and deletes its old record (the reason text)', async () => {
    await setInitial(null);
    const args = await legacyEnable('INC-OLD', null);
    expect(await legacyUndo('INC-OLD', args)).toMatchObject({ changed: true, output: { lifted: true, stillHeldBy: [] } });
    expect(await keysLeft()).toEqual([]);
    await setInitial('0');
    const restore = await legacyEnable('INC-OLD2', '0');
    expect(await legacyUndo('INC-OLD2', restore)).toMatchObject({ summary: `lockdown restored to ${flag} = 0` });
    expect(await keysLeft()).toEqual([flag]);
  });

  it('an old incident and a new one: the old undo leaves it ON for the new one, which then restores what was there before the old one', async () => {
    await setInitial(null);
    const args = await legacyEnable('INC-OLD', null);
    const b = await take('INC-NEW'); // finds 1 and nobody recorded: would restore 1 without the old record's help
    expect(b.output).toMatchObject({ prior: '1' });
    expect(await legacyUndo('INC-OLD', args)).toMatchObject({ summary: 'lockdown stays ON: still held by INC-NEW', output: { lifted: false, stillHeldBy: ['INC-NEW'] } });
    expect(await r.redis.get(flag)).toBe('1');
    expect(await r.redis.exists(ownKey(space, 'undo', 'INC-OLD', 'lockdown'))).toBe(0);
    expect(await release('INC-NEW', b)).toMatchObject({ output: { lifted: true } });
    expect(await keysLeft()).toEqual([]);
  });

  it('the issue’s own bug, recorded before the upgrade (two old undos, the second with prior 1), no longer leaves the app at 503 when a new incident is involved', async () => {
    await setInitial(null);
    const first = await legacyEnable('INC-OLD1', null);
    const second = await legacyEnable('INC-OLD2', '1');
    const b = await take('INC-NEW');
    await legacyUndo('INC-OLD2', second); // prior 1 says nothing about what was there before
    await legacyUndo('INC-OLD1', first);
    expect(await r.redis.get(flag)).toBe('1');
    await release('INC-NEW', b);
    expect(await keysLeft()).toEqual([]);
  });

  it('an explicit lockdown.disable step releases its incident’s hold and leaves another’s', async () => {
    await setInitial(null);
    await take('INC-A');
    const b = await take('INC-B');
    const step = await acts.lockdownDisable({ ...base('INC-A'), stepId: 'lift-lockdown', action: 'lockdown.disable', args: {} });
    expect(step.output).toEqual({ lifted: false, stillHeldBy: ['INC-B'] });
    expect(await release('INC-B', b)).toMatchObject({ output: { lifted: true } });
    expect(await keysLeft()).toEqual([]);
  });

  it('a runbook cannot set the new internal argument', () => {
    const yaml = (action: string, w: string) =>
      `name: forged\ntitle: Forged\nseverity: high\nphases:\n  containment:\n    - id: s\n      action: ${action}\n      with: ${w}\n`;
    for (const [action, w] of [
      ['lockdown.disable', '{ hold: true }'],
      ['tokens.enable_users', '{ user_ids: ["1"], hold: true }'],
    ] as const) {
      let err: unknown;
      try {
        parseRunbook(yaml(action, w), 'forged.yaml');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(RunbookError);
      expect((err as RunbookError).problems.map((p) => p.message)).toEqual([`argument 'hold' of ${action} is set only by Firebreak itself (an undo's recorded state); a runbook or its params cannot set it`]);
    }
  });
});
