/**
 * File arguments (`addresses_file`, `jtis_file`) are read only from the worker's inputs
 * folder: a file outside it, `..`, a symlink out of it (file or folder), a FIFO and a
 * directory are refused with nothing written to Redis; a file's bad lines are named by
 * number, never quoted. A canary in a "worker file" never reaches an error, nor an
 * incident's status or timeline.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, TargetClients } from '../../activities/index.js';
import { loadConfig } from '../../lib/config.js';
import { declareIncident, TERMINAL, waitFor } from '../../lib/incidents/index.js';
import { createLogger } from '../../lib/logger.js';
import type { ActionInput, IncidentStatus } from '../../workflows/definitions.js';
import { DECLARER, startStack, type Stack } from '../helpers/firebreak.js';
import { redisClient, type TestRedis } from '../helpers/services.js';

const CANARY = `FBT-CANARY-${randomBytes(8).toString('hex')}`;
let r: TestRedis;
let dir: string;
let inputs: string;
let secret: string;
let clients: TargetClients;
let acts: ReturnType<typeof createActivities>;

beforeAll(() => {
  r = redisClient('input-files');
  dir = mkdtempSync(join(tmpdir(), 'fbt-input-files-'));
  inputs = join(dir, 'inputs');
  mkdirSync(inputs);
  // A worker file the attacker wants echoed: the key is on a line no parser accepts.
  secret = join(dir, 'worker.env');
  writeFileSync(secret, `FIREBREAK_ENCRYPTION_KEY=${CANARY}\n203.0.113.1\n${CANARY} with spaces\n`);
  symlinkSync(secret, join(inputs, 'link-to-secret.txt'));
  symlinkSync(dir, join(inputs, 'up'));
  execFileSync('mkfifo', [join(inputs, 'fifo.txt')]);
  mkdirSync(join(inputs, 'folder'));
  // In the folder, but not what its name says: every line a canary, no address, no jti.
  writeFileSync(join(inputs, 'canary-lines.txt'), `# bans\n203.0.113.9\n${CANARY}\n${CANARY}/8 x\n \n${CANARY} ${CANARY}\n`);
  writeFileSync(join(inputs, 'good.txt'), '203.0.113.10\n203.0.113.11 # second\n');
  symlinkSync(join(inputs, 'good.txt'), join(inputs, 'good-link.txt'));
  writeFileSync(join(inputs, 'jtis.txt'), 'jti-one\njti-two\n');
  const file = join(dir, 'firebreak.yaml');
  writeFileSync(file, `inputsDir: ${JSON.stringify(inputs)}\ntargets:\n  local: { development: true, redis: { keyPrefix: "${r.prefix}" } }\n`);
  const config = loadConfig({ file, env: {} });
  expect(config.inputsDir).toBe(inputs);
  clients = new TargetClients(config);
  acts = createActivities({ config, logger: createLogger({ level: 'silent', pretty: false }), clients });
});

afterAll(async () => {
  await clients?.close();
  await r?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

let n = 0;
const input = (action: string, args: Record<string, unknown>): ActionInput => ({
  incidentId: `INC-IF-${++n}`,
  stepId: 'step',
  action,
  target: 'local',
  mode: 'live',
  args,
  requestedAt: new Date().toISOString(),
});
const keys = async (): Promise<string[]> => (await r.redis.keys(`${r.prefix}*`)).sort();

/** The refusal of `run`, after checking it is typed, non-retryable, changed nothing and carries no canary. */
async function refusal(run: () => Promise<unknown>): Promise<string> {
  const before = await keys();
  const err = await run().catch((e: unknown) => e);
  expect(err).toMatchObject({ type: 'FirebreakBadInput', nonRetryable: true });
  const message = (err as Error).message;
  expect(message).not.toContain(CANARY);
  expect(JSON.stringify((err as { details?: unknown }).details ?? null)).not.toContain(CANARY);
  expect(await keys()).toEqual(before);
  return message;
}

