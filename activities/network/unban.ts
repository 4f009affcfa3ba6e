/**
 * `network.unban_ips`: release bans. The undo of a ban step (`holder`) releases that step's
 * holds: a network another incident still holds stays banned until the latest remaining end, the
 * others are lifted. An explicit lift (the ban-lift runbook) ends every hold on the networks it
 * names and says whose. An older worker's undo (no `holder`) releases what its record says the
 * step banned first. Idempotent; the deny file re-rendered.
 */
import { inlineEntries, MAX_INLINE_UNBAN, parseEntries } from '../../lib/args/network.js';
import { FROM_RECORD } from '../../lib/args/rules.js';
import type { ArgsOf } from '../../lib/args/schemas.js';
import { stillHeldLine, type ReleaseOutcome } from '../../lib/holds.js';
import { formatNetwork, tryParseNetwork } from '../../lib/ip.js';
import type { ActionInput, ActionResult } from '../../workflows/definitions.js';
import type { ActivityDeps } from '../deps.js';
import { badInput, verificationFailed } from '../support/failures.js';
import { heartbeatProgress } from '../support/context.js';
import { edgeSetFor } from '../edge/index.js';
import { currentDenyLines, denyFileProof, denyFileSummary, nginxPlan, nginxPreflight, readDenyFile, syncNginx } from './deny-file.js';
import { CHECK_SCRIPT, holderIncident, holdersOf, LEGACY_FIELD, LEGACY_HOLDER, parseHoldList, RELEASE_SCRIPT } from './holds.js';
import { CHUNK, chunks, networkContext, onRedis, sortNetworks, WINDOW, type NetworkContext } from './registry.js';

/** own: this step's holds; legacy: an older worker's undo; all: an explicit lift of every hold. */
type ReleaseMode = 'own' | 'legacy' | 'all';

const UNDO_SUFFIX = '.undo';

/** How an unban releases, and whose hold (`<incident>/<step>`), from its arguments and the step running it. */
function releaseOf(action: string, input: ActionInput, args: ArgsOf<'network.unban_ips'>): { mode: ReleaseMode; field: string; recordOf?: [string, string] } {
  const named = (arg: 'holder' | 'from_record') => {
    const text = args[arg];
    if (text === undefined) return undefined;
    const m = FROM_RECORD.exec(text) as RegExpExecArray;
    // An undo releases what its own incident holds; another incident's hold is not this one's to release.
    if (m[1] !== input.incidentId) throw badInput(`${action} refused, nothing was changed: ${arg} names incident ${m[1]}, not this incident (${input.incidentId})`);
    return [m[1], m[2]] as [string, string];
  };
  const holder = named('holder');
  const from = named('from_record');
  if (holder) return { mode: 'own', field: holder.join('/'), ...(from && { recordOf: from }) };
  if (from) return { mode: 'legacy', field: from.join('/'), recordOf: from };
  if (input.stepId.endsWith(UNDO_SUFFIX)) return { mode: 'legacy', field: `${input.incidentId}/${input.stepId.slice(0, -UNDO_SUFFIX.length)}` };
  return { mode: 'all', field: '' };
}

const showHolder = (f: string) => (f === LEGACY_FIELD ? `${LEGACY_HOLDER.incidentId} (${LEGACY_HOLDER.stepId})` : f);

/** What a dry run would do to each network, read only. */
async function planRelease(ctx: NetworkContext, mode: ReleaseMode, field: string, canonical: string[]) {
  const now = Math.floor(Date.now() / 1000);
  let lift = 0;
  let still = 0;
  let banned = 0;
  const others = new Set<string>();
  for (const part of chunks(canonical)) {
    const [values, stored] = await onRedis(() => Promise.all([ctx.redis.mget(...ctx.banKeys(part)), ctx.redis.hmget(ctx.holds, ...part)]));
    part.forEach((_c, i) => {
      const value = values[i] ?? null;
      const hash = parseHoldList(stored[i]);
      const end = value !== null && /^\d+$/.test(value) ? Number(value) : null;
      if (end !== null) banned += 1;
      const holders = holdersOf(hash, now, end).map((h) => (h.incidentId === LEGACY_HOLDER.incidentId && h.stepId === LEGACY_HOLDER.stepId ? LEGACY_FIELD : `${h.incidentId}/${h.stepId}`));
      const legacyOnly = !Object.keys(hash).length && end !== null;
      const victim = mode === 'all' ? holders : holders.includes(field) ? [field] : mode === 'legacy' && holders.includes(LEGACY_FIELD) ? [LEGACY_FIELD] : [];
      if (!victim.length && !(mode === 'legacy' && legacyOnly)) return;
      const rest = mode === 'legacy' && legacyOnly ? [] : holders.filter((h) => !victim.includes(h));
      if (rest.length) {
        still += 1;
        for (const h of rest) others.add(holderIncident(h));
      } else lift += 1;
    });
  }
  return { lift, still, banned, others: [...others].sort() };
}

