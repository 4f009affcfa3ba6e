/**
 * createAuditActivities(deps, store): the workflow's hands on the audit log — append its
 * numbered entries (a checkpoint when asked; the signed result goes back into the incident's
 * history), archive a closed workflow's history.
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { ActivityDeps } from '../deps.js';
import { appendEntries, type AppendRequest, type AppendResult } from './append.js';
import { archiveHistory, type ArchiveRequest, type ArchiveResult } from './archive.js';
import type { AuditStore } from './store.js';

export interface AuditDeps extends ActivityDeps {
  /** The Temporal client histories are read through (default: the worker's, from the activity context). */
  temporal?: () => Client;
}

export function createAuditActivities(deps: AuditDeps, store: AuditStore) {
  const client = deps.temporal ?? (() => Context.current().client);
  return {
    async auditAppend(req: AppendRequest): Promise<AppendResult> {
      const result = await store.withClient((c) => appendEntries(c, req, store.signer(), () => new Date().toISOString()));
      if (result.appended) deps.logger.debug({ incidentId: req.incidentId, size: result.size, appended: result.appended }, 'audit: appended');
      return result;
    },
    async auditArchive(req: ArchiveRequest): Promise<ArchiveResult> {
      return archiveHistory(client(), await store.pool(), deps.config, store.signer(), req);
    },
  };
}

export { AuditStore } from './store.js';
export type { AppendRequest, AppendResult } from './append.js';
export type { ArchiveRequest, ArchiveResult } from './archive.js';
