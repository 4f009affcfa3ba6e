/**
 * The second check, where the worker acts: a process that can poll Firebreak's task queue
 * could run workflow tasks of its own and schedule activities directly, so every action that
 * changes a target re-checks the authorization it is given — the signed declaration (a
 * registered responder, a trusted runbook, this incident, target and mode) and, for a gated
 * step, the signed votes over exactly the arguments it is about to act with.
 */
import { ACTIONS, type ActionName } from '../lib/actions.js';
import { parseInstant } from '../lib/identity/time.js';
import { verifyDecision, type SignedStatement } from '../lib/identity/verify.js';
import { trustedRunbook } from '../lib/policy/build.js';
import { applyFloors } from '../lib/policy/floors.js';
import type { TargetConfig } from '../lib/config.js';
import type { ActionInput } from '../workflows/definitions.js';
import type { ActivityDeps } from './deps.js';
import { refused } from './support/failures.js';
import { registryOf } from './support/registry.js';

/** Every mutating step re-checks the same declaration: its signature is verified once per worker (bounded). */
const verified = new Map<string, boolean>();
const signatureCache = {
  get: (key: string) => verified.get(key),
  set: (key: string, good: boolean) => {
    if (verified.size >= 2_000) verified.clear();
    verified.set(key, good);
  },
};

/** Lifting and expiry restore what a step changed: a revoked declarer key must not strand containment. */
const RESTORING = /\.(undo|expiry)$/;

/** Safe from anyone: dropping bans whose end has passed is what time does anyway. */
const UNGUARDED: ReadonlySet<ActionName> = new Set(['network.expire_bans']);

export function checkAuthorized(deps: ActivityDeps, action: ActionName, input: ActionInput): void {
  if (!ACTIONS[action].mutates || UNGUARDED.has(action)) return;
  const target = deps.clients.target(input.target);
  if (target.development) return;
  const no = (why: string) => refused(`${action} (step ${input.stepId}) refused by the worker: ${why}; nothing was changed`);
  const declaration = input.authz?.declaration;
  const st = declaration?.statement;
  if (!declaration || !st || typeof st.at !== 'string' || parseInstant(st.at) === undefined) throw no(`no signed declaration came with it (target ${input.target} acts only on incidents a registered responder declared)`);
  if (st.incidentId !== input.incidentId) throw no(`the declaration is for incident ${String(st.incidentId)}, not ${input.incidentId}`);
  const restoring = RESTORING.test(input.stepId);
  const now = restoring ? st.at : new Date().toISOString();
  const facts = { incidentId: input.incidentId, runbook: String(st.extra?.runbook), runbookSha256: String(st.extra?.runbookSha256), target: input.target, mode: input.mode };
  // The full facts are not here: the statement's own hash is taken as given, its extra fields are checked.
  const verdict = verifyDecision(declaration, {
    registry: registryOf(deps),
    expect: { kind: 'declare', incidentId: input.incidentId, argsHash: st.argsHash },
    now,
    skewMs: Number.MAX_SAFE_INTEGER,
    seenNonces: new Set(),
    mode: input.mode,
    drillTarget: target.drillTarget && !target.production,
    signatureCache,
  });
  if (!verdict.ok) throw no(`declaration refused (${verdict.reason}): ${verdict.message}`);
  if (st.extra?.target !== input.target || st.extra?.mode !== input.mode) throw no(`the declaration is for target ${String(st.extra?.target)} in ${String(st.extra?.mode)} mode, not ${input.target} in ${input.mode}`);
  const runbook = trustedRunbook(deps.config, facts.runbook, facts.runbookSha256);
  if (!runbook.ok) throw no(runbook.problem);
  if (restoring || input.mode === 'dry-run') return;

  const doc = applyFloors(runbook.runbook.doc, target.policy.gates, verdict.via === 'service');
  const spec = Object.values(doc.phases).flat().find((s) => s.id === input.stepId);
  if (!spec || spec.action !== action) throw no(`runbook ${facts.runbook} has no step ${input.stepId} doing ${action}`);
  if (!spec.approval) return;
  checkVotes(deps, target, input, spec.approval, verdict.responder, no);
}

function checkVotes(deps: ActivityDeps, target: TargetConfig, input: ActionInput, approval: { count: number; group: string }, declarer: string, no: (why: string) => Error): void {
  if (!input.approvedHash) throw no(`step ${input.stepId} is gated and came without the hash its approvers signed`);
  const members = deps.config.approvers.groups[approval.group] ?? [];
  const counted = new Map<string, string>();
  const problems: string[] = [];
  for (const vote of input.authz?.votes ?? []) {
    const at = (vote as SignedStatement | undefined)?.statement?.at;
    const verdict = verifyDecision(vote, {
      registry: registryOf(deps),
      expect: { kind: 'approve', incidentId: input.incidentId, gate: input.stepId, argsHash: input.approvedHash },
      now: typeof at === 'string' && parseInstant(at) !== undefined ? new Date().toISOString() : '1970-01-01T00:00:00.000Z',
      skewMs: Number.MAX_SAFE_INTEGER,
      seenNonces: new Set(),
      mode: input.mode,
      drillTarget: target.drillTarget && !target.production,
      signatureCache,
    });
    if (!verdict.ok) problems.push(`${verdict.claimed?.responder ?? '?'}: ${verdict.reason}`);
    else if (verdict.responder === declarer) problems.push(`${verdict.responder}: declared the incident`);
    else if (verdict.via !== 'drill-robot' && !members.includes(verdict.responder)) problems.push(`${verdict.responder}: not in group ${approval.group}`);
    else counted.set(verdict.responder, verdict.via);
  }
  if (counted.size < approval.count) {
    throw no(`step ${input.stepId} needs ${approval.count} signed approval(s) from ${approval.group} over arguments ${input.approvedHash.slice(0, 12)}…, has ${counted.size}${problems.length ? ` (not counted: ${problems.join('; ')})` : ''}`);
  }
  if (target.policy.personalVote && ![...counted.values()].includes('personal')) throw no(`target ${input.target} requires at least one vote signed with a personal key`);
}
