/**
 * secrets.rotate_jwt_key: publish a new signing key to every sink, then raise the global
 * "revoked before" epoch to the step's requestedAt, so tokens signed with the old key are
 * refused at once, before the redeploy loads the new one.
 */
import { randomBytes } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type { TargetConfig } from '../../lib/config.js';
import { contractKeys, djangoKey } from '../../lib/redis-keys.js';
import type { ActionInput, ActionResult } from '../../workflows/definitions.js';
import { assertModeAllowed } from '../support/mode.js';
import { heartbeat } from '../support/context.js';
import { targetUnavailable, verificationFailed } from '../support/failures.js';
import { RAISE_EPOCH_SCRIPT } from '../support/redis-scripts.js';
import { requestedAtSeconds } from '../support/requested-at.js';
import type { ArgsOf } from '../../lib/args/schemas.js';
import type { SecretsContext } from './context.js';
import { completePending, openPending, pendingKeyring, pendingRecord, withRotationLock } from './pending.js';
import { publish, publishableSinks, readBackRecorded } from './publish.js';
import { fingerprint, type Hush } from './values.js';

const DEFAULT_JWT_NAME = 'JWT_SECRET_KEY';

/** Raise (never lower) the global "revoked before" epoch, and read it back. */
async function raiseEpoch(ctx: SecretsContext, input: ActionInput, target: TargetConfig, epoch: number): Promise<{ key: string; value: number; raised: boolean }> {
  const redis = ctx.deps.clients.redis(input.target);
  const key = djangoKey(target.redis, contractKeys.revokedBeforeAll());
  try {
    const raised = Number(await redis.eval(RAISE_EPOCH_SCRIPT, 1, key, String(epoch), String(target.tokens.maxLifetimeSeconds)));
    const value = Number(await redis.get(key));
    if (!(value >= epoch)) throw verificationFailed(`read back ${key} = ${Number.isFinite(value) ? value : 'nothing'}, below ${epoch}`);
    return { key, value, raised: raised > 0 };
  } catch (err) {
    if (err instanceof ApplicationFailure) throw err;
    throw targetUnavailable('redis', err);
  }
}

export async function rotateJwtKey(ctx: SecretsContext, input: ActionInput, hush: Hush): Promise<ActionResult> {
  const { deps, db } = ctx;
  const target = deps.clients.target(input.target);
  assertModeAllowed(target, input.target, input.mode);
  const name = (input.args as ArgsOf<'secrets.rotate_jwt_key'>).secret_name ?? DEFAULT_JWT_NAME;
  const epoch = requestedAtSeconds(input);
  const sinks = publishableSinks(deps, input, name);
  const ring = pendingKeyring(deps.config);
  const sinkNames = sinks.map((s) => s.describe());
  const epochKey = djangoKey(target.redis, contractKeys.revokedBeforeAll());

  if (input.mode === 'dry-run') {
    return {
      summary: `would publish a new JWT signing key as ${name} to ${sinkNames.join(', ')}, then revoke every token issued at or before ${epoch}`,
      changed: false,
      plan: [
        `generate a new key (64 random bytes, base64url) and record it encrypted (key "${ring.currentId}") in firebreak.pending_secrets of Firebreak's database`,
        `publish ${name} to ${sinkNames.join(', ')}`,
        `SET ${epochKey} ${epoch} EX ${target.tokens.maxLifetimeSeconds} (only ever raised): every token issued at or before it is rejected`,
        'the app signs with the new key once it is redeployed',
      ],
      output: { secretName: name, sinks: sinkNames, epoch },
    };
  }

  return withRotationLock(db, input, async (own) => {
    const record = await pendingRecord(db, own, input, ring, { kind: 'jwt_key', name, fresh: () => randomBytes(64).toString('base64url'), previousVerifierFp: null });
    let readBacks: Record<string, string>;
    let fp = record.fingerprint;
    const earlier = record.completed_at !== null || !record.value_enc;
    if (!earlier && record.value_enc) {
      const key = openPending(ring, input, name, record.value_enc);
      hush.add(key);
      readBacks = await publish(sinks, name, key);
      fp = fingerprint(key);
    } else {
      readBacks = await readBackRecorded(sinks, name, record.fingerprint, hush);
    }
    // Only now: tokens signed before are refused at once, before the redeploy loads the new key.
    heartbeat('revoke');
    const revoked = await raiseEpoch(ctx, input, target, epoch);
    await completePending(db, own, input);
    deps.logger.info({ incidentId: input.incidentId, step: input.stepId, secretName: name, fingerprint: fp, sinks: sinkNames, epoch, raised: revoked.raised }, 'JWT signing key rotated');
    return {
      summary:
        `${earlier ? 'already rotated by an earlier attempt: ' : ''}new JWT signing key ${name} (fingerprint ${fp}) published to ${sinkNames.join(', ')}; ` +
        `every token issued at or before ${epoch} is revoked (${revoked.key}${revoked.value > epoch ? ` = ${revoked.value}, raised earlier` : ''}); redeploy the app so it signs with the new key`,
      changed: true,
      proof: { secretName: name, fingerprint: fp, sinks: readBacks, epochKey: revoked.key, epoch: revoked.value },
      output: { secretName: name, fingerprint: fp, sinks: sinkNames, epoch },
    };
  });
}
