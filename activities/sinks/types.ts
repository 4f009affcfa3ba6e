/**
 * Secret sinks: where a rotated secret is published for the app to pick up
 * (`targets.<name>.secrets.sinks` in config). A sink never logs or echoes a value.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import type { ActivityDeps } from '../deps.js';
import { badInput } from '../support/failures.js';
import { createDotenvSink } from './dotenv.js';
import { createGithubSink } from './github.js';

export interface SecretSink {
  readonly kind: 'dotenv' | 'github';
  /** Where it publishes, for results and logs (never a value). */
  describe(): string;
  /** Publish `value` under `name`; idempotent. Failures are ApplicationFailures whose messages never hold the value. */
  put(name: string, value: string): Promise<void>;
  /** Read back when the sink can (dotenv); undefined when it cannot (github). */
  get?(name: string): Promise<string | undefined>;
}

/** The target's configured sinks, in config order; a target without sinks cannot rotate secrets. */
export function sinksFor(deps: ActivityDeps, targetName: string): SecretSink[] {
  const target = deps.clients.target(targetName);
  const sinks = target.secrets?.sinks ?? [];
  if (sinks.length === 0) {
    throw badInput(`target "${targetName}" has no secrets.sinks in config: a rotated secret must be published somewhere the app reads it`);
  }
  // Relative paths are relative to the config file, like the other paths in it.
  const base = deps.config.source === 'defaults' ? process.cwd() : dirname(deps.config.source);
  return sinks.map((s) => (s.type === 'dotenv' ? createDotenvSink(isAbsolute(s.path) ? s.path : resolve(base, s.path)) : createGithubSink(deps, targetName, s.environment)));
}
