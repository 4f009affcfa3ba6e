import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadConfig, readSecret } from '../../lib/config.js';
import { ConfigError } from '../../lib/errors.js';
import { createLogger } from '../../lib/logger.js';

const dir = mkdtempSync(join(tmpdir(), 'fbt-config-'));
const write = (name: string, text: string) => {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
};

describe('config', () => {
  it('with no file, points at the local services and is frozen', () => {
    const c = loadConfig({ env: {}, cwd: dir });
    expect(c.source).toBe('defaults');
    expect(c.temporal).toEqual({ address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'firebreak', worker: {} });
    expect(c.targets.local?.redis).toEqual({ url: 'redis://127.0.0.1:6379/0', keyPrefix: '', keyVersion: 1 });
    expect(c.defaultTarget).toBe('local');
    expect(c.runbooksDir).toBe(join(dir, 'runbooks'));
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.temporal)).toBe(true);
    expect(() => {
      (c.temporal as { address: string }).address = 'evil:1';
    }).toThrow();
  });

  it('environment variables override the file', () => {
    const file = write('env.yaml', 'temporal: { address: "a:1", taskQueue: q }\nuser: from-file\n');
    const c = loadConfig({ file, env: { FIREBREAK_TEMPORAL_ADDRESS: 'b:2', FIREBREAK_USER: 'from-env' } });
    expect(c.temporal.address).toBe('b:2');
    expect(c.temporal.taskQueue).toBe('q');
    expect(c.user).toBe('from-env');
  });

  it('reports every problem, one line each, naming the path and the file; exit code 2', () => {
    const file = write(
      'bad.yaml',
      [
        'temporal: { adress: "x" }',
        'targets:',
        '  Prod: {}',
        '  ok: { redis: { url: "not a url" }, postgres: { appRole: "app; DROP ROLE x" } }',
        'log: { level: loud }',
        'encryption: { current: k9, keys: [{ id: k1, secret: "inline-secret" }] }',
      ].join('\n'),
    );
    let err: ConfigError | undefined;
    try {
      loadConfig({ file, env: {} });
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err?.exitCode).toBe(2);
    const text = err?.problems.join('\n') ?? '';
    expect(err?.problems.length).toBeGreaterThanOrEqual(5);
    expect(text).toMatch(/config: temporal: .*adress/);
    expect(text).toMatch(/config: targets\.Prod: .*lower-case/);
    expect(text).toMatch(/config: targets\.ok\.redis\.url: /);
    expect(text).toMatch(/config: targets\.ok\.postgres\.appRole: must be a plain SQL identifier/);
    expect(text).toMatch(/config: log\.level: /);
    expect(text).toMatch(/config: encryption\.keys\.0\.secret: /);
    for (const p of err?.problems ?? []) expect(p).toContain(file);
    expect(text).not.toContain('inline-secret');
  });

  it('rejects an unknown default target and an encryption key id that is not listed', () => {
    const file = write('refs.yaml', 'defaultTarget: nope\nencryption: { current: k2, keys: [{ id: k1, secret: { env: X } }] }\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(/defaultTarget: no target named "nope"[\s\S]*encryption\.current: "k2" is not one of encryption\.keys/);
  });

  it('a missing explicit file and invalid YAML are clear errors', () => {
    expect(() => loadConfig({ file: join(dir, 'absent.yaml'), env: {} })).toThrow(/config: file not found: .*absent\.yaml/);
    const file = write('syntax.yaml', 'temporal: [unclosed\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(/syntax\.yaml: invalid YAML/);
  });

  it('reads secrets by reference only, at use time', () => {
    const file = write('secret.txt', 's3cr3t\n');
    expect(readSecret({ file })).toBe('s3cr3t');
    expect(readSecret({ env: 'FBT_S' }, { FBT_S: 'v' })).toBe('v');
    expect(() => readSecret({ env: 'FBT_MISSING' }, {})).toThrow(/FBT_MISSING is not set/);
    expect(() => readSecret({ file: join(dir, 'nope') })).toThrow(/cannot read secret file .*nope: ENOENT/);
  });
});

describe('logger', () => {
  it('redacts secret-bearing keys at any depth we log them', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const log = createLogger({ destination: sink, level: 'info' }).child({ incidentId: 'INC-1' });
    log.info({ password: 'p1', token: 't1', target: { secret: 's1' }, headers: { authorization: 'Bearer b1' }, keep: 'visible' }, 'hello');
    const out = lines.join('');
    for (const leaked of ['p1', 't1', 's1', 'Bearer b1']) expect(out).not.toContain(leaked);
    expect(out).toContain('visible');
    expect(JSON.parse(out)).toMatchObject({ incidentId: 'INC-1', msg: 'hello', password: '[redacted]' });
  });
});
