/**
 * Validation before anything acts: every step's known arguments checked with
 * the action's schema, this worker's target config and its files; at each
 * activity's entry, its arguments checked with the same schema; and, before a
 * gate opens, the effective arguments the approvers are shown.
 */
import { ApplicationFailure } from '@temporalio/common';
import { actionSpec, type ActionName } from '../lib/actions.js';
import { argProblems, targetArgContext } from '../lib/args/checks.js';
import { effectiveArgs } from '../lib/args/effective.js';
import { argIssues, refusalMessage } from '../lib/args/schemas.js';
import type { TargetConfig } from '../lib/config.js';
import { gateHash } from '../lib/policy/decisions.js';
import { argsHash } from '../lib/canonical.js';
import type { PlannedStep, StepProblem } from '../lib/runbook/plan.js';
import { FailureTypes, type ActionInput, type Mode } from '../workflows/definitions.js';
import type { ActivityDeps } from './deps.js';
import { assertModeAllowed } from './support/mode.js';
import { badInput } from './support/failures.js';
import { checkBanInput } from './network/index.js';
import { inputFileReadable } from './support/input-file.js';
import { inputFileProblem } from '../lib/args/rules.js';

export interface ValidateArgsInput {
  incidentId: string;
  target: string;
  mode: Mode;
  steps: PlannedStep[];
}

export interface EffectiveArgsInput {
  target: string;
  action: string;
  args: Record<string, unknown>;
}

/** Target config sections an action cannot work without. */
const NEEDS: Record<string, Array<keyof TargetConfig>> = {
  'database.read_only': ['postgres'],
  'database.read_write': ['postgres'],
  'tokens.disable_users': ['postgres'],
  'tokens.enable_users': ['postgres'],
  'secrets.rotate_db_password': ['postgres'],
  'deploy.verify_commit': ['github'],
  'deploy.redeploy': ['github'],
};

/** What only this worker can judge: its target config and files. */
async function workerProblems(step: PlannedStep, target: TargetConfig, targetName: string, inputsDir: string): Promise<string[]> {
  const out: string[] = [];
  for (const section of NEEDS[step.action] ?? []) {
    if (target[section] === undefined) out.push(`target "${targetName}" has no ${section} section in config`);
  }
  const args = step.args;
  // The runbook loader refuses these already; a plan that carries one did not come from a loaded runbook.
  const spec = actionSpec(step.action);
  for (const name of [...Object.keys(args), ...step.deferred]) {
    if (spec && Object.hasOwn(spec.args, name) && spec.args[name]?.internal) out.push(`${name} is set only by Firebreak itself (an undo's recorded state), never by a runbook`);
  }
  if (step.action === 'deploy.redeploy' && target.github && !target.github.deployWorkflow) {
    out.push(`target "${targetName}": github.deployWorkflow is not set (the workflow file to dispatch, e.g. deploy.yml)`);
  }
  if (step.action === 'deploy.probe' && args.url === undefined && !step.deferred.includes('url') && !target.app) {
    out.push(`no url argument and target "${targetName}" has no app.url in config`);
  }
  if (step.action === 'network.ban_ips' && !step.deferred.length) out.push(...(await checkBanInput(target, targetName, args, inputsDir)).problems);
  if (step.action === 'tokens.revoke' && typeof args.jtis_file === 'string' && !inputFileProblem('jtis_file', args.jtis_file)) {
    const problem = await inputFileReadable(inputsDir, 'jtis_file', args.jtis_file);
    if (problem) out.push(problem);
  }
  return out;
}

function banPolicyOf(target: TargetConfig, targetName: string) {
  return { targetName, ...target.network };
}

export function createValidateActivities(deps: ActivityDeps) {
  const { clients, logger } = deps;
  return {
    /** Every problem with the incident's known step arguments on this worker; empty when it may start. */
    async validateIncidentArgs(input: ValidateArgsInput): Promise<{ problems: StepProblem[] }> {
      const problems: StepProblem[] = [];
      let target: TargetConfig;
      try {
        target = clients.target(input.target);
        assertModeAllowed(target, input.target, input.mode);
      } catch (err) {
        if (err instanceof ApplicationFailure) return { problems: [{ step: '-', action: '-', message: err.message }] };
        throw err;
      }
      const context = targetArgContext(input.target, target);
      for (const step of input.steps) {
        const found = new Set(argProblems(step.action, step.args, { ...context, deferred: step.deferred }));
        for (const p of await workerProblems(step, target, input.target, deps.config.inputsDir)) found.add(p);
        for (const message of found) problems.push({ step: step.id, action: step.action, message });
      }
      if (problems.length) logger.warn({ incidentId: input.incidentId, problems: problems.length }, 'incident arguments rejected');
      return { problems };
    },

    /** The arguments a gated step will act with (runbook + target config), shown on its gate. */
    async effectiveStepArgs(input: EffectiveArgsInput): Promise<Record<string, unknown>> {
      return effectiveArgs(input.action, input.args, clients.target(input.target));
    },
  };
}

/** Refuse an approved step whose effective arguments changed (e.g. the worker's config) since the approval. */
export function checkApproved(deps: ActivityDeps, input: ActionInput): void {
  if (!input.approvedHash) return;
  const now = effectiveArgs(input.action, input.args, deps.clients.target(input.target));
  // Gates of incidents under the worker's policy bind the incident id too (lib/policy/decisions.ts).
  const hash = gateHash(input.incidentId, input.action, now);
  if (hash !== input.approvedHash && argsHash(input.action, now) !== input.approvedHash) {
    throw ApplicationFailure.create({
      type: FailureTypes.ApprovalStale,
      nonRetryable: true,
      message:
      `${input.action}: the arguments changed since the approval (approved ${input.approvedHash.slice(0, 12)}…, now ${hash.slice(0, 12)}…: ${JSON.stringify(now)}); nothing was changed. Abort, or retry to open the gate again with what it will now act with`,
    });
  }
}

/** Refuse arguments the action's schema rejects, before the activity touches anything: BadInput naming every problem and its path. */
export function checkArgs(deps: ActivityDeps, action: ActionName, input: ActionInput): void {
  const target = deps.clients.target(input.target);
  const ctx = action === 'network.ban_ips' ? { banPolicy: banPolicyOf(target, input.target) } : action === 'secrets.rotate_db_password' && target.postgres ? { appRole: target.postgres.appRole } : {};
  const issues = argIssues(action, input.args, ctx);
  if (issues.length) throw badInput(refusalMessage(action, issues), { problems: issues.slice(0, 100), count: issues.length });
}
