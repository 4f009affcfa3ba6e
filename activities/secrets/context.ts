/** What every secret rotation acts with: the worker's deps and Firebreak's own database. */
import type { ActivityDeps } from '../deps.js';
import type { FirebreakDb } from '../support/firebreak-db.js';

export interface SecretsContext {
  deps: ActivityDeps;
  db: FirebreakDb;
}
