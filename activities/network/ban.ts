/** `network.ban_ips`: ban addresses and CIDRs until `requestedAt + ttl_seconds`, in Redis, the registry and the deny file. */
import { createHash } from 'node:crypto';
import type { ArgsOf } from '../../lib/args/schemas.js';
import { alsoHeldBy, otherHolders } from '../../lib/holds.js';
import type { ActionInput, ActionResult } from '../../workflows/definitions.js';
import type { ActivityDeps } from '../deps.js';
import { verificationFailed } from '../support/failures.js';
import { heartbeatProgress } from '../support/context.js';
import { RECORD_TTL_SECONDS } from '../support/records.js';
import { edgeSetFor } from '../edge/index.js';
import { currentDenyLines, denyFileProof, denyFileSummary, nginxPlan, nginxPreflight, readDenyFile, syncNginx } from './deny-file.js';
import { checkBanInput, refuse } from './inputs.js';
import { requestedAtSeconds } from '../support/requested-at.js';
import { holderIncident, holdField, PROOF_SCRIPT, TAKE_SCRIPT } from './holds.js';
import { CHUNK, chunks, existingEnds, MAX_INLINE_UNDO, networkContext, onRedis, sampleIndices, sortNetworks, WINDOW } from './registry.js';

/** A reason is free text from the parameters: only its fingerprint is written to the target. */
const fingerprint = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 12);

