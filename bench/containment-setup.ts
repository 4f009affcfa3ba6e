/**
 * What the containment benchmark runs against: a throwaway PostgreSQL app database and role,
 * a real nginx, and two workers on the shared dev server — one with everything the backlog
 * added switched on (signed decisions and holders, as always, plus the audit log and the Slack
 * incident channel against the Web API stand-in), one with neither (`containment.plain`).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { loadConfig, type Config } from '../lib/config.js';
import { createKeyPair, keyFilePath, publicLine } from '../lib/identity/keys.js';
import { createLogger } from '../lib/logger.js';
import { startNginx, type Nginx } from '../test/helpers/nginx.js';
import { startSlackStandIn, type SlackStandIn } from '../test/helpers/slack-standin.js';
import { createWorker } from '../worker/create.js';
import type { BenchContext } from './types.js';

export const ADMIN = 'postgres://postgres@127.0.0.1:5432';
export const RUNBOOK = 'bench-containment';
const TEAM = 'T0BENCHC';
const RUNBOOK_YAML = `# Written by bench/containment.ts into a temp runbooks dir; never part of the product.
name: ${RUNBOOK}
title: Bench containment (gate-free token-leak shape)
severity: high
params:
  jtis: { type: "string[]", default: [] }
  user_ids: { type: "string[]", default: [] }
  ban_ips: { type: "string[]", default: [] }
phases:
  containment:
    - id: revoke-jtis
      action: tokens.revoke
      with: { scope: jti, jtis: "{{ params.jtis }}" }
    - id: revoke-users
      action: tokens.revoke
      with: { scope: user, user_ids: "{{ params.user_ids }}" }
    - id: ban
      action: network.ban_ips
      with: { addresses: "{{ params.ban_ips }}" }
    - id: read-only
      action: database.read_only
    - id: lockdown
      action: lockdown.enable
`;

export interface AppDb {
  database: string;
  role: string;
  admin: pg.Client;
  drop(): Promise<void>;
}

async function createAppDb(): Promise<AppDb> {
  const suffix = randomBytes(4).toString('hex');
  const database = `fbbench_app_${suffix}`;
  const role = `fbbench_app_${suffix}`;
  const root = new pg.Client({ connectionString: `${ADMIN}/postgres` });
  await root.connect();
  await root.query(`CREATE ROLE ${role} LOGIN`);
  await root.query(`CREATE DATABASE ${database}`);
  await root.end();
  const admin = new pg.Client({ connectionString: `${ADMIN}/${database}` });
  await admin.connect();
  await admin.query('CREATE TABLE orders (id serial PRIMARY KEY, item text)');
  await admin.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON orders TO ${role}`);
  return {
    database,
    role,
    admin,
    async drop() {
      await admin.end().catch(() => undefined);
      const r = new pg.Client({ connectionString: `${ADMIN}/postgres` });
      await r.connect();
      await r.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await r.query(`DROP ROLE IF EXISTS ${role}`);
      await r.end();
    },
  };
}

export interface ContainmentBench {
  db: AppDb;
  nginx: Nginx;
  slack: SlackStandIn;
  keyPrefix: string;
  /** Audit log and Slack incident channel on (task queue firebreak-bench-containment). */
  all: Readonly<Config>;
  /** Neither (task queue firebreak-bench-containment-plain). */
  plain: Readonly<Config>;
  close(): Promise<void>;
}

export async function setUp(ctx: BenchContext): Promise<ContainmentBench> {
  const db = await createAppDb();
  const nginx = await startNginx().catch(async (err: unknown) => {
    await db.drop();
    throw err;
  });
  const slack = await startSlackStandIn({ teamId: TEAM });
  try {
    return await withServices(ctx, db, nginx, slack);
  } catch (err) {
    await Promise.allSettled([slack.close(), nginx.stop(), db.drop()]);
    throw err;
  }
}

