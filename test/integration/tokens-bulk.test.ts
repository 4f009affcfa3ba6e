/**
 * The deny-list's bulk connection against a private redis-server: it connects the way the
 * worker's client does (password, database), and a write Redis refuses mid-way fails the
 * attempt with Redis's own words, retryably, and the retry resumes from the progress record.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { TargetClients } from '../../activities/deps.js';
import { REVOKE_CHUNK } from '../../activities/tokens/index.js';
import { RedisBulkReplyError, RedisBulkWriter, respCommand } from '../../activities/support/redis-bulk.js';
import { loadConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/logger.js';
import { contractKeys, djangoKey, ownKey } from '../../lib/redis-keys.js';
import type { ActionInput } from '../../workflows/definitions.js';
import { startRedisServer, type RedisServer } from '../helpers/processes.js';

const PASSWORD = 'bulk-test-secret';
const DB = 3;
let server: RedisServer;
let admin: Redis;
let dir: string;
let clients: TargetClients;
let acts: ReturnType<typeof createActivities>;
const space = { keyPrefix: 'bulk', keyVersion: 1 };

beforeAll(async () => {
  server = await startRedisServer();
  await server.client.config('SET', 'requirepass', PASSWORD);
  admin = new Redis(server.port, '127.0.0.1', { password: PASSWORD, db: DB });
  dir = mkdtempSync(join(tmpdir(), 'fbt-tokens-bulk-'));
  writeFileSync(join(dir, 'redis-password'), `${PASSWORD}\n`);
  const file = join(dir, 'firebreak.yaml');
  writeFileSync(
    file,
    [
      `inputsDir: ${JSON.stringify(dir)}`,
      'targets:',
      `  local: { development: true, redis: { url: "redis://127.0.0.1:${server.port}/${DB}", password: { file: ${JSON.stringify(join(dir, 'redis-password'))} }, keyPrefix: bulk } }`,
    ].join('\n'),
  );
  const config = loadConfig({ file, env: {} });
  clients = new TargetClients(config);
  acts = createActivities({ config, logger: createLogger({ level: 'silent', pretty: false }), clients });
});

afterAll(async () => {
  await clients?.close();
  admin?.disconnect();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const input = (jtis_file: string, incidentId: string): ActionInput => ({
  incidentId,
  stepId: 'revoke',
  action: 'tokens.revoke',
  target: 'local',
  mode: 'live',
  args: { scope: 'jti', jtis_file },
  requestedAt: new Date().toISOString(),
});

it('writes through the password and database the target names, one SET per id', async () => {
  const ids = Array.from({ length: 25_000 }, (_, i) => `auth-${i}`);
  const file = join(dir, 'auth.txt');
  writeFileSync(file, ids.join('\n'));
  const res = await acts.tokensRevoke(input(file, 'INC-BULK-1'));
  expect(res.output).toMatchObject({ revoked: 25_000, resumedFrom: 0 });
  const keys = ids.map((j) => djangoKey(space, contractKeys.revokedJti(j)));
  expect(await admin.exists(...keys)).toBe(25_000);
  expect(await admin.get(keys[24_999] as string)).toBe('1');
  expect(await admin.dbsize()).toBe(25_000 + 1); // and the progress record
  expect(await admin.select(0).then(() => admin.dbsize())).toBe(0); // nothing in the default database
  await admin.select(DB);
});

it('a write Redis refuses mid-way fails the attempt with its words (retryable), and the retry resumes', async () => {
  const ids = Array.from({ length: 6 * REVOKE_CHUNK }, (_, i) => `oom-${i}`);
  const file = join(dir, 'oom.txt');
  writeFileSync(file, ids.join('\n'));
  const keys = ids.map((j) => djangoKey(space, contractKeys.revokedJti(j)));
  await admin.flushdb(); // this private server's own database
  // Room for about two chunks, then every write is refused.
  const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1]);
  await admin.config('SET', 'maxmemory', String(used + 2 * REVOKE_CHUNK * 90));
  await admin.config('SET', 'maxmemory-policy', 'noeviction');
  const step = input(file, 'INC-BULK-2');
  await expect(acts.tokensRevoke(step)).rejects.toMatchObject({ type: 'FirebreakTargetUnavailable', nonRetryable: false, message: expect.stringMatching(/OOM command not allowed/) });
  let written = 0;
  for (let i = 0; i < keys.length; i += 5_000) written += await admin.exists(...keys.slice(i, i + 5_000));
  expect(written).toBeGreaterThan(0);
  expect(written).toBeLessThan(keys.length);
  const progress = Number((await admin.get(ownKey(space, 'progress', step.incidentId, 'revoke')))?.split(':')[0] ?? 0);
  expect(progress).toBeLessThanOrEqual(written);

  await admin.config('SET', 'maxmemory', '0');
  const res = await acts.tokensRevoke(step);
  expect(res.output).toMatchObject({ revoked: keys.length, resumedFrom: progress });
  written = 0;
  for (let i = 0; i < keys.length; i += 5_000) written += await admin.exists(...keys.slice(i, i + 5_000));
  expect(written).toBe(keys.length);
});

it('the writer reports an error reply inside a batch and keeps the connection for the next one', async () => {
  const writer = await RedisBulkWriter.open(clients.redis('local'), 'firebreak-test-bulk');
  const bad = Buffer.concat([respCommand(['SET', 'bulk:w:1', '1']), respCommand(['SET', 'bulk:w:2']), respCommand(['SET', 'bulk:w:3', '1'])]);
  await expect(writer.send(bad, 3)).rejects.toThrow(RedisBulkReplyError);
  await expect(writer.send(respCommand(['SET', 'bulk:w:4', '1']), 1)).resolves.toBeUndefined();
  await writer.close();
  expect(await admin.exists('bulk:w:1', 'bulk:w:2', 'bulk:w:3', 'bulk:w:4')).toBe(3);
});