describe('file arguments outside the inputs folder are refused, nothing written', () => {
  const outside = /is outside the worker's inputs folder \(.*\/inputs\); only files there are read/;
  const cases: Array<[string, () => string, RegExp]> = [
    ['an absolute path to a worker file', () => secret, outside],
    ['a symlink in the folder to a file outside', () => 'link-to-secret.txt', outside],
    ['a folder symlink out of the folder', () => 'up/worker.env', outside],
    ['a path with ..', () => '../worker.env', /must name a file in the worker's inputs folder, without "\.\."/],
    ['an absolute path that climbs out', () => `${inputs}/../worker.env`, /without "\.\."/],
    ['a FIFO (would block a reader)', () => 'fifo.txt', /fifo\.txt is not a regular file/],
    ['a directory', () => 'folder', /folder is not a regular file/],
    ['a name that is not there', () => 'missing.txt', /missing\.txt does not exist in the worker's inputs folder/],
  ];

  it.each(cases)('network.ban_ips: %s', async (_label, name, message) => {
    expect(await refusal(() => acts.networkBanIps(input('network.ban_ips', { addresses_file: name(), ttl_seconds: 3600 })))).toMatch(message);
  });

  it.each(cases)('tokens.revoke: %s', async (_label, name, message) => {
    expect(await refusal(() => acts.tokensRevoke(input('tokens.revoke', { scope: 'jti', jtis_file: name() })))).toMatch(message);
  });
});

describe('a file in the folder is read, its bad lines named by number only', () => {
  it('network.ban_ips names the lines, never their text', async () => {
    const message = await refusal(() => acts.networkBanIps(input('network.ban_ips', { addresses_file: 'canary-lines.txt', ttl_seconds: 3600 })));
    expect(message).toBe(
      'network.ban_ips refused, nothing was changed: 3 problems: canary-lines.txt:3: not an IP address or CIDR network (the line is not shown); canary-lines.txt:4: not an IP address or CIDR network (the line is not shown); canary-lines.txt:6: not an IP address or CIDR network (the line is not shown)',
    );
  });

  it('tokens.revoke names the lines, never their text', async () => {
    const message = await refusal(() => acts.tokensRevoke(input('tokens.revoke', { scope: 'jti', jtis_file: 'canary-lines.txt' })));
    // Line 3 (the bare canary) is a well-formed jti: it would be revoked, never shown.
    expect(message).toMatch(/jtis_file: 3 invalid entries .* at line 1, line 4, line 6; nothing was changed$/);
  });

  it('a relative name, an absolute path inside, and a symlink that stays inside all work', async () => {
    const a = await acts.networkBanIps(input('network.ban_ips', { addresses_file: 'good.txt', ttl_seconds: 3600 }));
    expect(a.output).toMatchObject({ banned: 2 });
    const b = await acts.networkBanIps(input('network.ban_ips', { addresses_file: join(inputs, 'good-link.txt'), ttl_seconds: 3600 }));
    expect(b.output).toMatchObject({ banned: 2 });
    const t = await acts.tokensRevoke(input('tokens.revoke', { scope: 'jti', jtis_file: 'jtis.txt' }));
    expect(t.output).toMatchObject({ revoked: 2 });
    expect((await keys()).filter((k) => k.includes(':fb:revoked:jti:'))).toHaveLength(2);
  });
});

describe('in a real incident: the canary reaches neither the status nor the timeline', () => {
  let stack: Stack;
  let workerSecret: string;

  beforeAll(async () => {
    stack = await startStack('input-files');
    mkdirSync(stack.config.inputsDir, { recursive: true });
    workerSecret = join(stack.dir, 'worker.env');
    writeFileSync(workerSecret, `FIREBREAK_ENCRYPTION_KEY=${CANARY}\n`);
    writeFileSync(join(stack.config.inputsDir, 'canary.txt'), `${CANARY}\n`);
    writeFileSync(join(stack.config.inputsDir, 'canary-jtis.txt'), `${CANARY} ${CANARY}\n`);
    stack.writeRunbook(
      'file-args',
      [
        'name: file-args',
        'title: File arguments',
        'severity: high',
        'params:',
        '  bans: { type: string, default: "" }',
        '  jtis: { type: string, default: "" }',
        'phases:',
        '  containment:',
        '    - id: ban',
        '      action: network.ban_ips',
        '      when: params.bans',
        '      with: { addresses_file: "{{ params.bans }}" }',
        '    - id: revoke',
        '      action: tokens.revoke',
        '      when: params.jtis',
        '      with: { scope: jti, jtis_file: "{{ params.jtis }}" }',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const settled = (id: string): Promise<IncidentStatus> =>
    waitFor(stack.client, id, (s) => TERMINAL.includes(s.state) || s.state === 'blocked' || s.state === 'awaiting-resolve', { timeoutMs: 40_000, intervalMs: 100 });
  const targetKeys = async (): Promise<string[]> => (await stack.redis.redis.keys(`*${stack.redis.prefix}*`)).sort();

  it.each([
    ['a worker file outside the inputs folder', () => ({ bans: workerSecret }), /addresses_file .*worker\.env is outside the worker's inputs folder/],
    ['a file in the folder holding the key', () => ({ bans: 'canary.txt' }), /canary\.txt:1: not an IP address or CIDR network \(the line is not shown\)/],
    ['a jtis_file outside the inputs folder', () => ({ jtis: workerSecret }), /jtis_file .*worker\.env is outside the worker's inputs folder/],
  ])('%s: rejected before anything runs', async (_label, params, message) => {
    const before = await targetKeys();
    const { id } = await declareIncident(stack.client, stack.config, { runbook: 'file-args', params: params(), actor: stack.actor(DECLARER) });
    const s = await settled(id);
    expect(s.state).toBe('rejected');
    expect(s.rejection?.map((p) => p.message).join('\n')).toMatch(message);
    expect(JSON.stringify(s)).not.toContain(CANARY);
    expect(JSON.stringify(s.timeline)).not.toContain(CANARY);
    expect(await targetKeys()).toEqual(before);
  });

  it('a jtis_file whose lines hold the key fails its step with line numbers only', async () => {
    const before = await targetKeys();
    const { id } = await declareIncident(stack.client, stack.config, { runbook: 'file-args', params: { jtis: 'canary-jtis.txt' }, actor: stack.actor(DECLARER) });
    const s = await settled(id);
    const step = s.steps.find((x) => x.id === 'revoke');
    expect(step?.state).toBe('failed');
    expect(step?.error).toMatch(/jtis_file: 1 invalid entry .* at line 1; nothing was changed/);
    expect(JSON.stringify(s)).not.toContain(CANARY);
    expect(await targetKeys()).toEqual(before);
  });
});
