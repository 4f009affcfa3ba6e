import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/logger.js';
import { escapeGlob, readerPattern } from '../../lib/redis-keys.js';
import { checkSecretRefs } from '../../lib/secret-refs.js';
import { warnUnreadableSecrets } from '../../worker/create.js';

const SECRET = 'hunter2-value-never-logged';

function config() {
  const dir = mkdtempSync(join(tmpdir(), 'fbt-refs-'));
  const file = join(dir, 'token');
  writeFileSync(file, `${SECRET}\n`);
  const cfg = join(dir, 'firebreak.yaml');
  writeFileSync(
    cfg,
    [
      'defaultTarget: staging',
      'targets:',
      '  staging:',
      '    redis: { url: "redis://127.0.0.1:6379/0", password: { env: FBT_REFS_SET } }',
      `    github: { repo: acme/shop, token: { file: "${file}" } }`,
      '  prod:',
      '    postgres: { password: { env: FBT_REFS_UNSET }, appPassword: { file: "/nonexistent/fbt-refs" } }',
      '    slack: { webhook: { env: FBT_REFS_SET } }',
    ].join('\n'),
  );
  return loadConfig({ file: cfg, env: {} });
}

describe('secret references', () => {
  it('checks every reference of a target, naming the reference and never the value', () => {
    const c = config();
    const env = { FBT_REFS_SET: SECRET };
    expect(checkSecretRefs(c.targets.staging!, env)).toEqual([
      { path: 'redis.password', ref: 'env FBT_REFS_SET', ok: true },
      { path: 'github.token', ref: expect.stringMatching(/^file .*token$/), ok: true },
    ]);
    const prod = checkSecretRefs(c.targets.prod!, env);
    expect(prod.map((r) => [r.path, r.ok])).toEqual([
      ['postgres.password', false],
      ['postgres.appPassword', false],
      ['slack.webhook', true],
    ]);
    expect(prod[0]?.problem).toBe('secret environment variable FBT_REFS_UNSET is not set');
    expect(prod[1]?.problem).toBe('cannot read secret file /nonexistent/fbt-refs: ENOENT');
    expect(JSON.stringify(prod)).not.toContain(SECRET);
  });

  it('the worker warns once per unreadable reference at start, with the target, and never logs a value', () => {
    let out = '';
    const sink = new Writable({ write: (chunk: Buffer, _e, cb) => ((out += chunk.toString()), cb()) });
    const logger = createLogger({ level: 'info', pretty: false, destination: sink });
    process.env.FBT_REFS_SET = SECRET;
    try {
      expect(warnUnreadableSecrets(config(), logger)).toBe(2);
    } finally {
      delete process.env.FBT_REFS_SET;
    }
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { level: number; target: string; setting: string; reference: string; msg: string });
    expect(lines.map((l) => [l.level, l.target, l.setting, l.reference])).toEqual([
      [40, 'prod', 'postgres.password', 'env FBT_REFS_UNSET'],
      [40, 'prod', 'postgres.appPassword', 'file /nonexistent/fbt-refs'],
    ]);
    expect(lines[0]?.msg).toContain('target "prod": postgres.password (env FBT_REFS_UNSET) cannot be read by this worker');
    expect(out).not.toContain(SECRET);
  });
});

describe('reader keys', () => {
  it('match only the namespace, with glob characters of the prefix escaped', () => {
    expect(escapeGlob('a*b?[c]\\')).toBe('a\\*b\\?\\[c\\]\\\\');
    expect(readerPattern({ keyPrefix: 'shop*', keyVersion: 2 })).toBe('shop\\*:2:fb:reader:*');
  });
});
