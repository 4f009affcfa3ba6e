/**
 * Up-front argument checks, one per action: what can be judged from the
 * arguments alone (and the target's ban policy when given). The front door
 * runs them before starting an incident; the worker's validation activity
 * runs them again with its own config, plus what needs its files and config.
 * Both judge with the action's schema (./schemas.ts), as every activity's entry does.
 */
import type { TargetConfig } from '../config-target.js';
import { argIssues, type ArgCheckContext } from './schemas.js';

export type { ArgCheckContext } from './schemas.js';

/** Every problem with a step's known arguments, one line each; empty when they are fine. Deferred arguments are not judged. */
export function argProblems(action: string, args: Record<string, unknown>, ctx: ArgCheckContext = {}): string[] {
  return argIssues(action, args, ctx).map((i) => i.message);
}

/** What a target's config adds to the checks: its ban policy and its app role. Front doors and the worker build it the same way. */
export function targetArgContext(targetName: string, target: TargetConfig): ArgCheckContext {
  return { banPolicy: { targetName, ...target.network }, ...(target.postgres && { appRole: target.postgres.appRole }) };
}
