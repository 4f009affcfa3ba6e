/**
 * database.read_only / database.read_write: the guide's "database lockdown".
 *
 * `default_transaction_read_only` alone is not a security control (any client can SET it
 * off), so read-only means revoking the app role's write privileges too, and proving it
 * with a refused write; read_write restores exactly what read_only recorded.
 */
import type { ActionInput, ActionResult } from '../../workflows/definitions.js';
import type { ActivityDeps } from '../deps.js';
import { databaseReadOnly } from './read-only.js';
import { databaseReadWrite } from './read-write.js';

export function createDatabaseActivities(deps: ActivityDeps) {
  return {
    /** Revoke the app role's writes, default its sessions to read-only, end its open sessions, prove a write is refused. */
    async databaseReadOnly(input: ActionInput): Promise<ActionResult> {
      return databaseReadOnly(deps, input);
    },

    /** Restore exactly the grants and the read-only default recorded by database.read_only, and prove the app can write. */
    async databaseReadWrite(input: ActionInput): Promise<ActionResult> {
      return databaseReadWrite(deps, input);
    },
  };
}
