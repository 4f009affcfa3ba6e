/**
 * Every hold on a target's shared containment (lockdown, read-only, user disables, bans), read
 * on the worker for `firebreak target check`; the front door judges each holder against
 * Temporal (lib/incidents/holds.ts). Reads only; a kind that cannot be read is a problem row.
 */
import type { HoldView } from '../../lib/holds.js';
import type { ActivityDeps } from '../deps.js';
import { listReadOnlyHolds } from '../database/holds.js';
import { listLockdownHolds } from '../lockdown.js';
import { listBanHolds } from '../network/holds.js';
import { listUserHolds } from '../tokens/user-holds.js';
import { errorLine } from '../support/failures.js';

/** Bans listed (those ending first): `bans list` shows them all; a bulk ban of 100,000 networks is not a check row. */
const BAN_LIMIT = 200;

export interface CollectedHolds {
  holds: HoldView[];
  /** `<kind>: <why it could not be read>`. */
  problems: string[];
}

export async function collectHolds(deps: ActivityDeps, target: string): Promise<CollectedHolds> {
  const { clients } = deps;
  const t = clients.target(target);
  const redis = clients.redis(target);
  const readers: Array<[string, () => Promise<HoldView[]>]> = [
    ['lockdown', () => listLockdownHolds(redis, t.redis)],
    ['bans', () => listBanHolds(redis, t.redis, { limit: BAN_LIMIT })],
  ];
  const pgc = t.postgres;
  if (pgc) {
    readers.push(['read-only', () => listReadOnlyHolds(clients, target)]);
    readers.push(['user disables', () => listUserHolds(clients.pg(target), pgc.userTable)]);
  }
  const holds: HoldView[] = [];
  const problems: string[] = [];
  for (const [kind, read] of readers) {
    try {
      holds.push(...(await read()));
    } catch (err) {
      problems.push(`${kind}: ${errorLine(err)}`);
    }
  }
  return { holds, problems };
}
