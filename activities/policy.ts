/**
 * The policy activities (recorded in the incident's history): the worker's policy for a
 * new incident, and its registry re-read at a gate (so a key revoked in firebreak.yaml is
 * refused on open incidents from their next gate on). Every refusal is logged with the claimed declarer, since a rejected incident is the only
 * other trace of it.
 */
import { buildPolicy, type PolicyRequest } from '../lib/policy/build.js';
import type { PolicyVerdict, RegistryRefresh } from '../lib/policy/types.js';
import type { ActivityDeps } from './deps.js';
import { registryOf } from './support/registry.js';

export function createPolicyActivities(deps: ActivityDeps) {
  return {
    async loadIncidentPolicy(req: PolicyRequest): Promise<PolicyVerdict> {
      const verdict = buildPolicy({ ...deps.config, registry: registryOf(deps) }, req, new Date().toISOString());
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
