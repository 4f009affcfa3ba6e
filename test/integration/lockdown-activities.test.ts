/** The lockdown activities against real Redis: effect, read-back, idempotence, undo, dry-run, bad input. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, TargetClients } from '../../activities/index.js';
import { loadConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/logger.js';
import { djangoKey, LOCKDOWN_KEY, ownKey } from '../../lib/redis-keys.js';
import type { ActionInput, Mode } from '../../workflows/definitions.js';
import { redisClient, type TestRedis } from '../helpers/services.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let r: TestRedis;
let clients: TargetClients;
let acts: ReturnType<typeof createActivities>;
let flag: string;

beforeAll(() => {
  r = redisClient('lockdown');
  const dir = mkdtempSync(join(tmpdir(), 'fbt-lockdown-'));
  const file = join(dir, 'firebreak.yaml');
  writeFileSync(
    file,
    [
      'targets:',
      `  local: { development: true, redis: { url: "redis://127.0.0.1:6379/0", keyPrefix: "${r.prefix}" } }`,
      `  prod: { production: true, redis: { url: "redis://127.0.0.1:6379/0", keyPrefix: "${r.prefix}" } }`,
      '  down: { development: true, redis: { url: "redis://127.0.0.1:1/0" } }',
    ].join('\n'),
  );
  const config = loadConfig({ file, env: {} });
  clients = new TargetClients(config);
  acts = createActivities({ config, logger: createLogger({ level: 'silent', pretty: false }), clients });
  flag = djangoKey({ keyPrefix: r.prefix, keyVersion: 1 }, LOCKDOWN_KEY);
});
afterAll(async () => {
  await clients.close();
  await r.cleanup();
});

let n = 0;
const input = (args: Record<string, unknown> = {}, mode: Mode = 'live', target = 'local'): ActionInput => ({
  incidentId: `INC-T-${++n}`,
  stepId: 'lockdown',
  action: 'lockdown.enable',
  target,
  mode,
  args,
  requestedAt: new Date().toISOString(),
});

describe('lockdown.enable / lockdown.disable', () => {
  it('writes the integer 1 under the Django cache key and proves it by reading it back', async () => {
    expect(flag).toBe(`${r.prefix}:1:EMERGENCY_LOCKDOWN`);
    const on = input({ reason: 'test' });
    const res = await acts.lockdownEnable(on);
    expect(await r.redis.get(flag)).toBe('1');
    expect(res).toMatchObject({ changed: true, proof: { key: flag, readBack: '1' }, undo: { action: 'lockdown.disable', args: { hold: true } } });
    await acts.lockdownDisable({ ...on, args: res.undo?.args ?? {} });
    expect(await r.redis.get(flag)).toBeNull();
  });

  it('is idempotent: a retry of the same step keeps the first attempt’s prior value, recorded without the reason', async () => {
    await r.redis.set(flag, '0');
    const same = input({ reason: 'retry' });
    const first = await acts.lockdownEnable(same);
    const second = await acts.lockdownEnable(same);
    expect(second.undo).toEqual(first.undo);
    expect(second.undo).toEqual({ action: 'lockdown.disable', args: { hold: true } });
    expect(second.changed).toBe(true);
    const space = { keyPrefix: r.prefix, keyVersion: 1 };
    const record = JSON.parse((await r.redis.get(ownKey(space, 'hold', 'lockdown', 'prior'))) ?? '{}') as Record<string, unknown>;
    expect(record).toEqual({ prior: '0', by: same.incidentId, since: expect.any(String) });
    expect(await r.redis.hkeys(ownKey(space, 'hold', 'lockdown'))).toEqual([same.incidentId]);
    // Held until released: no expiry that would forget the prior value while the flag is still on.
    expect(await r.redis.ttl(ownKey(space, 'hold', 'lockdown', 'prior'))).toBe(-1);
    expect(await r.redis.exists(ownKey(space, 'undo', same.incidentId, 'lockdown'))).toBe(0);
    await acts.lockdownDisable({ ...same, stepId: 'lockdown.undo', args: second.undo?.args ?? {} });
    expect(await r.redis.get(flag)).toBe('0');
    expect(await r.redis.exists(ownKey(space, 'hold', 'lockdown'), ownKey(space, 'hold', 'lockdown', 'prior'))).toBe(0);
    await r.redis.del(flag);
  });

  it('an already-set flag is reported unchanged and its undo leaves it set', async () => {
    await r.redis.set(flag, '1');
    const on = input();
    const res = await acts.lockdownEnable(on);
    expect(res.changed).toBe(false);
    // No app process writes a reader heartbeat in this test: the summary says so, loudly.
    expect(res.summary).toBe(`lockdown was already ON (${flag} = 1); WARNING: no app process has read ${r.prefix}:1 in the last 60 s — is KEY_PREFIX/VERSION right?`);
    await acts.lockdownDisable({ ...on, args: res.undo?.args ?? {} });
    expect(await r.redis.get(flag)).toBe('1');
    await r.redis.del(flag);
  });

  it('dry-run plans and changes nothing', async () => {
    const res = await acts.lockdownEnable(input({}, 'dry-run'));
    expect(res.plan).toEqual([`SET ${flag} 1 (now: unset)`, `WARNING: no app process has read ${r.prefix}:1 in the last 60 s — is KEY_PREFIX/VERSION right?`]);
    expect(res.undo).toBeUndefined();
    expect(await r.redis.get(flag)).toBeNull();
    await r.redis.set(flag, '1');
    const off = await acts.lockdownDisable(input({}, 'dry-run'));
    expect(off.plan).toEqual([`DEL ${flag} (now: 1)`]);
    expect(await r.redis.get(flag)).toBe('1');
    await r.redis.del(flag);
  });

  it('the undo restores a non-integer prior value byte for byte', async () => {
    await r.redis.set(flag, 'legacy-true');
    const on = input();
    const res = await acts.lockdownEnable(on);
    expect(res.output).toMatchObject({ prior: 'legacy-true' });
    const off = await acts.lockdownDisable({ ...on, args: res.undo?.args ?? {} });
    expect(off).toMatchObject({ summary: `lockdown restored to ${flag} = legacy-true`, output: { lifted: true, stillHeldBy: [] } });
    expect(await r.redis.get(flag)).toBe('legacy-true');
    await r.redis.del(flag);
  });

  it('a key of the wrong type is a retryable target error naming the cause', async () => {
    await r.redis.hset(flag, 'a', 'b');
    await expect(acts.lockdownStatus(input())).rejects.toMatchObject({ type: 'FirebreakTargetUnavailable', nonRetryable: false, message: expect.stringMatching(/^redis error: WRONGTYPE/) });
    await r.redis.del(flag);
  });

  it('lockdown.status reads the flag without changing it', async () => {
    expect((await acts.lockdownStatus(input())).output).toEqual({ locked: false, raw: null, heldBy: [] });
    await r.redis.set(flag, '1');
    expect((await acts.lockdownStatus(input())).output).toEqual({ locked: true, raw: '1', heldBy: [] });
    await r.redis.del(flag);
  });

  it('refuses bad input and drills on production with typed, non-retryable failures', async () => {
    await expect(acts.lockdownDisable(input({ hold: 'yes' }))).rejects.toMatchObject({ type: 'FirebreakBadInput', nonRetryable: true });
    for (const restore of [12, true, 'x'.repeat(1025)]) {
      await expect(acts.lockdownDisable(input({ restore }))).rejects.toMatchObject({
        type: 'FirebreakBadInput',
        nonRetryable: true,
        message: expect.stringMatching(/restore must be the value recorded before enable \(a string of at most 1024 characters\)/),
      });
    }
    await expect(acts.lockdownEnable(input({}, 'drill', 'prod'))).rejects.toMatchObject({ type: 'FirebreakRefused', nonRetryable: true });
    await expect(acts.lockdownEnable(input({}, 'live', 'nowhere'))).rejects.toMatchObject({ type: 'FirebreakBadInput' });
    expect(await r.redis.get(flag)).toBeNull();
  });

  it('an unreachable Redis is a retryable TargetUnavailable failure', async () => {
    await expect(acts.lockdownStatus(input({}, 'live', 'down'))).rejects.toMatchObject({ type: 'FirebreakTargetUnavailable', nonRetryable: false });
  });
});
