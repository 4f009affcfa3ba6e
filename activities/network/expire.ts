/** `network.expire_bans`: run by a ban's durable timer; drops the step's ended holds and ended bans from the registry and the deny file. */
import type { ActionInput, ActionResult } from '../../workflows/definitions.js';
import type { ActivityDeps } from '../deps.js';
import { verificationFailed } from '../support/failures.js';
import { edgeSetFor, edgesOf } from '../edge/index.js';
import { currentDenyLines, denyFileProof, denyFileSummary, nginxPlan, readDenyFile, syncNginx } from './deny-file.js';
import { requestedAtSeconds } from '../support/requested-at.js';
import { EXPIRE_SCRIPT, SWEEP_SCRIPT } from './holds.js';
import { chunks, networkContext, onRedis, WINDOW } from './registry.js';

const EXPIRY_SUFFIX = '.expiry';
/** Ended registry entries (and their holds) dropped per script call. */
const SWEEP_BATCH = 1_000;
/** Lifted networks offered to the edges' probe (the first not denied any more is asked as). */
const LIFTED_SAMPLE = 5;

export function createExpireActivities(deps: ActivityDeps) {
  const { logger } = deps;

  return {
    /**
     * Drop the holds of the step whose timer fired (`<step>.expiry`) that have ended, lifting
     * the networks no live hold is left on, then every ban that has ended from the registry and
     * the deny file with their holds (the ban keys expire by themselves). Ended means by the later of now and the
     * moment the timer fired (`requestedAt`). Idempotent.
     */
    async networkExpireBans(input: ActionInput): Promise<ActionResult> {
      const action = 'network.expire_bans';
      const ctx = networkContext(deps, input);
      const cutoff = Math.max(Math.floor(Date.now() / 1000), requestedAtSeconds(input));
      const cutoffIso = new Date(cutoff * 1000).toISOString();
      if (input.mode === 'dry-run') {
        const ended = await onRedis(() => ctx.redis.zcount(ctx.registry, '-inf', cutoff));
        const active = await onRedis(() => ctx.redis.zcount(ctx.registry, `(${cutoff}`, '+inf'));
        return {
          summary: `would drop ${ended} ended bans (${active} stay)`,
          changed: false,
          plan: [`ZREMRANGEBYSCORE ${ctx.registry} -inf ${cutoff} (${ended} entries)`, `HDEL ${ctx.holds} <each of them> (their ended holds)`, ...nginxPlan(ctx, await currentDenyLines(ctx), active)],
          output: { planned: ended },
        };
      }
      let liftedByHolds = 0;
      let holdsDropped = 0;
      // A few networks that may be lifted now: the edges' probe asks as one of them and waits until
      // its nginx no longer denies it (a reload is asynchronous), so "in sync" means in force.
      const probed = edgesOf(deps, input.target).some((e) => e.probe);
      const liftable = probed ? await onRedis(() => ctx.redis.zrangebyscore(ctx.registry, '-inf', cutoff, 'LIMIT', 0, LIFTED_SAMPLE)) : [];
      if (input.stepId.endsWith(EXPIRY_SUFFIX)) {
        const record = ctx.record(input.incidentId, input.stepId.slice(0, -EXPIRY_SUFFIX.length));
        const members = await onRedis(() => ctx.redis.smembers(record));
        if (probed) liftable.unshift(...members.slice(0, LIFTED_SAMPLE));
        const parts = chunks(members);
        for (let w = 0; w < parts.length; w += WINDOW) {
          const results = await onRedis(() =>
            Promise.all(parts.slice(w, w + WINDOW).map((part) => ctx.redis.eval(EXPIRE_SCRIPT, 2 + part.length, ctx.registry, ctx.holds, ...ctx.banKeys(part), String(cutoff), ...part) as Promise<[number, number]>)),
          );
          for (const [l, d] of results) {
            liftedByHolds += l;
            holdsDropped += d;
          }
        }
      }
      // Every ended registry entry goes, with its ended holds (also those of a step whose own expiry never ran).
      let swept = 0;
      let batch: number;
      do {
        batch = Number(await onRedis(() => ctx.redis.eval(SWEEP_SCRIPT, 2, ctx.registry, ctx.holds, String(cutoff), String(SWEEP_BATCH))));
        swept += batch;
      } while (batch === SWEEP_BATCH);
      const removed = liftedByHolds + swept;
      const nginx = await syncNginx(ctx, cutoff, action);
      const left = await onRedis(() => ctx.redis.zcount(ctx.registry, '-inf', cutoff));
      if (left) throw verificationFailed(`${action}: ${left} ended bans still in ${ctx.registry}`);
      let denyProof: Record<string, unknown> | undefined;
      if (nginx) {
        const file = await readDenyFile(ctx);
        const listed = [...file.networks];
        const stale: string[] = [];
        for (const part of chunks(listed, 5_000)) {
          const scores = await onRedis(() => ctx.redis.zmscore(ctx.registry, ...part));
          part.forEach((c, i) => {
            const s = scores[i];
            if (s === null || s === undefined || Number(s) <= cutoff) stale.push(c);
          });
        }
        if (stale.length) throw verificationFailed(`${action}: deny file ${nginx.path} still denies ${stale.length} networks whose ban ended, e.g. ${stale.slice(0, 3).join(', ')}`);
        denyProof = denyFileProof(nginx, file);
      }
      const active = await onRedis(() => ctx.redis.zcard(ctx.registry));
      const edges = await edgeSetFor(deps, { target: input.target, redis: ctx.redis, space: ctx.space, cutoff, allowed: liftable });
      logger.info({ incidentId: input.incidentId, step: input.stepId, removed, active }, 'ended bans dropped');
      return {
        summary: `dropped ${removed} ended ${removed === 1 ? 'ban' : 'bans'} (as of ${cutoffIso}); ${active} active${holdsDropped ? `; ${holdsDropped} ended ${holdsDropped === 1 ? 'hold' : 'holds'} released` : ''}` + denyFileSummary(nginx),
        changed: removed > 0 || holdsDropped > 0 || Boolean(nginx?.changed),
        proof: { registry: ctx.registry, endedLeft: 0, active, ...(denyProof ? { denyFile: denyProof } : {}) },
        output: { removed, active, holdsDropped, ...(nginx ? { denyFile: nginx.path } : {}) },
        ...(edges && { edges }),
      };
    },
  };
}
