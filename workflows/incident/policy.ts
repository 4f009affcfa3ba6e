/**
 * At start, before anything acts: the worker's policy for this incident, through a local
 * activity (so it is in the history). The worker builds it from its own config and runbooks
 * and verifies the signed declaration; a refusal rejects the incident with nothing done.
 */
import { declarationFactsOf } from '../../lib/policy/decisions.js';
import type { IncidentPolicy, PolicyVerdict } from '../../lib/policy/types.js';
import type { IncidentStatus } from '../definitions.js';
import { failureMessage, loadIncidentPolicy } from './proxies.js';
import type { IncidentRun } from './state.js';
import { rejectWith } from './validate.js';

/** The rejected status, or undefined once the policy is adopted. */
export async function adoptPolicy(run: IncidentRun): Promise<IncidentStatus | undefined> {
  const { input } = run;
  let policy: IncidentPolicy;
  let verdict: PolicyVerdict;
  try {
    verdict = await loadIncidentPolicy({
      facts: declarationFactsOf(input),
      clientRunbook: input.runbook,
      claimedDeclarer: input.declaredBy.user,
      declaration: input.declaration,
      // The worker's argument pre-flight in the same round trip (containment waits for both).
      preflight: { capabilities: input.capabilities ?? [], declaredAt: input.declaredAt },
    });
    if (!verdict.ok) return rejectWith(run, [{ step: '-', action: 'declare', message: verdict.problem }]);
    policy = verdict.policy;
  } catch (err) {
    return rejectWith(run, [{ step: '-', action: 'declare', message: `the worker could not load its policy: ${failureMessage(err)}` }]);
  }
  run.adopt(policy);
  run.preflight = verdict.preflight;
  run.loadingPolicy = false;
  return undefined;
}
