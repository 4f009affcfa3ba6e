/**
 * `tokens.revoke` in the target Redis (Django cache keys with integer values,
 * TTL = the longest token lifetime): deny-listed jtis, written in chunks with a
 * progress record a retry resumes from; or per-user / global "revoked before"
 * epochs, which only move forward. simplejwt's blacklist follows. Never undone.
 */
import type { ArgsOf } from '../../lib/args/schemas.js';
import type { TargetConfig } from '../../lib/config.js';
import { contractKeys, djangoKey, ownKey, type KeySpace } from '../../lib/redis-keys.js';
import type { ActionInput, ActionResult } from '../../workflows/definitions.js';
import type { ActivityDeps } from '../deps.js';
import { onTarget, verificationFailed } from '../support/failures.js';
import { withReaders } from '../inspect/readers.js';
import { heartbeatProgress, lastHeartbeat } from '../support/context.js';
import { RAISE_EPOCH_SCRIPT } from '../support/redis-scripts.js';
import { plural, targetFor } from './common.js';
import { verifyJtis, writeJtis, type RevokeHeartbeat } from './deny-list.js';
import { parseJtis, parseUserIds } from './inputs.js';
import { requestedAtSeconds } from '../support/requested-at.js';
import { applySimplejwt, countSimplejwt, prepareSimplejwt, simplejwtText, type SimplejwtMatch } from './simplejwt.js';

interface Progress {
  done: number;
  fingerprint: string;
}

function parseProgress(raw: string | null): Progress | undefined {
  const m = raw === null ? null : /^(\d+):([0-9a-f]+)$/.exec(raw);
  return m ? { done: Number(m[1]), fingerprint: m[2] as string } : undefined;
}

function heartbeatDone(): number | undefined {
  const details = lastHeartbeat<{ done?: unknown }>();
  return typeof details?.done === 'number' ? details.done : undefined;
}

