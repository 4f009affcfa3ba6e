/**
 * containment: from `declareIncident(...)` to every containment step verified, for a gate-free
 * token-leak shape in live mode with everything on (signed declaration, holders, the audit log,
 * the Slack incident channel): revoke 10 jtis and one user's tokens, ban one address (Redis +
 * nginx deny file, `nginx -t`, reload), put a PostgreSQL app database read-only (revoke,
 * read-only default, end sessions, prove a write fails) and flip the kill-switch — all
 * concurrently, as the runbook does. Also `containment.plain` (no audit log, no Slack) and
 * `containment.seen` (the same, as a client polling `status` every 50 ms first sees it).
 * Floor: the same Redis, nginx and PostgreSQL operations issued directly, also concurrently, in
 * the same run. Each run is undone (abort) outside the timing.
 */
import { renameSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import { execCommand } from '../activities/support/command-runner.js';
import type { Config } from '../lib/config.js';
import { abortIncident, declareIncident, TERMINAL, waitFor } from '../lib/incidents/index.js';
import { contractKeys, djangoKey, LOCKDOWN_KEY } from '../lib/redis-keys.js';
import type { Nginx } from '../test/helpers/nginx.js';
import type { IncidentStatus } from '../workflows/definitions.js';
import { setUp, type AppDb, RUNBOOK } from './containment-setup.js';
import type { BenchContext, Benchmark, BenchResult } from './types.js';

/**
 * The floor starts nginx -t and reload the cheapest way a Node process can: from the same small
 * helper process the worker uses (a fork of this big bench process stops its event loop for tens
 * of ms per command, which would make the floor slower than the product).
 */
async function run$(file: string, args: string[]): Promise<void> {
  const { err } = await execCommand({ file, args, timeoutMs: 10_000, maxBuffer: 1 << 20 });
  if (err) throw err;
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
  const bench = await setUp(ctx);
  const { db, nginx } = bench;
  const declarer = ctx.actor(ctx.users.declarer);
  const samples: number[] = [];
  const floorSamples: number[] = [];
  const plainSamples: number[] = [];
  const seenSamples: number[] = [];
  const cpuSamples: number[] = [];
  const space = { keyPrefix: bench.keyPrefix, keyVersion: 1 };
  const stepMs: Record<string, number[]> = {};
  const firstStartMs: number[] = [];
  try {
    for (let i = 0; i < ctx.warmup + ctx.runs; i += 1) {
      const floorMs = await floorOnce(ctx, space, db, nginx, i);
      const all = await containOnce(ctx, bench.all, declarer, i);
      const plain = await containOnce(ctx, bench.plain, declarer, i + 1000);
      if (i >= ctx.warmup) {
        const declaredAt = Date.parse(all.s.declaredAt);
        for (const st of all.s.steps) if (st.startedAt && st.endedAt) (stepMs[st.id] ??= []).push(Date.parse(st.endedAt) - Date.parse(st.startedAt));
        firstStartMs.push(Math.min(...all.s.steps.filter((x) => x.startedAt).map((x) => Date.parse(x.startedAt as string))) - declaredAt);
        samples.push(all.ms);
        seenSamples.push(all.seenMs);
        cpuSamples.push(all.cpuMs);
        floorSamples.push(floorMs);
        plainSamples.push(plain.ms);
        ctx.progress(samples.length);
      }
    }
    const posted = bench.slack.calls.filter((c) => c.method === 'chat.postMessage').length;
    if (posted === 0) throw new Error('the Slack incident channel got no message: notifications were not on');
  } finally {
    await bench.close();
  }
  const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? 0;
  return {
    samples,
    floorSamples,
    extra: [
      { name: 'plain', samples: plainSamples, floorSamples },
      { name: 'seen', samples: seenSamples, floorSamples },
    ],
    notes: [
      `p50 CPU of this process (client and both workers, all threads) from declaration to containment verified: ${p50(cpuSamples).toFixed(0)} ms`,
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
 * One gate-free containment on `config`'s worker. `ms`: from just before `declareIncident()` to
 * the workflow task that recorded the last containment step verified (its time on the workflow
 * clock, which is the server's: same machine). `seenMs`: to the first status poll (every 50 ms)
 * that shows it. Then undone by an abort (untimed), which must lift all but the revocations.
 */
async function containOnce(ctx: BenchContext, config: Readonly<Config>, declarer: ReturnType<BenchContext['actor']>, i: number): Promise<{ ms: number; seenMs: number; cpuMs: number; s: IncidentStatus }> {
  const t0 = Date.now();
  const p0 = performance.now();
  const cpu0 = process.cpuUsage();
  const { id } = await declareIncident(ctx.client, config, {
    runbook: RUNBOOK,
    params: { jtis: Array.from({ length: 10 }, (_, k) => `run-${i}-${k}`), user_ids: ['42'], ban_ips: [`203.0.113.${(i % 250) + 1}`] },
    actor: declarer,
  });
  const contained = (x: IncidentStatus) => x.steps.filter((st) => st.phase === 'containment').every((st) => st.state === 'succeeded');
  const s = await waitFor(ctx.client, id, (x) => contained(x) || x.state === 'blocked' || TERMINAL.includes(x.state), { intervalMs: 50, timeoutMs: 60_000 });
  const seenMs = performance.now() - p0;
  const cpu = process.cpuUsage(cpu0);
  const notDone = s.steps.filter((x) => x.phase === 'containment' && x.state !== 'succeeded');
  if (notDone.length) {
    throw new Error(`run ${i + 1}: ${id} is ${s.state}; not verified: ${notDone.map((x) => `${x.id}=${x.state} ${x.error ?? ''}`).join(', ')}`);
  }
  const ms = Math.max(...s.steps.filter((st) => st.phase === 'containment').map((st) => Date.parse(st.endedAt as string))) - t0;
  await waitFor(ctx.client, id, (x) => x.state === 'awaiting-resolve', { intervalMs: 20, timeoutMs: 60_000 });
  await abortIncident(ctx.client, id, 'bench cleanup', declarer);
  const done = await waitFor(ctx.client, id, (x) => TERMINAL.includes(x.state), { timeoutMs: 60_000, intervalMs: 20 });
  if (done.activeContainment.filter((c) => c !== 'revoke-jtis' && c !== 'revoke-users').length) {
    throw new Error(`run ${i + 1}: abort left ${done.activeContainment.join(', ')} in force`);
  }
  return { ms, seenMs, cpuMs: (cpu.user + cpu.system) / 1000, s };
}
