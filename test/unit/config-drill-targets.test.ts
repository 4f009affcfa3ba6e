/**
 * A drill target shares nothing with a target drills must not touch, refused when the config
 * is loaded with a message naming the drill target, the shared thing and the other target:
 * Redis keys, the PostgreSQL database, the app role (a cluster's roles are shared by all its
 * databases), the nginx deny file, a secret sink (dotenv file, GitHub repo and environment).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { ConfigError } from '../../lib/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'fbt-drill-targets-'));
let n = 0;

/** The problems of a config with a drill target `d` and a production target `p` (each body one flow mapping's inside). */
function problems(drill: string, prod: string): string[] {
  const file = join(dir, `c${(n += 1)}.yaml`);
  writeFileSync(file, ['defaultTarget: d', 'targets:', `  d: { drillTarget: true, redis: { keyPrefix: drill }, ${drill} }`, `  p: { production: true, redis: { keyPrefix: prod }, ${prod} }`].join('\n'));
  try {
    loadConfig({ file, env: {} });
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

const pg = (database: string, appRole: string, host = '127.0.0.1') => `postgres: { adminUrl: "postgres://postgres@${host}:5432/postgres", database: ${database}, appRole: ${appRole} }`;
const refusal = (shared: string) => new RegExp(`targets\\.d: a drill target shares ${shared.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} with production target "p": give the drill target its own`);

describe('a drill target sharing with a production target is refused at config load', () => {
  it.each([
    ['the PostgreSQL database', pg('shop', 'drill_app'), pg('shop', 'shop_app'), 'PostgreSQL database "shop" on 127.0.0.1:5432'],
    ['the app role (another database, same cluster)', pg('shop_drill', 'shop_app'), pg('shop', 'shop_app'), 'PostgreSQL app role "shop_app" on 127.0.0.1:5432'],
    ['the app role, the server named as localhost', pg('shop_drill', 'shop_app', 'localhost'), pg('shop', 'shop_app'), 'PostgreSQL app role "shop_app" on 127.0.0.1:5432'],
    ['the nginx deny file', 'nginx: { denyFile: /etc/nginx/firebreak-deny.conf }', 'nginx: { denyFile: /etc/nginx/firebreak-deny.conf }', 'nginx deny file /etc/nginx/firebreak-deny.conf'],
    ['the nginx deny file, spelled differently', 'nginx: { denyFile: /etc/nginx/./conf.d/../firebreak-deny.conf }', 'nginx: { denyFile: /etc/nginx/firebreak-deny.conf }', 'nginx deny file /etc/nginx/./conf.d/../firebreak-deny.conf'],
    ['a dotenv secret sink', 'secrets: { sinks: [{ type: dotenv, path: /srv/app/.env }] }', 'secrets: { sinks: [{ type: dotenv, path: /srv/app/.env }] }', 'secret sink /srv/app/.env'],
    [
      'the GitHub secrets of one repo and environment',
      'github: { repo: acme/shop }, secrets: { sinks: [{ type: github, environment: production }] }',
      'github: { repo: acme/shop }, secrets: { sinks: [{ type: github, environment: production }] }',
      'GitHub secrets of acme/shop (environment production)',
    ],
  ])('%s', (_what, drill, prod, shared) => {
    const found = problems(drill, prod);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(refusal(shared));
    expect(found[0]).toMatch(/\(\/.*c\d+\.yaml\)$/);
  });

  it('names everything shared in one line', () => {
    const found = problems(`${pg('shop', 'shop_app')}, nginx: { denyFile: /etc/nginx/deny.conf }`, `${pg('shop', 'shop_app')}, nginx: { denyFile: /etc/nginx/deny.conf }`);
    expect(found).toEqual([expect.stringMatching(refusal('PostgreSQL database "shop" on 127.0.0.1:5432, PostgreSQL app role "shop_app" on 127.0.0.1:5432, nginx deny file /etc/nginx/deny.conf'))]);
  });

  it.each([
    ['its own database and app role', pg('shop_drill', 'drill_app'), pg('shop', 'shop_app')],
    ['the same names on another PostgreSQL server', pg('shop', 'shop_app', 'drill-db.internal'), pg('shop', 'shop_app')],
    ['its own deny file', 'nginx: { denyFile: /etc/nginx-drill/deny.conf }', 'nginx: { denyFile: /etc/nginx/deny.conf }'],
    ['its own dotenv file', 'secrets: { sinks: [{ type: dotenv, path: /srv/drill/.env }] }', 'secrets: { sinks: [{ type: dotenv, path: /srv/app/.env }] }'],
    ['another GitHub environment of the same repo', 'github: { repo: acme/shop }, secrets: { sinks: [{ type: github, environment: drill }] }', 'github: { repo: acme/shop }, secrets: { sinks: [{ type: github, environment: production }] }'],
  ])('accepts a drill target with %s', (_what, drill, prod) => {
    expect(problems(drill, prod)).toEqual([]);
  });

  it('refuses drill.token without an app to send it to', () => {
    expect(problems('drill: { token: { signingKey: { env: DRILL_JWT_KEY }, user: "42" } }', '')).toEqual([expect.stringMatching(/targets\.d\.drill\.token: the drill sends the token to the app, and the target has no app\.url/)]);
    expect(problems('app: { url: "https://drill.example.internal/" }, drill: { token: { signingKey: { env: DRILL_JWT_KEY }, user: "42" } }', '')).toEqual([]);
  });
});
