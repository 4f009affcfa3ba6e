/**
 * containment: wall time from `declareIncident(...)` to every containment step
 * verified (the incident reaches awaiting-resolve), for a gate-free token-leak
 * shape in live mode: revoke 10 jtis and one user's tokens, ban one address
 * (Redis + nginx deny file, `nginx -t`, reload), put a PostgreSQL app database
 * read-only (revoke, read-only default, end sessions, prove a write fails) and
 * flip the kill-switch — all concurrently, as the runbook does.
 * Floor: the same Redis, nginx and PostgreSQL operations issued directly, also
 * concurrently, in the same run. Each run is undone (abort) outside the timing.
 */
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { loadConfig, type Config } from '../lib/config.js';
import { abortIncident, declareIncident, TERMINAL, waitFor } from '../lib/incidents/index.js';
import { createLogger } from '../lib/logger.js';
import { contractKeys, djangoKey, LOCKDOWN_KEY } from '../lib/redis-keys.js';
import { startNginx, type Nginx } from '../test/helpers/nginx.js';
import { createWorker } from '../worker/create.js';
import type { IncidentStatus } from '../workflows/definitions.js';
import type { BenchContext, Benchmark, BenchResult } from './types.js';

const run$ = promisify(execFile);
const ADMIN = 'postgres://postgres@127.0.0.1:5432';
const RUNBOOK = 'bench-containment';
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

