/**
 * The policy activities (recorded in the incident's history): the worker's policy for a
 * new incident, and its registry re-read at a gate (so a key revoked in firebreak.yaml is
 * refused on open incidents from their next gate on). Every refusal is logged with the claimed declarer, since a rejected incident is the only
 * other trace of it.
 */
import { buildPolicy, type PolicyRequest } from '../lib/policy/build.js';
import { applyFloors } from '../lib/policy/floors.js';
import type { IncidentPolicy, PolicyVerdict, RegistryRefresh } from '../lib/policy/types.js';
import { planSteps, type StepProblem } from '../lib/runbook/plan.js';
import type { Mode } from '../workflows/definitions.js';
import { createValidateActivities } from './validate.js';
import type { ActivityDeps } from './deps.js';
import { registryOf } from './support/registry.js';

export function createPolicyActivities(deps: ActivityDeps) {
  const checks = createValidateActivities(deps);
  /** The steps as the workflow will plan them from this policy (the same pure code), checked on the worker. */
  const preflight = async (req: PolicyRequest, policy: IncidentPolicy): Promise<StepProblem[]> => {
    const { facts } = req;
    const doc = applyFloors(policy.runbook.doc, policy.gates, policy.declarer.via === 'service');
    const incident = { id: facts.incidentId, target: facts.target, mode: facts.mode, severity: facts.severity, declaredBy: policy.declarer.responder, capabilities: req.preflight?.capabilities ?? [] };
    const plan = planSteps(doc, { params: facts.params, incident, declaredAt: req.preflight?.declaredAt });
    return (await checks.validateIncidentArgs({ incidentId: facts.incidentId, target: facts.target, mode: facts.mode as Mode, steps: plan.steps })).problems;
  };
  return {
    async loadIncidentPolicy(req: PolicyRequest): Promise<PolicyVerdict> {
      const verdict = buildPolicy({ ...deps.config, registry: registryOf(deps) }, req, new Date().toISOString());
      if (verdict.ok && req.preflight) return { ...verdict, preflight: await preflight(req, verdict.policy) };
      if (!verdict.ok) {
        const claimed = req.declaration?.statement;
        deps.logger.warn({ incidentId: req.facts.incidentId, target: req.facts.target, claimedResponder: claimed?.responder ?? req.claimedDeclarer, claimedKey: claimed?.keyId, problem: verdict.problem }, 'declaration refused');
      }
      return verdict;
    },
    async refreshRegistry(): Promise<RegistryRefresh> {
      return { registry: registryOf(deps) };
    },
  };
}
