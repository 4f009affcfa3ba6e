/**
 * The guide's emergency kill-switch: `:1:EMERGENCY_LOCKDOWN` = 1 makes the
 * app's middleware answer 503. Integer value, because Django's Redis cache
 * stores ints raw and pickles everything else.
 */
import type { ArgsOf } from '../lib/args/schemas.js';
import { djangoKey, LOCKDOWN_KEY, ownKey } from '../lib/redis-keys.js';
import type { ActionInput, ActionResult } from '../workflows/definitions.js';
import type { ActivityDeps } from './deps.js';
import { assertModeAllowed } from './support/mode.js';
import { onTarget, verificationFailed } from './support/failures.js';
import { withReaders } from './inspect/readers.js';
import { RECORD_TTL_SECONDS } from './support/records.js';

// Records the prior value once per (incident, step) and sets the flag, atomically:
// a retry after a crash finds the first attempt's record and never mistakes our
// own `1` for the value to restore.
const ENABLE_SCRIPT = `
local prior = redis.call('GET', KEYS[1])
local record = redis.call('GET', KEYS[2])
if not record then
  record = cjson.encode({ prior = prior or cjson.null, at = ARGV[2], reason = ARGV[3] })
  redis.call('SET', KEYS[2], record, 'EX', tonumber(ARGV[1]))
end
redis.call('SET', KEYS[1], '1')
return { record, redis.call('GET', KEYS[1]) }
`;

interface UndoRecord {
  prior: string | null;
  at: string;
  reason: string;
}

export function createLockdownActivities(deps: ActivityDeps) {
  const { clients } = deps;

  function keys(input: ActionInput) {
    const target = clients.target(input.target);
    assertModeAllowed(target, input.target, input.mode);
    return {
      target,
      flag: djangoKey(target.redis, LOCKDOWN_KEY),
      record: ownKey(target.redis, 'undo', input.incidentId, input.stepId),
    };
  }

  const run = <T>(fn: () => Promise<T>): Promise<T> => onTarget('redis', fn);

  const acts = {
    /** Read the flag (evidence for phase I). */
    async lockdownStatus(input: ActionInput): Promise<ActionResult> {
      const { flag } = keys(input);
      const raw = await run(() => clients.redis(input.target).get(flag));
      const locked = raw !== null && raw !== '0';
      return {
        summary: locked ? `lockdown is ON (${flag} = ${raw})` : `lockdown is off (${flag} ${raw === null ? 'unset' : `= ${raw}`})`,
        changed: false,
        proof: { key: flag, value: raw },
        output: { locked, raw },
      };
    },

    async lockdownEnable(input: ActionInput): Promise<ActionResult> {
      const { flag, record } = keys(input);
      const reason = (input.args as ArgsOf<'lockdown.enable'>).reason?.slice(0, 500) ?? '';
      const redis = clients.redis(input.target);
      if (input.mode === 'dry-run') {
        const raw = await run(() => redis.get(flag));
        return {
          summary: raw === '1' ? 'would leave lockdown ON (already set)' : 'would turn lockdown ON',
          changed: false,
          plan: [`SET ${flag} 1 (now: ${raw === null ? 'unset' : raw})`],
        };
      }
      const [recordJson, after] = (await run(() =>
        redis.eval(ENABLE_SCRIPT, 2, flag, record, String(RECORD_TTL_SECONDS), new Date().toISOString(), reason),
      )) as [string, string | null];
      if (after !== '1') throw verificationFailed(`read back ${flag} = ${after ?? 'nil'}, expected 1`);
      const saved = JSON.parse(recordJson) as UndoRecord;
      const changed = saved.prior !== '1';
      deps.logger.info({ incidentId: input.incidentId, step: input.stepId, key: flag, changed }, 'lockdown enabled');
      return {
        summary: changed ? `lockdown ON (${flag} = 1, was ${saved.prior ?? 'unset'})` : `lockdown was already ON (${flag} = 1)`,
        changed,
        proof: { key: flag, readBack: after },
        output: { key: flag, prior: saved.prior },
        undo: { action: 'lockdown.disable', args: saved.prior === null ? {} : { restore: saved.prior } },
      };
    },

    /** Clear the flag, or put back the value recorded before enable (`restore`). */
    async lockdownDisable(input: ActionInput): Promise<ActionResult> {
      const { flag } = keys(input);
      // The undo restores exactly what enable found, whatever the app had stored there (the schema bounds it).
      const { restore } = input.args as ArgsOf<'lockdown.disable'>;
      const redis = clients.redis(input.target);
      const before = await run(() => redis.get(flag));
      if (input.mode === 'dry-run') {
        return {
          summary: restore === undefined ? 'would turn lockdown off' : `would restore ${flag} = ${restore}`,
          changed: false,
          plan: [restore === undefined ? `DEL ${flag} (now: ${before ?? 'unset'})` : `SET ${flag} ${restore} (now: ${before ?? 'unset'})`],
        };
      }
      await run(async () => {
        if (restore === undefined) await redis.del(flag);
        else await redis.set(flag, restore);
      });
      const after = await run(() => redis.get(flag));
      const expected = restore ?? null;
      if (after !== expected) throw verificationFailed(`read back ${flag} = ${after ?? 'nil'}, expected ${expected ?? 'nil'}`);
      deps.logger.info({ incidentId: input.incidentId, step: input.stepId, key: flag }, 'lockdown disabled');
      return {
        summary: restore === undefined ? `lockdown off (${flag} cleared, was ${before ?? 'unset'})` : `lockdown restored to ${flag} = ${restore}`,
        changed: before !== after,
        proof: { key: flag, readBack: after },
      };
    },
  };

  return {
    ...acts,
    /** Enable, then say how many app processes read the namespace (none: a loud warning). */
    async lockdownEnable(input: ActionInput): Promise<ActionResult> {
      const result = await acts.lockdownEnable(input);
      return withReaders(clients.redis(input.target), clients.target(input.target).redis, result, deps.logger);
    },
  };
}
