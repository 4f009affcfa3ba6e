/** createActivities(deps): every action's activity, built once with injected clients. */
import type { ActivityDeps } from './deps.js';
import { createLockdownActivities } from './lockdown.js';
import { createReportActivities } from './report.js';

export function createActivities(deps: ActivityDeps) {
  return {
    ...createLockdownActivities(deps),
    ...createReportActivities(deps),
  };
}

export type { ActivityDeps } from './deps.js';
export { TargetClients } from './deps.js';
