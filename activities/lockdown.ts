/**
 * The guide's emergency kill-switch: `:1:EMERGENCY_LOCKDOWN` = 1 makes the
 * app's middleware answer 503. Integer value, because Django's Redis cache
 * stores ints raw and pickles everything else.
 *
 * Several incidents can hold the lockdown at once. Each holder is a field of one
 * hash beside the flag (`firebreak:hold:lockdown`, field = incident id, value =
 * `{stepId, since}`), and what the flag was before the FIRST holder took it is kept in
 * `firebreak:hold:lockdown:prior`; both are written by the same Lua script as the flag,
 * so a crash never separates the effect from its record. The flag is lifted (the prior
 * restored) only when the last holder releases it.
 */
import type { Redis } from 'ioredis';
import type { ArgsOf } from '../lib/args/schemas.js';
import { alsoHeldBy, otherHolders, stillHeldLine, type Holder, type HoldView, type ReleaseOutcome } from '../lib/holds.js';
import { djangoKey, LOCKDOWN_KEY, ownKey, type KeySpace } from '../lib/redis-keys.js';
import type { ActionInput, ActionResult } from '../workflows/definitions.js';
import type { ActivityDeps } from './deps.js';
import { assertModeAllowed } from './support/mode.js';
import { onTarget, verificationFailed } from './support/failures.js';
import { withReaders } from './inspect/readers.js';

/** Where the lockdown's holders and the prior value live in a target's Redis. */
export function lockdownHoldKeys(space: KeySpace): { flag: string; holds: string; prior: string } {
  return { flag: djangoKey(space, LOCKDOWN_KEY), holds: ownKey(space, 'hold', 'lockdown'), prior: ownKey(space, 'hold', 'lockdown', 'prior') };
}

// Take this incident's hold (once: a retry finds it and changes nothing), record the prior
// value when nobody held it yet, set the flag; return the prior record, the flag and every holder.
// The GET comes first so a key of the wrong type fails before anything is written.
const ENABLE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then
  if redis.call('HLEN', KEYS[2]) == 0 then
    redis.call('SET', KEYS[3], cjson.encode({ prior = current or cjson.null, by = ARGV[1], since = ARGV[3] }))
  end
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
end
redis.call('SET', KEYS[1], '1')
return { redis.call('GET', KEYS[3]) or false, redis.call('GET', KEYS[1]) or false, redis.call('HGETALL', KEYS[2]) }
`;

// Drop this incident's hold. Others left: the flag stays. This incident was the last: restore
// the prior and drop its record. Nobody held it: with ARGV[2] = 'hold' (the undo of a hold) it
// was already released, nothing to do; otherwise (an explicit lockdown.disable step, or the undo
// of an enable from before holds, KEYS[4] being its old record) clear it or restore ARGV[4].
// An old record is evidence of a holder from before holds: what it found is the prior to restore
// at the end (unless that was a 1, which may be someone's lockdown), and it is deleted (it kept
// the reason text in the app's Redis).
// Returns { outcome, remaining holders, flag after, flag before, expected flag }.
const RELEASE_SCRIPT = `
local before = redis.call('GET', KEYS[1])
local mine = redis.call('HGET', KEYS[2], ARGV[1])
if mine then redis.call('HDEL', KEYS[2], ARGV[1]) end
local legacy = false
if ARGV[2] ~= 'hold' then
  local old = redis.call('GET', KEYS[4])
  if old then
    local ok, rec = pcall(cjson.decode, old)
    if ok and type(rec) == 'table' and rec.prior ~= nil and rec.reason ~= nil then
      legacy = true
      redis.call('DEL', KEYS[4])
    end
  end
end
local restore = false
if ARGV[3] == '1' then restore = ARGV[4] end
local left = redis.call('HKEYS', KEYS[2])
if #left > 0 then
  if legacy and not mine and restore ~= '1' then
    local rec = { by = ARGV[1] }
    local p = redis.call('GET', KEYS[3])
    if p then rec = cjson.decode(p) end
    rec.prior = restore or cjson.null
    redis.call('SET', KEYS[3], cjson.encode(rec))
  end
  return { 'held', left, redis.call('GET', KEYS[1]) or false, before or false, false }
end
local p = redis.call('GET', KEYS[3])
if mine then
  local prior = false
  if p then
    local rec = cjson.decode(p)
    if type(rec.prior) == 'string' then prior = rec.prior end
  end
  redis.call('DEL', KEYS[3])
  if prior then redis.call('SET', KEYS[1], prior) else redis.call('DEL', KEYS[1]) end
  return { 'lifted', left, redis.call('GET', KEYS[1]) or false, before or false, prior }
end
if ARGV[2] == 'hold' then
  return { 'released', left, redis.call('GET', KEYS[1]) or false, before or false, before or false }