export function createUnbanActivities(deps: ActivityDeps) {
  const { logger } = deps;

  return {
    /** Release a ban step's holds, or lift bans outright (every hold); the deny file re-rendered. Idempotent. */
    async networkUnbanIps(input: ActionInput): Promise<ActionResult> {
      const action = 'network.unban_ips';
      const ctx = networkContext(deps, input);
      // The schema judged the arguments at the activity's entry: the inline list, `holder`, `from_record`, something to lift.
      const args = input.args as ArgsOf<'network.unban_ips'>;
      // Lifting is never dangerous: no minimum prefix or never-ban check, so a ban made under older settings can always be lifted.
      const listed = parseEntries(inlineEntries(args, MAX_INLINE_UNBAN, []), []);
      const { mode, field, recordOf } = releaseOf(action, input, args);
      const all = new Set(listed.canonical);
      if (recordOf) {
        const key = ctx.record(...recordOf);
        for (const m of await onRedis(() => ctx.redis.smembers(key))) {
          const r = tryParseNetwork(m);
          if ('network' in r) all.add(formatNetwork(r.network));
        }
      }
      const canonical = sortNetworks(all);
      const n = canonical.length;
      const noun = n === 1 ? 'network' : 'networks';
      const whose = mode === 'all' ? 'every hold on' : `the holds of ${field} on`;
      if (input.mode === 'dry-run') {
        const p = await planRelease(ctx, mode, field, canonical);
        const now = Math.floor(Date.now() / 1000);
        const active = await onRedis(() => ctx.redis.zcount(ctx.registry, `(${now}`, '+inf'));
        return {
          summary: `would release ${whose} ${n} ${noun}: ${p.lift} lifted, ${p.still} still held${p.others.length ? ` by ${p.others.join(', ')}` : ''} (${p.banned} banned now)`,
          changed: false,
          plan: [
            `would release ${whose} ${n} ${noun} (their holds in ${ctx.holds}, field = the network); DEL the ban key and ZREM from ${ctx.registry} where no hold is left (${p.lift}), else set the ban's end to the latest remaining hold (${p.still})`,
            ...canonical.slice(0, 5).map((c) => `${mode === 'all' ? `HDEL ${ctx.holds} ${c}, DEL` : `drop ${field} from HGET ${ctx.holds} ${c}, then maybe DEL`} ${ctx.banKey(c)}`),
            ...(n > 5 ? [`… and ${n - 5} more`] : []),
            ...nginxPlan(ctx, await currentDenyLines(ctx), Math.max(0, active - p.lift)),
          ],
          output: { planned: n },
        };
      }
      if (n) await nginxPreflight(ctx, action);
      const now = Math.floor(Date.now() / 1000);
      let lifted = 0;
      let still = 0;
      let notHeld = 0;
      const stillBy = new Set<string>();
      const ended = new Set<string>();
      const parts = chunks(canonical);
      for (let w = 0; w < parts.length; w += WINDOW) {
        const window = parts.slice(w, w + WINDOW);
        const results = await onRedis(() =>
          Promise.all(window.map((part) => ctx.redis.eval(RELEASE_SCRIPT, 2 + part.length, ctx.registry, ctx.holds, ...ctx.banKeys(part), mode, field, String(now), ...part) as Promise<[number, number, number, number, ...string[]]>)),
        );
        for (const [l, s, h, count, ...fields] of results) {
          lifted += l;
          still += s;
          notHeld += h;
          for (const f of fields.slice(0, count)) stillBy.add(holderIncident(f));
          for (const f of fields.slice(count)) ended.add(f);
        }
        heartbeatProgress({ phase: 'redis', done: Math.min(n, (w + WINDOW) * CHUNK), total: n });
      }
      const nginx = await syncNginx(ctx, now, action);

      // Every network is checked: the hold is gone, and ban key, registry and holds agree.
      const left: string[] = [];
      let problems = 0;
      for (let w = 0; w < parts.length; w += WINDOW) {
        const checks = await onRedis(() =>
          Promise.all(parts.slice(w, w + WINDOW).map((part) => ctx.redis.eval(CHECK_SCRIPT, 2 + part.length, ctx.registry, ctx.holds, ...ctx.banKeys(part), field, String(now), ...part) as Promise<[number, ...string[]]>)),
        );
        for (const [count, ...some] of checks) {
          problems += count;
          left.push(...some.slice(0, Math.max(0, 3 - left.length)));
        }
      }
      if (mode === 'all') {
        for (const part of chunks(canonical)) {
          const exists = await onRedis(() => ctx.redis.exists(...part.map(ctx.banKey)));
          if (exists > 0) {
            problems += exists;
            left.push(`${exists} ban keys still exist`);
          }
        }
      }
      if (problems) throw verificationFailed(`${action}: ${problems} problems after releasing, e.g. ${left.slice(0, 3).join('; ')}`);
      let denyProof: Record<string, unknown> | undefined;
      if (nginx) {
        const file = await readDenyFile(ctx);
        const bannedNow = new Set<string>();
        for (const part of chunks(canonical)) {
          const scores = await onRedis(() => ctx.redis.zmscore(ctx.registry, ...part));
          part.forEach((c, i) => {
            if (scores[i] !== null && scores[i] !== undefined && Number(scores[i]) > now) bannedNow.add(c);
          });
        }
        const wrong = canonical.filter((c) => file.networks.has(c) !== bannedNow.has(c));
        if (wrong.length) throw verificationFailed(`${action}: deny file ${nginx.path} disagrees with the registry on ${wrong.length} networks, e.g. ${wrong.slice(0, 3).join(', ')}`);
        denyProof = denyFileProof(nginx, file);
      }

      const edges = await edgeSetFor(deps, { target: input.target, redis: ctx.redis, space: ctx.space, cutoff: now, allowed: canonical });
      const stillHeldBy = [...stillBy].sort();
      // Lifted: this release ended the ban, and nobody holds any of these networks any more.
      const outcome: ReleaseOutcome = { lifted: lifted > 0 && !stillHeldBy.length, stillHeldBy };
      const endedHolds = [...ended].sort();
      logger.info({ incidentId: input.incidentId, step: input.stepId, networks: n, mode, lifted, still, notHeld }, 'bans released');
      const stillLine = stillHeldLine(outcome);
      let summary: string;
      if (mode === 'all') {
        summary = `lifted ${lifted} of ${n} ${noun}${lifted < n ? ` (${n - lifted} were not banned)` : ''}${endedHolds.length ? `, ending the holds of ${endedHolds.map(showHolder).join(', ')}` : ''}`;
      } else {
        const parts2 = [`${lifted} lifted`, ...(still ? [`${still} ${stillLine ?? 'still held'}`] : []), ...(notHeld ? [`${notHeld} not held by ${field}${stillLine && !still ? ` (${stillLine})` : ''}`] : [])];
        summary = `released ${field}'s hold on ${n} ${noun}: ${parts2.join(', ')}`;
      }
      return {
        summary: summary + denyFileSummary(nginx),
        changed: lifted > 0 || Boolean(nginx?.changed),
        proof: { checked: n, registry: ctx.registry, ...(denyProof ? { denyFile: denyProof } : {}) },
        output: {
          ...outcome,
          unbanned: lifted,
          requested: n,
          ...(mode === 'all' ? { endedHolds: endedHolds.map(showHolder), endedHoldsOf: [...new Set(endedHolds.map(holderIncident))].sort() } : { released: field, stillHeld: still, notHeld }),
          ...(nginx ? { denyFile: nginx.path } : {}),
        },
        ...(edges && { edges }),
      };
    },
  };
}
