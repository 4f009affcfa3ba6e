/**
 * Outages of the target systems in the middle of acting: Redis SIGKILLed while a containment
 * write is held (CLIENT PAUSE WRITE, so the write never lands), PostgreSQL stopped (immediate)
 * just before the last vote on `database.read_only`, and while `secrets.rotate_db_password`
 * waits on pg_authid (after publishing the new password, before ALTER ROLE). Each server comes
 * back on the same port with its data after the outage.
 */
import type pg from 'pg';
import { getStatus } from '../../lib/incidents/index.js';
import { declarePair, drivePair } from './drive.js';
import { ensureWorker, running, secs, sleep, until, workerWriteWaiting, type Scenario, type ScenarioContext, type ScenarioResult } from './scenario-kit.js';

const RUN_TIMEOUT_MS = 180_000;
const outageMs = (quick: boolean) => (quick ? 3_000 : 10_000);

async function* redisOutage(ctx: ScenarioContext): AsyncGenerator<ScenarioResult> {
  const { stack } = ctx;
  await ensureWorker(stack);
  await stack.reset();
  await stack.redis.client.call('CLIENT', 'PAUSE', '30000', 'WRITE');
  const ids = await declarePair(stack);
  const leak = ids[0] as string;
  const steps = await until('a containment step inside a Redis write', async () => {
    const s = await getStatus(stack.client, leak);
    const r = running(s, 'containment');
    return r.length && (await workerWriteWaiting(stack)) ? r : undefined;
  }).catch(async (err: unknown) => {
    await stack.redis.client.call('CLIENT', 'UNPAUSE');
    throw err;
  });
  const down = outageMs(ctx.quick);
  const outage = (async () => {
    await stack.redis.kill();
    await sleep(down);
    await stack.redis.start();
  })();
  const result = await drivePair(stack, ids, {}, RUN_TIMEOUT_MS);
  await outage;
  yield { ...result, outcome: `completed (Redis down ${secs(down)} during ${steps.join(', ')}${result.retries ? `; ${result.retries} retry` : ''})` };
}

async function* pgReadOnly(ctx: ScenarioContext): AsyncGenerator<ScenarioResult> {
  const { stack } = ctx;
  await ensureWorker(stack);
  await stack.reset();
  const ids = await declarePair(stack);
  const down = outageMs(ctx.quick);
  let outage: Promise<void> | undefined;
  const result = await drivePair(
    stack,
    ids,
    {
      async onStatus(s) {
        if (outage || s.id !== ids[1]) return;
        const gate = s.gates.find((g) => g.id === 'read-only' && g.state === 'open');
        if (!gate || gate.approvals.length !== gate.required - 1) return;
        await stack.postgres.kill(); // before the last vote: the step starts against a dead server
        outage = sleep(down).then(() => stack.postgres.start());
      },
    },
    RUN_TIMEOUT_MS,
  );
  await outage;
  const checks = outage ? [] : ['the outage never started (the read-only gate was not seen with one vote)'];
  yield { ...result, outcome: `completed (PostgreSQL down ${secs(down)} from the last vote on read-only${result.retries ? `; ${result.retries} retry` : ''})`, checks };
}

/** Sessions of the rotation (application_name firebreak-secrets*) waiting for a lock on pg_authid. */
async function rotationWaiting(c: pg.Client): Promise<boolean> {
  const { rows } = await c.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE NOT l.granted AND l.relation = 'pg_catalog.pg_authid'::regclass AND a.application_name LIKE 'firebreak-secrets%'`,
  );
  return (rows[0]?.n ?? 0) > 0;
}

async function* pgRotation(ctx: ScenarioContext): AsyncGenerator<ScenarioResult> {
  const { stack } = ctx;
  await ensureWorker(stack);
  await stack.reset();
  const ids = await declarePair(stack);
  const down = outageMs(ctx.quick);
  let hold: pg.Client | undefined;
  let outage: Promise<void> | undefined;
  let armed = false;
  const result = await drivePair(
    stack,
    ids,
    {
      async onStatus(s) {
        if (s.id !== ids[1] || outage) return;
        if (!armed && s.gates.some((g) => g.id === 'read-only')) {
          // ALTER ROLE … PASSWORD waits for this lock; logins and reads of pg_authid do not.
          armed = true;
          hold = await stack.postgres.connect();
          await hold.query('BEGIN');
          await hold.query('LOCK TABLE pg_catalog.pg_authid IN SHARE MODE');
        }
        if (armed && s.steps.some((x) => x.id === 'rotate-db' && x.state === 'running')) {
          const probe = await stack.postgres.connect();
          try {
            if (!(await rotationWaiting(probe))) return;
          } finally {
            await probe.end();
          }
          await stack.postgres.kill(); // the held lock and the waiting ALTER ROLE die with the server
          hold = undefined;
          outage = sleep(down).then(() => stack.postgres.start());
        }
      },
    },
    RUN_TIMEOUT_MS,
  ).finally(() => hold?.query('ROLLBACK').catch(() => undefined));
  await outage;
  const checks = outage ? [] : ['the outage never started (the rotation was not seen waiting on pg_authid)'];
  yield { ...result, outcome: `completed (PostgreSQL down ${secs(down)} between publishing the password and ALTER ROLE${result.retries ? `; ${result.retries} retry` : ''})`, checks };
}

export const OUTAGES: Scenario[] = [
  { name: 'redis-outage', fault: (q) => `Redis SIGKILLed while a containment write is held, back after ${secs(outageMs(q))} (append-only file)`, run: redisOutage },
  { name: 'postgres-read-only', fault: (q) => `PostgreSQL stopped (immediate) before the last vote on database.read_only, back after ${secs(outageMs(q))}`, run: pgReadOnly },
  { name: 'postgres-rotation', fault: (q) => `PostgreSQL stopped (immediate) while the password rotation waits on pg_authid, back after ${secs(outageMs(q))}`, run: pgRotation },
];