async function withServices(ctx: BenchContext, db: AppDb, nginx: Nginx, slack: SlackStandIn): Promise<ContainmentBench> {
  slack.addUser({ id: 'U0BENCHD' });
  const dir = join(ctx.config.dataDir, 'containment');
  mkdirSync(join(dir, 'runbooks'), { recursive: true });
  writeFileSync(join(dir, 'runbooks', `${RUNBOOK}.yaml`), RUNBOOK_YAML);
  const keyPrefix = `${ctx.keyPrefix}-c`;
  const auditDb = `fbbench_audit_${randomBytes(3).toString('hex')}`;
  const auditKey = join(dir, 'audit.key');
  writeFileSync(auditKey, randomBytes(32).toString('base64'), { mode: 0o600 });
  const slackKey = await createKeyPair(join(dir, 'slack-key'));
  writeFileSync(join(dir, 'slack-token'), `${slack.token}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'slack-signing'), `bench-signing-${randomBytes(8).toString('hex')}\n`, { mode: 0o600 });
  const base = (taskQueue: string) => [
    `user: ${ctx.users.declarer}`,
    `runbooksDir: ${JSON.stringify(join(dir, 'runbooks'))}`,
    `dataDir: ${JSON.stringify(join(dir, 'data'))}`,
    `temporal: { address: "${ctx.config.temporal.address}", taskQueue: ${taskQueue} }`,
    'targets:',
    '  local:',
    `    redis: { url: "redis://127.0.0.1:6379/0", keyPrefix: ${keyPrefix} }`,
    `    postgres: { adminUrl: "${ADMIN}/postgres", database: ${db.database}, appRole: ${db.role} }`,
    `    ${nginx.targetYaml}`,
  ];
  const plainFile = join(dir, 'firebreak-plain.yaml');
  writeFileSync(plainFile, [...base('firebreak-bench-containment-plain'), ...ctx.identityYaml].join('\n'));
  const allFile = join(dir, 'firebreak.yaml');
  writeFileSync(
    allFile,
    [
      ...base('firebreak-bench-containment'),
      ...ctx.identityYaml.map((l) => (l.includes(`name: ${ctx.users.declarer},`) ? l.replace(' }', `, slack: { team: ${TEAM}, user: U0BENCHD } }`) : l)),
      '  services:',
      `    - { name: slack-app, kind: slack, keys: ["${publicLine(slackKey, 'slack-app')}"], may: [declare, approve, resolve, abort, note, retry] }`,
      `database: { url: "${ADMIN}/${auditDb}" }`,
      `audit: { key: { file: "${auditKey}" } }`,
      'slack:',
      `  signingSecret: { file: ${join(dir, 'slack-signing')} }`,
      `  botToken: { file: ${join(dir, 'slack-token')} }`,
      `  teamId: ${TEAM}`,
      `  apiUrl: "${slack.apiUrl}"`,
      '  service: slack-app',
      `  keyFile: ${keyFilePath(join(dir, 'slack-key'))}`,
      '  channels:',
      '    targets: [local]',
    ].join('\n'),
  );
  const plain = loadConfig({ file: plainFile, env: {} });
  const all = loadConfig({ file: allFile, env: {} });
  const workers = await Promise.all([all, plain].map((config) => createWorker({ config, logger: createLogger({ level: 'error' }) })));
  const running = workers.map((w) => w.run());
  return {
    db,
    nginx,
    slack,
    keyPrefix,
    all,
    plain,
    async close() {
      for (const w of workers) await w.close();
      await Promise.all(running.map((r) => r.catch(() => undefined)));
      const r = new pg.Client({ connectionString: `${ADMIN}/postgres` });
      await r.connect();
      await r.query(`DROP DATABASE IF EXISTS ${auditDb} WITH (FORCE)`);
      await r.end();
      await slack.close();
      await nginx.stop();
      await db.drop();
      // The harness deletes `<keyPrefix>:*`; this benchmark's own prefix is `<keyPrefix>-c`.
      let cursor = '0';
      do {
        const [next, keys] = await ctx.redis.scan(cursor, 'MATCH', `${keyPrefix}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await ctx.redis.unlink(...keys);
      } while (cursor !== '0');
    },
  };
}
