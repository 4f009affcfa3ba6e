/**
 * The declaration of a drill, made on the worker when the drill fires: the worker's runbook
 * and parameter rules (the same prepareDeclaration every front door uses), declared in
 * `drill` mode by a robot whose key the worker holds. The incident's own policy check then
 * verifies that robot like any declarer: valid only in a drill on a drill target.
 */
import { scheduledDrillRefusal } from '../../lib/config-drills.js';
import { InvalidArgumentsError, UsageError } from '../../lib/errors.js';
import { prepareDeclaration } from '../../lib/incidents/declare.js';
import { signDeclaration } from '../../lib/incidents/sign.js';
import type { DrillInput, PreparedDrill } from '../../workflows/drill-definitions.js';
import type { ActivityDeps } from '../deps.js';
import { badInput, errorLine, refused } from '../support/failures.js';
import type { RobotPrincipals } from './robots.js';

export function createPrepare(deps: ActivityDeps, robots: RobotPrincipals) {
  return async function drillPrepare(drill: DrillInput): Promise<PreparedDrill> {
    const target = deps.clients.target(drill.target);
    const refusal = scheduledDrillRefusal(target, drill.target);
    if (refusal) throw refused(refusal);
    const [declarer, ...approvers] = robots.names();
    if (!declarer || !approvers.length) throw refused(`this worker has ${declarer ? 'one drill robot' : 'no drill robots'} (drills.robots): a drill needs one to declare and another to approve`);
    const actor = await robots.principal(declarer);
    let prepared;
    try {
      prepared = prepareDeclaration(deps.config, { runbook: drill.runbook, params: drill.params, mode: 'drill', target: drill.target, actor, summary: `drill${drill.scheduleId ? ` (schedule ${drill.scheduleId})` : ''}` });
    } catch (err) {
      if (err instanceof UsageError || err instanceof InvalidArgumentsError) throw badInput(`drill of ${drill.runbook} on ${drill.target}: ${errorLine(err)}`);
      throw err;
    }
    const declaration = await signDeclaration(actor, prepared.input);
    const d = deps.config.drills;
    return {
      input: { ...prepared.input, ...(declaration && { declaration }) },
      settings: { approveAfterMs: d.approveAfter, timeBudgetMs: d.timeBudget, healthEveryMs: d.healthEvery, pollMs: 500, declarer, approvers },
    };
  };
}
