/**
 * secrets.rotate_db_password and secrets.rotate_jwt_key.
 *
 * Crash safety rests on a pending record in Firebreak's own PostgreSQL (pending.ts):
 * each step's new value is generated once, kept sealed under the payload keys, and
 * every attempt publishes and sets that same value. Nothing here logs, returns or
 * throws a secret value: every failure leaves through the scrubber (values.ts).
 */
import type { ActionInput, ActionResult } from '../../workflows/definitions.js';
import type { ActivityDeps } from '../deps.js';
import { FirebreakDb } from '../support/firebreak-db.js';
import type { SecretsContext } from './context.js';
import { rotateDbPassword } from './rotate-db-password.js';
import { rotateJwtKey } from './rotate-jwt-key.js';
import { Hush } from './values.js';


export function createSecretActivities(deps: ActivityDeps) {
  const ctx: SecretsContext = { deps, db: new FirebreakDb(deps.config, deps.logger, 'firebreak-secrets') };

  /** Every failure leaves through the scrubber. */
  async function quietly(input: ActionInput, action: string, fn: (hush: Hush) => Promise<ActionResult>): Promise<ActionResult> {
    const hush = new Hush();
    try {
      return await fn(hush);
    } catch (err) {
      const failure = hush.failure(err);
      deps.logger.warn({ incidentId: input.incidentId, step: input.stepId, action, error: failure.message }, 'secret rotation failed');
      throw failure;
    }
  }

  return {
    /** Rotate a PostgreSQL role's password and publish it to the target's sinks; prove the new one works and the old one does not. */
    async secretsRotateDbPassword(input: ActionInput): Promise<ActionResult> {
      return quietly(input, 'secrets.rotate_db_password', (hush) => rotateDbPassword(ctx, input, hush));
    },

    /** Publish a new JWT signing key, then revoke every token issued before the step started. */
    async secretsRotateJwtKey(input: ActionInput): Promise<ActionResult> {
      return quietly(input, 'secrets.rotate_jwt_key', (hush) => rotateJwtKey(ctx, input, hush));
    },
  };
}
