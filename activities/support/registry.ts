/** The registry an activity verifies against: the worker config's, re-read when the file changes (lib/policy/live-registry.ts). */
import type { Registry } from '../../lib/identity/registry.js';
import { liveRegistry, type RegistrySource } from '../../lib/policy/live-registry.js';
import type { ActivityDeps } from '../deps.js';

const sources = new WeakMap<ActivityDeps, RegistrySource>();

export function registryOf(deps: ActivityDeps): Registry {
  let source = sources.get(deps);
  if (!source) {
    source = liveRegistry(deps.config, (problem) => deps.logger.warn({ problem }, 'identity registry not re-read'));
    sources.set(deps, source);
  }
  return source();
}
