/**
 * Outages of the target systems in the middle of acting: Redis SIGKILLed while a containment
 * write is held (CLIENT PAUSE WRITE, so the write never lands), PostgreSQL stopped (immediate)
 * just before the last vote on `database.read_only`, and while `secrets.rotate_db_password`
 * waits on pg_authid (after publishing the new password, before ALTER ROLE). Each server comes
 * back on the same port with its data after the outage.
 */
import type pg from 'pg';
import { declarePair, drivePair } from './drive.js';
import { ensureWorker, heldWrite, hitCheck, secs, sleep, type Scenario, type ScenarioContext, type ScenarioResult } from './scenario-kit.js';

const RUN_TIMEOUT_MS = 180_000;
const outageMs = (quick: boolean) => (quick ? 3_000 : 10_000);

async function* redisOutage(ctx: ScenarioContext): AsyncGenerator<ScenarioResult> {
  const { stack } = ctx;
  await ensureWorker(stack);
  await stack.reset();
  const ids = await declarePair(stack);
  const down = outageMs(ctx.quick);
  let outage: Promise<void> | undefined;
  const hold = heldWrite(stack, () => ids[0], 'lockdown', async () => {
    await stack.redis.kill(); // the held write never lands; the pause goes with the server
    outage = sleep(down).then(() => stack.redis.start());
  });
  const result = await drivePair(stack, ids, { onStatus: (s) => hold.onStatus(s) }, RUN_TIMEOUT_MS).finally(() => hold.release());
  await outage;
  // The worker's Redis client sends the held command again once the server is back: the attempt may simply wait it out.
  const step = result.statuses[0]?.steps.find((x) => x.id === 'lockdown');
  const checks = outage ? await hitCheck(stack, ids[0] as string, 'lockdownEnable', { step, ms: down }) : ['the outage never started (the lockdown step was not seen inside a Redis write)'];
  yield { ...result, outcome: `completed (Redis down ${secs(down)} from inside the lockdown write${result.retries ? `; ${result.retries} retry` : ''})`, checks };
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
  const checks = outage ? await hitCheck(stack, ids[1] as string, 'databaseReadOnly') : ['the outage never started (the read-only gate was not seen with one vote)'];
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
  const checks = outage ? await hitCheck(stack, ids[1] as string, 'secretsRotateDbPassword') : ['the outage never started (the rotation was not seen waiting on pg_authid)'];
  yield { ...result, outcome: `completed (PostgreSQL down ${secs(down)} between publishing the password and ALTER ROLE${result.retries ? `; ${result.retries} retry` : ''})`, checks };
}

export const OUTAGES: Scenario[] = [
  { name: 'redis-outage', fault: (q) => `Redis SIGKILLed while the lockdown write is held, back after ${secs(outageMs(q))} (append-only file)`, run: redisOutage, weight: 1.5 },
  { name: 'postgres-read-only', fault: (q) => `PostgreSQL stopped (immediate) before the last vote on database.read_only, back after ${secs(outageMs(q))}`, run: pgReadOnly },
  { name: 'postgres-rotation', fault: (q) => `PostgreSQL stopped (immediate) while the password rotation waits on pg_authid, back after ${secs(outageMs(q))}`, run: pgRotation, weight: 2 },
];
