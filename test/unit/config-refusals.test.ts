/** Config that would misbehave later is refused when it is loaded, naming the key and the file. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getTarget, loadConfig } from '../../lib/config.js';
import { ConfigError } from '../../lib/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'fbt-config-refusals-'));
let n = 0;
const write = (text: string) => {
  const file = join(dir, `c${(n += 1)}.yaml`);
  writeFileSync(file, text);
  return file;
};

/** The problems loading this YAML reports (none: []). */
function problems(yaml: string): string[] {
  try {
    loadConfig({ file: write(yaml), env: {} });
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

const target = (body: string) => `targets:\n  prod:\n${body.replace(/^/gm, '    ')}\ndefaultTarget: prod\n`;

describe('config refusals', () => {
  it.each(['constructor', 'toString', 'hasOwnProperty', '__proto__'])('refuses the target name %s and never finds it by lookup', (name) => {
    const found = problems(`targets:\n  ${name}: {}\n`);
    expect(found.join('\n')).toMatch(new RegExp(`targets\\.${name}: .*(reserved|lower-case|not allowed)`));
    const c = loadConfig({ env: {}, cwd: dir });
    expect(() => getTarget(c, name)).toThrow(/unknown target/);
  });

  it.each(['__proto__', 'toString', 'constructor', 'has space'])('refuses the approver group name %s', (group) => {
    const found = problems(`approvers:\n  groups:\n    "${group}": [alice]\n`);
    expect(found.length).toBeGreaterThan(0);
    expect(found.join('\n')).toMatch(/approvers\.groups/);
  });

  it('accepts ordinary group names', () => {
    expect(problems('approvers:\n  groups:\n    responders: [alice, bob]\n    on-call_2: [carol]\n')).toEqual([]);
  });

  it.each(['*', 'app*', 'a?b', 'x[1]', 'back\\\\slash', 'with space'])('refuses the Redis key prefix %j', (prefix) => {
    expect(problems(target(`redis: { keyPrefix: ${JSON.stringify(prefix)} }`)).join('\n')).toMatch(/targets\.prod\.redis\.keyPrefix: must not contain glob characters/);
  });

  it('accepts a prefix with colons, dots and dashes', () => {
    expect(problems(target('redis: { keyPrefix: "shop:v2.prod-eu" }'))).toEqual([]);
  });

  it('refuses a neverBan entry that is not an address or a network, naming it', () => {
    const found = problems(target('network: { neverBan: ["10.0.0.0/8", "garbage", "300.1.1.1"] }'));
    expect(found.some((p) => p.includes('targets.prod.network.neverBan.1') && p.includes('not an IP address or CIDR network'))).toBe(true);
    expect(found.some((p) => p.includes('targets.prod.network.neverBan.2'))).toBe(true);
    expect(found.some((p) => p.includes('neverBan.0'))).toBe(false);
  });

  it.each([
    [target('postgres: { adminUrl: "postgres://admin:hunter2@db/postgres" }'), 'targets.prod.postgres.adminUrl', 'postgres.password'],
    [target('postgres: { appUrl: "postgres://app:hunter2@db/app" }'), 'targets.prod.postgres.appUrl', 'postgres.appPassword'],
    [target('redis: { url: "redis://:hunter2@127.0.0.1:6379/0" }'), 'targets.prod.redis.url', 'redis.password'],
    ['database: { url: "postgres://fb:hunter2@127.0.0.1/firebreak" }\n', 'database.url', 'database.password'],
  ])('refuses a password inline in a URL (%#) and says where it goes, without echoing it', (yaml, key, where) => {
    const found = problems(yaml).join('\n');
    expect(found).toContain(`${key}: must not contain a password: put it in ${where}`);
    expect(found).not.toContain('hunter2');
  });

  it.each([
    [target('nginx: { denyFile: "deny.conf" }'), 'targets.prod.nginx.denyFile'],
    [target('secrets: { sinks: [{ type: dotenv, path: "./.env" }] }'), 'targets.prod.secrets.sinks.0.path'],
    [target('postgres: { password: { file: "secrets/pg" } }'), 'targets.prod.postgres.password'],
  ])('refuses a relative path (%#)', (yaml, key) => {
    expect(problems(yaml).join('\n')).toMatch(new RegExp(`${key.replace(/\./g, '\\.')}.*must be an absolute path`));
  });

  it('accepts the same settings when they are well formed', () => {
    const yaml = target(
      [
        'redis: { url: "redis://127.0.0.1:6379/0", password: { env: REDIS_PW }, keyPrefix: "shop" }',
        'postgres: { adminUrl: "postgres://admin@db/postgres", password: { file: /run/secrets/pg }, appUrl: "postgres://app@db/app" }',
        'network: { neverBan: ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"] }',
        'nginx: { denyFile: /etc/nginx/firebreak-deny.conf }',
        'secrets: { sinks: [{ type: dotenv, path: /srv/app/.env }] }',
      ].join('\n'),
    );
    expect(problems(yaml)).toEqual([]);
  });
});
