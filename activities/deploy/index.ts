/**
 * Phase III: redeploy a verified commit, then probe the live app.
 * - `deploy.verify_commit` (`verify-commit.ts`): signed and verified, on the
 *   protected branch, green and (optionally) older than a cut-off.
 * - `deploy.redeploy` (`redeploy.ts`): dispatch the deploy workflow for it and
 *   wait for the run, resuming the same run after a retry.
 * - `deploy.probe` (`probe.ts`, checks in `probe-checks.ts`/`probe-headers.ts`):
 *   the guide's production checklist against the live app, read-only.
 */
import type { ActivityDeps } from '../deps.js';
import type { DeployOptions } from './common.js';
import { createProbeActivities } from './probe.js';
import { createRedeployActivities } from './redeploy.js';
import { createVerifyCommitActivities } from './verify-commit.js';

export type { DeployClock, DeployOptions } from './common.js';
export type { RuleResult } from './verify-commit.js';
export { createProbeActivities } from './probe.js';

export function createDeployActivities(deps: ActivityDeps, options: DeployOptions = {}) {
  return {
    ...createVerifyCommitActivities(deps, options),
    ...createRedeployActivities(deps, options),
    ...createProbeActivities(deps),
  };
}
