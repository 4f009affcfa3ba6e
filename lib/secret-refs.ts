/**
 * Every secret reference of a target, and whether this process can read it.
 * Checked when a worker starts and by `firebreak target check`, so a missing
 * variable is found before an incident needs it, not after two approvals.
 * Only the reference is ever named, never the value.
 */
import { readSecret, type SecretRef, type TargetConfig } from './config.js';

export interface SecretRefCheck {
  /** Where in the target config: `postgres.password`. */
  path: string;
  /** The reference, for messages: `env PGPASSWORD` or `file /run/secrets/pg`. */
  ref: string;
  ok: boolean;
  /** Why it cannot be read (names the reference only). */
  problem?: string;
}

export function describeRef(ref: SecretRef): string {
  return 'env' in ref ? `env ${ref.env}` : `file ${ref.file}`;
}

export function targetSecretRefs(target: TargetConfig): Array<{ path: string; ref: SecretRef }> {
  const refs: Array<[string, SecretRef | undefined]> = [
    ['redis.password', target.redis.password],
    ['postgres.password', target.postgres?.password],
    ['postgres.appPassword', target.postgres?.appPassword],
    ['github.token', target.github?.token],
    ['slack.webhook', target.slack?.webhook],
    ['drill.token.signingKey', target.drill?.token?.signingKey],
  ];
  return refs.filter((r): r is [string, SecretRef] => r[1] !== undefined).map(([path, ref]) => ({ path, ref }));
}

/** Try to read each reference; the values are dropped at once. */
export function checkSecretRefs(target: TargetConfig, env: NodeJS.ProcessEnv = process.env): SecretRefCheck[] {
  return targetSecretRefs(target).map(({ path, ref }) => {
    try {
      if (readSecret(ref, env) === '') return { path, ref: describeRef(ref), ok: false, problem: `secret ${describeRef(ref)} is empty` };
      return { path, ref: describeRef(ref), ok: true };
    } catch (err) {
      return { path, ref: describeRef(ref), ok: false, problem: (err as Error).message.replace(/^config: /, '') };
    }
  });
}
