/**
 * The responders registry as the worker's config file says it now: an emergency key
 * revocation (`revokedAt`) written into firebreak.yaml takes effect on open incidents at
 * their next gate and in every activity's re-check, without restarting the worker. Only
 * `identity` is re-read; a file that no longer parses keeps the last good registry (and
 * says so once), so a typo cannot lock every responder out mid-incident.
 */
import { readFileSync, statSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { Config } from '../config.js';
import { identitySchema, registryFromConfig } from '../config-identity.js';
import type { Registry } from '../identity/registry.js';

export type RegistrySource = () => Registry;

export function liveRegistry(config: Readonly<Config>, onProblem: (problem: string) => void): RegistrySource {
  let current = config.registry;
  let seen = '';
  let reported = '';
  return () => {
    if (config.source === 'defaults') return current;
    let stamp: string;
    try {
      const st = statSync(config.source);
      stamp = `${st.mtimeMs}:${st.size}`;
    } catch (err) {
      stamp = `missing:${(err as NodeJS.ErrnoException).code ?? ''}`;
    }
    if (stamp === seen) return current;
    seen = stamp;
    const problem = reread(config.source);
    if (typeof problem === 'string') {
      if (problem !== reported) onProblem(`${config.source}: ${problem}; keeping the registry read before`);
      reported = problem;
      return current;
    }
    reported = '';
    current = problem;
    return current;
  };
}

function reread(file: string): Registry | string {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    return `cannot re-read the identity section (${(err as Error).message.split('\n')[0]})`;
  }
  const parsed = identitySchema.safeParse((doc as { identity?: unknown } | null)?.identity);
  if (!parsed.success) return `identity: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`;
  const { registry, problems } = registryFromConfig(parsed.data);
  return problems.length ? problems.join('; ') : registry;
}