export function createBanActivities(deps: ActivityDeps) {
  return {
    /** Ban addresses and CIDRs until `requestedAt + ttl_seconds`: Redis keys for the app, the registry, the nginx deny file. */
    async networkBanIps(input: ActionInput): Promise<ActionResult> {
      const action = 'network.ban_ips';
      const started = performance.now();
      const ctx = networkContext(deps, input);
      const args = input.args as ArgsOf<'network.ban_ips'>;
      const { problems, ttl, parsed } = await checkBanInput(ctx.target, input.target, args, deps.config.inputsDir);
      if (problems.length) throw refuse(action, problems);
      const { canonical, byCanonical } = parsed;

      const expiresAt = requestedAtSeconds(input) + ttl;
      const expiresIso = new Date(expiresAt * 1000).toISOString();
      const now = Math.floor(Date.now() / 1000);
      const n = canonical.length;
      const noun = n === 1 ? 'network' : 'networks';

      if (input.mode === 'dry-run') {
        const ends = await existingEnds(ctx, canonical);
        const fresh = ends.filter((e) => e === null).length;
        const longer = ends.filter((e) => e !== null && e >= expiresAt).length;
        const active = await onRedis(() => ctx.redis.zcount(ctx.registry, `(${now}`, '+inf'));
        const inRegistry = await onRedis(async () => {
          let count = 0;
          for (const part of chunks(canonical, 5_000)) {
            const scores = await ctx.redis.zmscore(ctx.registry, ...part);
            count += scores.filter((s) => s !== null && Number(s) > now).length;
          }
          return count;
        });
        const field = holdField(input.incidentId, input.stepId);
        const sample = canonical.slice(0, 5).map((c) => `HSET ${ctx.holds} ${c} ${field}=… (this step's hold until ${expiresAt}), SET ${ctx.banKey(c)} ${expiresAt} EXAT ${expiresAt} (keeps a later end) and ZADD ${ctx.registry} ${expiresAt} ${c}`);
        return {
          summary: `would ban ${n} ${noun} until ${expiresIso} (${fresh} new, ${n - fresh} already banned, ${longer} of them until later)`,
          changed: false,
          plan: [
            `would ban ${n} ${noun} for ${ttl} s, until ${expiresIso}: ${fresh} new, ${n - fresh} already banned (${longer} until later, kept)`,
            ...sample,
            ...(n > sample.length ? [`… and ${n - sample.length} more`] : []),
            ...nginxPlan(ctx, await currentDenyLines(ctx), active + n - inRegistry),
          ],
          output: { planned: n, expiresAt: expiresIso },
        };
      }

      if (expiresAt <= now) {
        // A retry long after the step started: the ban window is already over.
        return {
          summary: `ban window already over (it ended ${expiresIso}); nothing banned`,
          changed: false,
          output: { banned: 0, expiresAt: expiresIso },
        };
      }

      const validatedAt = performance.now();
      await nginxPreflight(ctx, action);
      const record = ctx.record(input.incidentId, input.stepId);
      const field = holdField(input.incidentId, input.stepId);
      await onRedis(() =>
        ctx.redis.set(
          `${record}:meta`,
          JSON.stringify({ at: new Date().toISOString(), requestedAt: input.requestedAt, ...(args.reason ? { reasonSha256: fingerprint(args.reason) } : {}), expiresAt: expiresIso, networks: n }),
          'EX',
          RECORD_TTL_SECONDS,
          'NX',
        ),
      );
      let created = 0;
      let kept = 0;
      let extended = 0;
      const heldBy = new Set<string>();
      const parts = chunks(canonical);
      for (let w = 0; w < parts.length; w += WINDOW) {
        const results = await onRedis(() =>
          Promise.all(
            parts
              .slice(w, w + WINDOW)
              .map(
                (part) =>
                  ctx.redis.eval(TAKE_SCRIPT, 3 + part.length, ctx.registry, record, ctx.holds, ...ctx.banKeys(part), String(expiresAt), String(RECORD_TTL_SECONDS), field, String(now), ...part) as Promise<
                    [number, number, number, ...string[]]
                  >,
              ),
          ),
        );
        for (const [c, k, e, ...others] of results) {
          created += c;
          kept += k;
          extended += e;
          for (const f of others) heldBy.add(holderIncident(f));
        }
        heartbeatProgress({ phase: 'redis', done: Math.min(n, (w + WINDOW) * CHUNK), total: n });
      }

      const redisDoneAt = performance.now();
      const nginx = await syncNginx(ctx, now, action, byCanonical);
      const nginxDoneAt = performance.now();

      // ---- proof -------------------------------------------------------------
      const { indices, all } = sampleIndices(n);
      const sampled = indices.map((i) => canonical[i] as string);
      const bad: string[] = [];
      let badCount = 0;
      let example: { key: string; value: string | null; ttl: number } | undefined;
      const sampledParts = chunks(sampled);
      for (let w = 0; w < sampledParts.length; w += WINDOW) {
        const window = sampledParts.slice(w, w + WINDOW);
        const results = await onRedis(() =>
          Promise.all(window.map((part) => ctx.redis.eval(PROOF_SCRIPT, 2 + part.length, ctx.registry, ctx.holds, ...ctx.banKeys(part), field, String(expiresAt), ...part) as Promise<[number, string, number, ...string[]]>)),
        );
        results.forEach(([count, value, ttlLeft, ...some], j) => {
          if (w === 0 && j === 0) example = { key: ctx.banKey(window[0]?.[0] as string), value: value === '' ? null : value, ttl: ttlLeft };
          badCount += count;
          bad.push(...some);
        });
      }
      if (badCount) throw verificationFailed(`${action}: read back ${badCount} of ${sampled.length} checked bans wrong, e.g. ${bad.slice(0, 3).join('; ')}`);
      let denyProof: Record<string, unknown> | undefined;
      if (nginx) {
        const file = await readDenyFile(ctx);
        const missing = canonical.filter((c) => !file.networks.has(c));
        if (missing.length) throw verificationFailed(`${action}: deny file ${nginx.path} lacks ${missing.length} banned networks, e.g. ${missing.slice(0, 3).join(', ')}`);
        denyProof = denyFileProof(nginx, file);
      }

      // ---- undo: release this step's holds (the ban stays while another incident holds it) ----
      const undo: ActionResult['undo'] =
        n > MAX_INLINE_UNDO
          ? { action: 'network.unban_ips', args: { addresses: [], from_record: field, holder: field } }
          : { action: 'network.unban_ips', args: { addresses: sortNetworks(canonical), holder: field } };
      const others = otherHolders([...heldBy].map((incidentId) => ({ incidentId })), input.incidentId);

      // The target's nginx edge hosts get the whole set; the workflow fans it out and checks each.
      const edges = await edgeSetFor(deps, { target: input.target, redis: ctx.redis, space: ctx.space, cutoff: now, denied: canonical[0] });
      const already = kept + extended;
      deps.logger.info({ incidentId: input.incidentId, step: input.stepId, networks: n, created, kept, extended, expiresAt: expiresIso }, 'networks banned');
      return {
        summary: `banned ${n} ${noun} until ${expiresIso} (${created} new, ${already} already banned${kept ? `, ${kept} until later` : ''})` + denyFileSummary(nginx) + alsoHeldBy(others),
        changed: created + extended > 0 || Boolean(nginx?.changed),
        proof: {
          keys: { checked: sampled.length, of: n, all, example },
          registry: ctx.registry,
          ...(denyProof ? { denyFile: denyProof } : {}),
          timingsMs: {
            validate: Math.round(validatedAt - started),
            redis: Math.round(redisDoneAt - validatedAt),
            nginx: Math.round(nginxDoneAt - redisDoneAt),
            verify: Math.round(performance.now() - nginxDoneAt),
          },
        },
        output: { banned: n, newlyBanned: created, expiresAt: expiresIso, ...(nginx ? { denyFile: nginx.path } : {}), ...(others.length ? { alsoHeldBy: others } : {}) },
        undo,
        ...(edges && { edges }),
      };
    },
  };
}
