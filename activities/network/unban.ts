/** `network.unban_ips`: lift bans (the undo of a ban, or a responder's decision); idempotent, the deny file re-rendered. */
import { inlineEntries, MAX_INLINE_UNBAN, parseEntries } from '../../lib/args/network.js';
import { FROM_RECORD } from '../../lib/args/rules.js';
import type { ArgsOf } from '../../lib/args/schemas.js';
import { formatNetwork, tryParseNetwork } from '../../lib/ip.js';
import type { ActionInput, ActionResult } from '../../workflows/definitions.js';
import type { ActivityDeps } from '../deps.js';
import { badInput, verificationFailed } from '../support/failures.js';
import { heartbeatProgress } from '../support/context.js';
import { currentDenyLines, denyFileProof, denyFileSummary, nginxPlan, nginxPreflight, readDenyFile, syncNginx } from './deny-file.js';
import { CHUNK, chunks, existingEnds, networkContext, onRedis, sortNetworks, WINDOW } from './registry.js';

export function createUnbanActivities(deps: ActivityDeps) {
  const { logger } = deps;

  return {
    /** Lift bans: delete the keys, drop them from the registry, re-render the deny file. Idempotent. */
    async networkUnbanIps(input: ActionInput): Promise<ActionResult> {
      const action = 'network.unban_ips';
      const ctx = networkContext(deps, input);
      // The schema judged the arguments at the activity's entry: the inline list, `from_record`, something to lift.
      const args = input.args as ArgsOf<'network.unban_ips'>;
      // Lifting is never dangerous: no minimum prefix or never-ban check, so a ban made under older settings can always be lifted.
      const listed = parseEntries(inlineEntries(args, MAX_INLINE_UNBAN, []), []);
      const from = args.from_record === undefined ? null : FROM_RECORD.exec(args.from_record);
      // An undo lifts what its own incident banned; another incident's record is not this one's to lift.
      if (from && from[1] !== input.incidentId) throw badInput(`${action} refused, nothing was changed: from_record names incident ${from[1]}, not this incident (${input.incidentId})`);
      const recordKey = from ? ctx.record(from[1] as string, from[2] as string) : undefined;
      const all = new Set(listed.canonical);
      if (recordKey) {
        const key = recordKey;
        for (const m of await onRedis(() => ctx.redis.smembers(key))) {
          const r = tryParseNetwork(m);
          if ('network' in r) all.add(formatNetwork(r.network));
        }
      }
      const canonical = sortNetworks(all);
      const n = canonical.length;
      const noun = n === 1 ? 'network' : 'networks';
      if (input.mode === 'dry-run') {
        const ends = await existingEnds(ctx, canonical);
        const banned = ends.filter((e) => e !== null).length;
        const now = Math.floor(Date.now() / 1000);
        const active = await onRedis(() => ctx.redis.zcount(ctx.registry, `(${now}`, '+inf'));
        return {
          summary: `would lift ${n} ${noun} (${banned} banned now)`,
          changed: false,
          plan: [
            `would DEL ${n} ban keys and ZREM them from ${ctx.registry} (${banned} banned now)`,
            ...canonical.slice(0, 5).map((c) => `DEL ${ctx.banKey(c)}`),
            ...(n > 5 ? [`… and ${n - 5} more`] : []),
            ...nginxPlan(ctx, await currentDenyLines(ctx), Math.max(0, active - banned)),
          ],
          output: { planned: n },
        };
      }
      if (n) await nginxPreflight(ctx, action);
      let removed = 0;
      const parts = chunks(canonical);
      for (let w = 0; w < parts.length; w += WINDOW) {
        const window = parts.slice(w, w + WINDOW);
        const deleted = await onRedis(() => Promise.all(window.map((part) => ctx.redis.unlink(...part.map(ctx.banKey)))));
        await onRedis(() => Promise.all(window.map((part) => ctx.redis.zrem(ctx.registry, ...part))));
        for (const d of deleted) removed += d;
        heartbeatProgress({ phase: 'redis', done: Math.min(n, (w + WINDOW) * CHUNK), total: n });
      }
      const now = Math.floor(Date.now() / 1000);
      const nginx = await syncNginx(ctx, now, action);

      // Every lifted key is checked: EXISTS of a whole chunk is one command.
      const left: string[] = [];
      for (const part of chunks(canonical)) {
        const [exists, scores] = await onRedis(() => Promise.all([ctx.redis.exists(...part.map(ctx.banKey)), ctx.redis.zmscore(ctx.registry, ...part)]));
        if (exists > 0) {
          const each = await onRedis(() => Promise.all(part.map((c) => ctx.redis.exists(ctx.banKey(c)))));
          part.forEach((c, i) => {
            if (each[i]) left.push(`${ctx.banKey(c)} still exists`);
          });
        }
        part.forEach((c, i) => {
          if (scores[i] !== null && scores[i] !== undefined) left.push(`${c} still in the registry`);
        });
      }
      if (left.length) throw verificationFailed(`${action}: ${left.length} bans still in force after lifting, e.g. ${left.slice(0, 3).join('; ')}`);
      let denyProof: Record<string, unknown> | undefined;
      if (nginx) {
        const file = await readDenyFile(ctx);
        const still = canonical.filter((c) => file.networks.has(c));
        if (still.length) throw verificationFailed(`${action}: deny file ${nginx.path} still denies ${still.length} lifted networks, e.g. ${still.slice(0, 3).join(', ')}`);
        denyProof = denyFileProof(nginx, file);
      }
      logger.info({ incidentId: input.incidentId, step: input.stepId, networks: n, removed }, 'bans lifted');
      return {
        summary: `lifted ${removed} of ${n} ${noun}${removed < n ? ` (${n - removed} were not banned)` : ''}` + denyFileSummary(nginx),
        changed: removed > 0 || Boolean(nginx?.changed),
        proof: { keysGone: n, registry: ctx.registry, ...(denyProof ? { denyFile: denyProof } : {}) },
        output: { unbanned: removed, requested: n, ...(nginx ? { denyFile: nginx.path } : {}) },
      };
    },
  };
}
