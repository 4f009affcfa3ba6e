/** createActivities(deps): every action's activity, built once with injected clients. */
import { createDatabaseActivities } from './database/index.js';
import { createDeployActivities } from './deploy/index.js';
import { createEdgeFanoutActivities } from './edge/index.js';
import { createEvidenceActivities } from './evidence/index.js';
import type { ActivityDeps } from './deps.js';
import { createBanInspection } from './inspect/bans.js';
import { createTargetInspection } from './inspect/target.js';
import { createLockdownActivities } from './lockdown.js';
import { createNetworkActivities } from './network/index.js';
import { createNotifyActivities } from './notify/index.js';
import { createReportActivities } from './report/index.js';
import { createSecretActivities } from './secrets/index.js';
import { createTokenActivities } from './tokens/index.js';
import { checkAuthorized } from './authorize.js';
import { inTargetScope } from './support/outages.js';
import { createPolicyActivities } from './policy.js';
import { checkApproved, checkArgs, createValidateActivities } from './validate.js';
import { ACTIONS, type ActionName, type ActionSpec, type ActivityName } from '../lib/actions.js';
import type { ActionInput, ActionResult } from '../workflows/definitions.js';

type ActionFn = (input: ActionInput) => Promise<ActionResult>;

export function createActivities(deps: ActivityDeps) {
  const activities = {
    ...createValidateActivities(deps),
    ...createPolicyActivities(deps),
    ...createLockdownActivities(deps),
    ...createTokenActivities(deps),
    ...createNetworkActivities(deps),
    ...createDatabaseActivities(deps),
    ...createDeployActivities(deps),
    ...createSecretActivities(deps),
    ...createEvidenceActivities(deps),
    ...createReportActivities(deps),
    ...createNotifyActivities(deps),
    ...createEdgeFanoutActivities(deps),
  };
  // Every action judges its arguments with the action's schema, re-checks the signed
  // authorization it came with, then refuses when what approvers approved is no longer
  // what it would act with.
  const table: Record<ActivityName, ActionFn> = activities;
  for (const [action, spec] of Object.entries<ActionSpec>(ACTIONS) as Array<[ActionName, ActionSpec]>) {
    if (spec.human) continue;
    const fn = table[spec.activity];
    table[spec.activity] = async (input: ActionInput) => {
      checkArgs(deps, action, input);
      checkAuthorized(deps, action, input);
      checkApproved(deps, input);
      return inTargetScope(input.target, () => fn(input));
    };
  }
  return activities;
}

/** Read-only looks at a target for front doors (InspectWorkflow); not runbook actions, so not in the catalog. */
export function createInspectionActivities(deps: ActivityDeps) {
  return {
    ...createBanInspection(deps),
    ...createTargetInspection(deps),
  };
}

export type { ActivityDeps } from './deps.js';
export { TargetClients } from './deps.js';