end
if p then redis.call('DEL', KEYS[3]) end
if restore then redis.call('SET', KEYS[1], restore) else redis.call('DEL', KEYS[1]) end
return { 'lifted', left, redis.call('GET', KEYS[1]) or false, before or false, restore }
`;

interface PriorRecord {
  prior: string | null;
  by: string;
  since: string;
}

type ReleaseReply = ['held' | 'lifted' | 'released', string[], string | null, string | null, string | null];

function parseHolders(flat: string[]): Holder[] {
  const out: Holder[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const incidentId = flat[i] as string;
    let value: Partial<Holder> = {};
    try {
      value = JSON.parse(flat[i + 1] as string) as Partial<Holder>;
    } catch {
      // A hand-edited value still names its incident.
    }
    out.push({ incidentId, stepId: typeof value.stepId === 'string' ? value.stepId : '?', since: typeof value.since === 'string' ? value.since : '' });
  }
  return out.sort((a, b) => (a.since < b.since ? -1 : a.since > b.since ? 1 : a.incidentId < b.incidentId ? -1 : 1));
}

/** Who holds the lockdown of this namespace (read-only; for `firebreak target check`); [] when nobody does. */
export async function listLockdownHolds(redis: Redis, space: KeySpace): Promise<HoldView[]> {
  const holders = parseHolders(Object.entries(await redis.hgetall(lockdownHoldKeys(space).holds)).flat());
  return holders.length ? [{ kind: 'lockdown', subject: 'lockdown', holders }] : [];
}

/** The step an undo runs for (`lockdown.undo` → `lockdown`): the old per-step record was keyed by it. */
const undoneStep = (stepId: string): string => stepId.replace(/\.undo$/, '');

export function createLockdownActivities(deps: ActivityDeps) {
  const { clients } = deps;

  function keys(input: ActionInput) {
    const target = clients.target(input.target);
    assertModeAllowed(target, input.target, input.mode);
    return { ...lockdownHoldKeys(target.redis), legacy: ownKey(target.redis, 'undo', input.incidentId, undoneStep(input.stepId)) };
  }

  const run = <T>(fn: () => Promise<T>): Promise<T> => onTarget('redis', fn);

  const acts = {
    /** Read the flag (evidence for phase I), and who holds it. */
    async lockdownStatus(input: ActionInput): Promise<ActionResult> {
      const { flag, holds } = keys(input);
      const redis = clients.redis(input.target);
      const [raw, held] = await run(() => Promise.all([redis.get(flag), redis.hgetall(holds)]));
      const holders = parseHolders(Object.entries(held).flat()).map((h) => h.incidentId);
      const locked = raw !== null && raw !== '0';
      const by = holders.length ? `, held by ${holders.join(', ')}` : '';
      return {
        summary: locked ? `lockdown is ON (${flag} = ${raw}${by})` : `lockdown is off (${flag} ${raw === null ? 'unset' : `= ${raw}`}${by})`,
        changed: false,
        proof: { key: flag, value: raw },
        output: { locked, raw, heldBy: holders },
      };
    },

    async lockdownEnable(input: ActionInput): Promise<ActionResult> {
      const { flag, holds, prior } = keys(input);
      const redis = clients.redis(input.target);
      if (input.mode === 'dry-run') {
        const [raw, held] = await run(() => Promise.all([redis.get(flag), redis.hgetall(holds)]));
        const others = otherHolders(parseHolders(Object.entries(held).flat()), input.incidentId);
        return {
          summary: `${raw === '1' ? 'would leave lockdown ON (already set)' : 'would turn lockdown ON'}${alsoHeldBy(others)}`,
          changed: false,
          plan: [`SET ${flag} 1 (now: ${raw === null ? 'unset' : raw})`],
          output: { alsoHeldBy: others },
        };
      }
      // No reason text here: the app's Redis is not where an incident's words belong (issue 11 §3).
      const hold = JSON.stringify({ stepId: input.stepId, since: new Date().toISOString() });
      const [priorJson, after, flat] = (await run(() => redis.eval(ENABLE_SCRIPT, 3, flag, holds, prior, input.incidentId, hold, new Date().toISOString()))) as [
        string | null,
        string | null,
        string[],
      ];
      if (after !== '1') throw verificationFailed(`read back ${flag} = ${after ?? 'nil'}, expected 1`);
      const holders = parseHolders(flat);
      if (!holders.some((h) => h.incidentId === input.incidentId)) throw verificationFailed(`read back the holders of ${flag}: ${input.incidentId} is not among them`);
      const saved = priorJson ? (JSON.parse(priorJson) as PriorRecord) : undefined;
      const others = otherHolders(holders, input.incidentId);
      // This incident turned it on when it was the first holder and the flag was not 1 before (stable across retries).
      const changed = saved?.by === input.incidentId && saved.prior !== '1';
      deps.logger.info({ incidentId: input.incidentId, step: input.stepId, key: flag, changed, holders: holders.length }, 'lockdown enabled');
      return {
        summary: changed ? `lockdown ON (${flag} = 1, was ${saved.prior ?? 'unset'})` : `lockdown was already ON (${flag} = 1)`,
        changed,
        proof: { key: flag, readBack: after, holders: holders.map((h) => h.incidentId) },
        output: { key: flag, prior: saved?.prior ?? null, alsoHeldBy: others },
        undo: { action: 'lockdown.disable', args: { hold: true } },
      };
    },

    /**
     * Release this incident's hold; the last holder's release restores what the flag was before
     * the first took it. Without `hold` (an explicit step, or an undo from before holds):
     * nobody holding it, clear the flag or put back `restore`.
     */
    async lockdownDisable(input: ActionInput): Promise<ActionResult> {
      const { flag, holds, prior, legacy } = keys(input);
      // The undo restores exactly what enable found, whatever the app had stored there (the schema bounds it).
      const { restore, hold } = input.args as ArgsOf<'lockdown.disable'>;
      const redis = clients.redis(input.target);
      if (input.mode === 'dry-run') return planDisable(redis, input, { flag, holds, prior }, restore, hold === true);
      const [outcome, left, after, before, expected] = (await run(() =>
        redis.eval(RELEASE_SCRIPT, 4, flag, holds, prior, legacy, input.incidentId, hold ? 'hold' : 'plain', restore === undefined ? '0' : '1', restore ?? ''),
      )) as ReleaseReply;
      if (outcome === 'lifted' && after !== expected) throw verificationFailed(`read back ${flag} = ${after ?? 'nil'}, expected ${expected ?? 'nil'}`);
      const release: ReleaseOutcome = { lifted: outcome === 'lifted', stillHeldBy: [...left].sort() };
      deps.logger.info({ incidentId: input.incidentId, step: input.stepId, key: flag, outcome, holders: left.length }, 'lockdown released');
      const now = after === null ? 'unset' : `= ${after}`;
      const summary =
        outcome === 'held'
          ? `lockdown stays ON: ${stillHeldLine(release) ?? ''}${after === '1' ? '' : ` (${flag} ${now}, changed outside Firebreak)`}`
          : outcome === 'released'
            ? `lockdown already released by ${input.incidentId}: nobody holds it (${flag} ${now})`
            : expected === null
              ? `lockdown off (${flag} cleared, was ${before ?? 'unset'})`
              : `lockdown restored to ${flag} = ${expected}`;
      return {
        summary,
        changed: outcome === 'lifted' && before !== after,
        proof: { key: flag, readBack: after, holders: release.stillHeldBy },
        output: { ...release },
      };
    },
  };

  async function planDisable(redis: Redis, input: ActionInput, k: { flag: string; holds: string; prior: string }, restore: string | undefined, hold: boolean): Promise<ActionResult> {
    const [before, held, priorJson] = await run(() => Promise.all([redis.get(k.flag), redis.hgetall(k.holds), redis.get(k.prior)]));
    const holders = parseHolders(Object.entries(held).flat());
    const mine = holders.some((h) => h.incidentId === input.incidentId);
    const others = otherHolders(holders, input.incidentId);
    const now = before ?? 'unset';
    const drop = mine ? [`HDEL ${k.holds} ${input.incidentId}`] : [];
    if (others.length) {
      return { summary: `would leave lockdown ON: ${stillHeldLine({ lifted: false, stillHeldBy: others }) ?? ''}`, changed: false, plan: drop, output: { lifted: false, stillHeldBy: others } };
    }
    if (!mine && hold) return { summary: 'would do nothing: already released', changed: false, plan: [], output: { lifted: false, stillHeldBy: [] } };
    const value = mine ? ((priorJson ? (JSON.parse(priorJson) as PriorRecord).prior : null) ?? undefined) : restore;
    return {
      summary: value === undefined ? 'would turn lockdown off' : `would restore ${k.flag} = ${value}`,
      changed: false,
      plan: [...drop, value === undefined ? `DEL ${k.flag} (now: ${now})` : `SET ${k.flag} ${value} (now: ${now})`],
      output: { lifted: true, stillHeldBy: [] },
    };
  }

  return {
    ...acts,
    /** Enable, then say how many app processes read the namespace (none: a loud warning) and who else holds it. */
    async lockdownEnable(input: ActionInput): Promise<ActionResult> {
      const result = await withReaders(clients.redis(input.target), clients.target(input.target).redis, await acts.lockdownEnable(input), deps.logger);
      const others = (result.output?.alsoHeldBy as string[] | undefined) ?? [];
      return { ...result, summary: `${result.summary}${alsoHeldBy(others)}` };
    },
  };
}
