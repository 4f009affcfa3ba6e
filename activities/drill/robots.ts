/** The drill robots' keys, held by the worker: loaded once each, never leaving this module but as signatures. */
import { hostname } from 'node:os';
import { loadKeyFile, type KeyPair } from '../../lib/identity/keys.js';
import { keyPairSigner } from '../../lib/identity/signer.js';
import type { Principal } from '../../lib/incidents/types.js';
import type { ActivityDeps } from '../deps.js';
import { refused } from '../support/failures.js';

export function robotPrincipals(deps: ActivityDeps) {
  const loaded = new Map<string, Promise<KeyPair>>();
  return {
    names(): string[] {
      return deps.config.drills.robots.map((r) => r.name);
    },
    async principal(name: string): Promise<Principal> {
      const robot = deps.config.drills.robots.find((r) => r.name === name);
      if (!robot) throw refused(`drill robot "${name}" is not in this worker's drills.robots`);
      let key = loaded.get(name);
      if (!key) {
        key = loadKeyFile(robot.keyFile);
        loaded.set(name, key);
        key.catch(() => loaded.delete(name));
      }
      return { user: name, host: hostname(), via: 'schedule', signer: keyPairSigner(await key, 'drill') };
    },
  };
}
export type RobotPrincipals = ReturnType<typeof robotPrincipals>;