export function createRevokeActivities(deps: ActivityDeps) {
  const { clients } = deps;

  async function revokeJtis(input: ActionInput, target: TargetConfig, ttl: number): Promise<ActionResult> {
    const space: KeySpace = target.redis;
    // djangoKey(revokedJti(id)) is this base + id: built once, not per id.
    const keyBase = djangoKey(space, contractKeys.revokedJti(''));
    if (djangoKey(space, contractKeys.revokedJti('x')) !== `${keyBase}x`) throw new Error('contractKeys.revokedJti is no longer a plain prefix; update tokens.revoke');
    const ids = await parseJtis(input.args as ArgsOf<'tokens.revoke'>, deps.config.inputsDir);
    const sj = await prepareSimplejwt(deps, target, input.target, { kind: 'jti', jtis: [] });
    // The ids as strings only when the tables are there to match them against.
    const match: SimplejwtMatch = { kind: 'jti', jtis: sj.skipped === undefined ? ids.strings() : [] };

    if (input.mode === 'dry-run') {
      const report = await countSimplejwt(sj, match);
      return {
        summary: `would revoke ${plural(ids.count, 'jti')}; ${simplejwtText(report, true)}`,
        changed: false,
        plan: [`SET ${keyBase}<jti> 1 EX ${ttl} ×${ids.count}`, simplejwtText(report, true)],
        output: { scope: 'jti', revoked: 0, wouldRevoke: ids.count, simplejwt: report },
      };
    }

    const redis = clients.redis(input.target);
    const progressKey = ownKey(space, 'progress', input.incidentId, input.stepId);
    const recorded = parseProgress(await onTarget('redis', () => redis.get(progressKey)));
    // The record is written in order with the SETs, in the target's own Redis: if the
    // data was lost (failover, restart) the record went with it and we start over.
    const from = recorded && recorded.fingerprint === ids.fingerprint ? Math.min(recorded.done, ids.count) : 0;
    const beat = heartbeatDone();
    if (beat !== undefined && beat > from) {
      deps.logger.warn({ incidentId: input.incidentId, step: input.stepId, heartbeat: beat, from }, 'tokens.revoke: progress record behind the last heartbeat; rewriting from the record');
    }
    if (from > 0) deps.logger.info({ incidentId: input.incidentId, step: input.stepId, from, total: ids.count }, 'tokens.revoke: resuming');

    await writeJtis({ redis, keyBase, ids, from, ttl, progressKey });
    const proof = await onTarget('redis', () => verifyJtis(redis, keyBase, ids));
    if (proof.missing > 0 || proof.ttlSeconds <= 0) {
      // Start over on the next attempt rather than trusting progress that did not hold.
      await onTarget('redis', () => redis.del(progressKey));
      throw verificationFailed(`read back ${proof.missing} of ${proof.sampled} sampled deny-list keys missing (TTL of the first: ${proof.ttlSeconds})`);
    }
    const { report, open } = await applySimplejwt(sj, match, (slices) => heartbeatProgress<RevokeHeartbeat>({ done: ids.count, total: ids.count, simplejwtSlices: slices }));
    if (open > 0) throw verificationFailed(`simplejwt: ${open} matching outstanding tokens still not blacklisted after insert`);
    deps.logger.info({ incidentId: input.incidentId, step: input.stepId, scope: 'jti', count: ids.count, resumedFrom: from }, 'tokens revoked');
    return {
      summary: `revoked ${plural(ids.count, 'jti')} (${keyBase}<jti> = 1, TTL ${ttl} s${from ? `, resumed at ${from}` : ''}); ${simplejwtText(report, false)}`,
      changed: true,
      proof: { sampled: proof.sampled, missing: 0, ttlSeconds: proof.ttlSeconds, ...(report.skipped === undefined ? { simplejwtOpen: 0 } : {}) },
      output: { scope: 'jti', revoked: ids.count, resumedFrom: from, simplejwt: report },
    };
  }

  async function revokeBefore(input: ActionInput, target: TargetConfig, ttl: number, scope: 'user' | 'all'): Promise<ActionResult> {
    const space: KeySpace = target.redis;
    const epoch = requestedAtSeconds(input); // the "revoked before" epoch every retry shares
    const userIds = scope === 'user' ? parseUserIds((input.args as ArgsOf<'tokens.revoke'>).user_ids) : [];
    const keys = scope === 'user' ? userIds.map((id) => djangoKey(space, contractKeys.revokedBeforeUser(id))) : [djangoKey(space, contractKeys.revokedBeforeAll())];
    const match: SimplejwtMatch = scope === 'user' ? { kind: 'user', userIds, epoch } : { kind: 'all', epoch };
    const sj = await prepareSimplejwt(deps, target, input.target, match);
    const redis = clients.redis(input.target);
    const who = scope === 'user' ? plural(userIds.length, 'user') : 'every user';

    const readValues = async (): Promise<(string | null)[]> => {
      const out: (string | null)[] = [];
      for (let i = 0; i < keys.length; i += 1_000) out.push(...(await onTarget('redis', () => redis.mget(...keys.slice(i, i + 1_000)))));
      return out;
    };

    if (input.mode === 'dry-run') {
      const current = await readValues();
      const report = await countSimplejwt(sj, match);
      const lines = keys.slice(0, 10).map((k, i) => {
        const now = current[i] ?? null;
        const keep = now !== null && Number(now) >= epoch;
        return keep ? `keep ${k} = ${now} (already at or after ${epoch})` : `SET ${k} ${epoch} EX ${ttl} (now: ${now ?? 'unset'})`;
      });
      if (keys.length > 10) lines.push(`… and ${keys.length - 10} more users alike`);
      return {
        summary: `would revoke the tokens of ${who} issued at or before ${epoch}; ${simplejwtText(report, true)}`,
        changed: false,
        plan: [...lines, simplejwtText(report, true)],
        output: { scope, epoch, simplejwt: report },
      };
    }

    let raised = 0;
    for (let i = 0; i < keys.length; i += 1_000) {
      const batch = keys.slice(i, i + 1_000);
      raised += Number(await onTarget('redis', () => redis.eval(RAISE_EPOCH_SCRIPT, batch.length, ...batch, String(epoch), String(ttl))));
    }
    const after = await readValues();
    const low = after.filter((v) => v === null || !(Number(v) >= epoch)).length;
    if (low > 0) throw verificationFailed(`read back ${low} of ${keys.length} "revoked before" keys below ${epoch} or missing`);
    const { report, open } = await applySimplejwt(sj, match);
    if (open > 0) throw verificationFailed(`simplejwt: ${open} matching outstanding tokens still not blacklisted after insert`);
    const minValue = Math.min(...after.map(Number));
    deps.logger.info({ incidentId: input.incidentId, step: input.stepId, scope, count: keys.length, raised }, 'tokens revoked');
    const keyText = scope === 'user' ? djangoKey(space, contractKeys.revokedBeforeUser('<user>')) : keys[0];
    return {
      summary: `revoked the tokens of ${who} issued at or before ${epoch} (${keyText}${raised < keys.length ? `; ${keys.length - raised} already at or after it` : ''}); ${simplejwtText(report, false)}`,
      changed: raised > 0 || (report.blacklisted ?? 0) > 0,
      proof: { keys: keys.length, minValue, epoch, ...(report.skipped === undefined ? { simplejwtOpen: 0 } : {}) },
      output: { scope, epoch, ...(scope === 'user' ? { users: keys.length } : {}), raised, simplejwt: report },
    };
  }

  return {
    /** Revoke tokens: listed jtis, all tokens of some users, or all tokens. Never undone. */
    async tokensRevoke(input: ActionInput): Promise<ActionResult> {
      const target = targetFor(clients, input);
      // The schema (checked at the activity's entry) refused a bad scope and the other scopes' arguments.
      const { scope } = input.args as ArgsOf<'tokens.revoke'>;
      const ttl = target.tokens.maxLifetimeSeconds;
      const result = await (scope === 'jti' ? revokeJtis(input, target, ttl) : revokeBefore(input, target, ttl, scope));
      return withReaders(clients.redis(input.target), target.redis, result, deps.logger);
    },
  };
}