interface AppDb {
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

/** The least work containment needs, issued directly and concurrently. Returns ms. */
async function floorOnce(ctx: BenchContext, space: { keyPrefix: string; keyVersion: number }, db: AppDb, nginx: Nginx, i: number): Promise<number> {
  const { redis } = ctx;
  const jtis = Array.from({ length: 10 }, (_, k) => `floor-${i}-${k}`);
  const ip = `198.51.100.${(i % 250) + 1}/32`;
  const epoch = Math.floor(Date.now() / 1000);
  const t0 = performance.now();
  await Promise.all([
    (async () => {
      const p = redis.pipeline();
      for (const j of jtis) p.set(djangoKey(space, contractKeys.revokedJti(j)), 1, 'EX', 604800);
      p.set(djangoKey(space, contractKeys.revokedBeforeUser('42')), epoch, 'EX', 604800);
      p.set(djangoKey(space, contractKeys.ban(ip)), epoch + 259200, 'EX', 259200);
      p.set(djangoKey(space, LOCKDOWN_KEY), 1);
      await p.exec();
      const back = await redis.mget(djangoKey(space, LOCKDOWN_KEY), djangoKey(space, contractKeys.ban(ip)));
      if (back[0] !== '1' || back[1] === null) throw new Error('floor: read-back failed');
    })(),
    (async () => {
      const tmp = `${nginx.denyFile}.floor.tmp`;
      writeFileSync(tmp, `deny ${ip};\n`);
      renameSync(tmp, nginx.denyFile);
      await run$(nginx.testCommand[0] as string, nginx.testCommand.slice(1));
      await run$(nginx.reloadCommand[0] as string, nginx.reloadCommand.slice(1));
    })(),
    (async () => {
      await db.admin.query(`REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public FROM ${db.role}`);
      await db.admin.query(`ALTER ROLE ${db.role} IN DATABASE ${db.database} SET default_transaction_read_only = on`);
      await db.admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND datname = $2', [db.role, db.database]);
      const app = new pg.Client({ connectionString: `postgres://${db.role}@127.0.0.1:5432/${db.database}` });
      await app.connect();
      try {
        await app.query('SET default_transaction_read_only = off');
        await app.query('DELETE FROM orders WHERE false');
        throw new Error('floor: the write was not refused');
      } catch (err) {
        if ((err as { code?: string }).code !== '42501') throw err;
      } finally {
        await app.end();
      }
    })(),
  ]);
  const ms = performance.now() - t0;
  // Undo, untimed.
  await db.admin.query(`GRANT INSERT, UPDATE, DELETE ON orders TO ${db.role}`);
  await db.admin.query(`ALTER ROLE ${db.role} IN DATABASE ${db.database} RESET default_transaction_read_only`);
  await redis.del(djangoKey(space, LOCKDOWN_KEY), djangoKey(space, contractKeys.ban(ip)));
  writeFileSync(nginx.denyFile, '');
  await run$(nginx.reloadCommand[0] as string, nginx.reloadCommand.slice(1));
  return ms;
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const db = await createAppDb();
  const nginx = await startNginx();
  const dir = join(ctx.config.dataDir, 'containment');
  mkdirSync(join(dir, 'runbooks'), { recursive: true });
  writeFileSync(join(dir, 'runbooks', `${RUNBOOK}.yaml`), RUNBOOK_YAML);
  const keyPrefix = `${ctx.keyPrefix}-c`;
  const configFile = join(dir, 'firebreak.yaml');
  writeFileSync(
    configFile,
    [
      `user: ${ctx.users.declarer}`,
      `runbooksDir: ${JSON.stringify(join(dir, 'runbooks'))}`,
      `dataDir: ${JSON.stringify(join(dir, 'data'))}`,
      `temporal: { address: "${ctx.config.temporal.address}", taskQueue: firebreak-bench-containment }`,
      ...ctx.identityYaml,
      'targets:',
      '  local:',
      `    redis: { url: "redis://127.0.0.1:6379/0", keyPrefix: ${keyPrefix} }`,
      `    postgres: { adminUrl: "${ADMIN}/postgres", database: ${db.database}, appRole: ${db.role} }`,
      `    ${nginx.targetYaml}`,
    ].join('\n'),
  );
  const config: Readonly<Config> = loadConfig({ file: configFile, env: {} });
  const worker = await createWorker({ config, logger: createLogger({ level: 'error' }) });
  const running = worker.run();
  // The same containment on a worker that keeps the audit log (its own task queue and Firebreak
  // database): `containment.audit`, whose floor is the run without it (issue: at most +10%).
  const auditDb = `fbbench_audit_${randomBytes(3).toString('hex')}`;
  const auditFile = join(dir, 'firebreak-audit.yaml');
  const auditKey = join(dir, 'audit.key');
  writeFileSync(auditKey, randomBytes(32).toString('base64'), { mode: 0o600 });
  writeFileSync(
    auditFile,
    readFileSync(configFile, 'utf8').replace('taskQueue: firebreak-bench-containment }', 'taskQueue: firebreak-bench-containment-audit }') +
      `\ndatabase: { url: "${ADMIN}/${auditDb}" }\naudit: { key: { file: "${auditKey}" } }\n`,
  );
  const auditConfig: Readonly<Config> = loadConfig({ file: auditFile, env: {} });
  const auditWorker = await createWorker({ config: auditConfig, logger: createLogger({ level: 'error' }) });
  const auditRunning = auditWorker.run();
  const auditSamples: number[] = [];
  const plainSamples: number[] = [];
  const declarer = ctx.actor(ctx.users.declarer);
  const samples: number[] = [];
  const floorSamples: number[] = [];
  const space = { keyPrefix, keyVersion: 1 };
  const stepMs: Record<string, number[]> = {};
  const firstStartMs: number[] = [];
  try {
    for (let i = 0; i < ctx.warmup + ctx.runs; i += 1) {
      const floorMs = await floorOnce(ctx, space, db, nginx, i);
      const audited = (await containOnce(ctx, auditConfig, declarer, i + 1000)).ms;
      const { ms, s } = await containOnce(ctx, config, declarer, i);
      if (i >= ctx.warmup) {
        const declaredAt = Date.parse(s.declaredAt);
        for (const st of s.steps) if (st.startedAt && st.endedAt) (stepMs[st.id] ??= []).push(Date.parse(st.endedAt) - Date.parse(st.startedAt));
        firstStartMs.push(Math.min(...s.steps.filter((x) => x.startedAt).map((x) => Date.parse(x.startedAt as string))) - declaredAt);
        samples.push(ms);
        floorSamples.push(floorMs);
        auditSamples.push(audited);
        plainSamples.push(ms);
        ctx.progress(samples.length);
      }
    }
  } finally {
    await worker.close();
    await running.catch(() => undefined);
    await auditWorker.close();
    await auditRunning.catch(() => undefined);
    const r = new pg.Client({ connectionString: `${ADMIN}/postgres` });
    await r.connect();
    await r.query(`DROP DATABASE IF EXISTS ${auditDb} WITH (FORCE)`);
    await r.end();
    await nginx.stop();
    await db.drop();
    // The harness deletes `<keyPrefix>:*`; this benchmark's own prefix is `<keyPrefix>-c`.
    let cursor = '0';
    do {
      const [next, keys] = await ctx.redis.scan(cursor, 'MATCH', `${keyPrefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await ctx.redis.unlink(...keys);
    } while (cursor !== '0');
  }
  const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? 0;
  return {
    samples,
    floorSamples,
    extra: [{ name: 'audit', samples: auditSamples, floorSamples: plainSamples }],
    notes: [
      `p50 from declaration to the first step starting (workflow clock): ${p50(firstStartMs)} ms`,
      `p50 step durations (workflow clock, start → result recorded): ${Object.entries(stepMs).map(([k, v]) => `${k} ${p50(v)} ms`).join(', ')}`,
    ],
  };
}

export const containment: Benchmark = {
  name: 'containment',
  unit: 'ms',
  description: 'ms from declareIncident() to every containment step verified (revoke jtis + user, ban with nginx reload, PostgreSQL read-only with proof, kill-switch); floor: the same operations issued directly',
  run,
};

/**
 * One gate-free containment on `config`'s worker: ms to every containment step verified, and
 * that status; then undone by an abort (untimed), which must lift all but the revocations.
 */
async function containOnce(ctx: BenchContext, config: Readonly<Config>, declarer: ReturnType<BenchContext['actor']>, i: number): Promise<{ ms: number; s: IncidentStatus }> {
  const t0 = performance.now();
  const { id } = await declareIncident(ctx.client, config, {
    runbook: RUNBOOK,
    params: { jtis: Array.from({ length: 10 }, (_, k) => `run-${i}-${k}`), user_ids: ['42'], ban_ips: [`203.0.113.${(i % 250) + 1}`] },
    actor: declarer,
  });
  const s = await waitFor(ctx.client, id, (x) => x.state === 'awaiting-resolve' || x.state === 'blocked' || TERMINAL.includes(x.state), { intervalMs: 1, timeoutMs: 30_000 });
  const ms = performance.now() - t0;
  const notDone = s.steps.filter((x) => x.phase === 'containment' && x.state !== 'succeeded');
  if (s.state !== 'awaiting-resolve' || notDone.length) {
    throw new Error(`run ${i + 1}: ${id} is ${s.state}; not verified: ${notDone.map((x) => `${x.id}=${x.state} ${x.error ?? ''}`).join(', ')}`);
  }
  await abortIncident(ctx.client, id, 'bench cleanup', declarer);
  const done = await waitFor(ctx.client, id, (x) => TERMINAL.includes(x.state), { timeoutMs: 60_000, intervalMs: 20 });
  if (done.activeContainment.filter((c) => c !== 'revoke-jtis' && c !== 'revoke-users').length) {
    throw new Error(`run ${i + 1}: abort left ${done.activeContainment.join(', ')} in force`);
  }
  return { ms, s };
}
