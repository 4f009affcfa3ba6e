/**
 * Who made a decision, as the workflow may believe it: verified from the signed statement
 * against the worker's registry (lib/identity/verify.ts, pure, in the sandbox). Validators
 * call `checkDecision` (refusing with a reason, no state change, logged with the claimed
 * actor: a refused update leaves no history); handlers call `takeDecision`, which trusts
 * what the validator accepted and spends the statement's nonce.
 *
 * Histories from before the worker's policy, and incidents on a development target, carry
 * no signatures: there the actor is what the front door said (marked unauthenticated).
 */
import * as wf from '@temporalio/workflow';
import { preferQuickFirstVerify } from '../../lib/identity/ed25519.js';
import { findKey, type Registry } from '../../lib/identity/registry.js';
import type { Statement } from '../../lib/identity/statement.js';
import { verifyDecision, type SignedStatement, type Via } from '../../lib/identity/verify.js';
import { decisionExpectation, type DecisionInput } from '../../lib/policy/decisions.js';
import { POLICY_LOADING, type Actor } from '../definitions.js';
import type { IncidentRun } from './state.js';

// Each workflow gets its own copy of this module (and of noble's tables): see ed25519.ts.
preferQuickFirstVerify();

export type DeciderVia = Via | 'unauthenticated';

export interface Decider {
  actor: Actor;
  via: DeciderVia;
  keyId?: string;
  signed?: SignedStatement;
}

interface Signed {
  actor: Actor;
  signed?: SignedStatement;
}

/** What verifying a decision needs to know about the incident (the incident workflow and the GDPR clock both have it). */
export interface DecisionContext {
  incidentId: string;
  mode: string;
  /** Absent: unauthenticated (a development target). */
  trust?: TrustContext;
  nonces: ReadonlySet<string>;
}

/** The parts of the worker's policy a verifier uses; the GDPR clock gets a copy in its input. */
export interface TrustContext {
  target: string;
  registry: Registry;
  skewMs: number;
  drillTarget: boolean;
}

export function verifySigned(ctx: DecisionContext, req: Signed, decision: DecisionInput): Decider {
  const trust = ctx.trust;
  if (!trust) return { actor: req.actor, via: 'unauthenticated' };
  const claimed = req.signed?.statement;
  if (!req.signed) {
    wf.log.warn('decision refused: unsigned', { incidentId: ctx.incidentId, kind: decision.kind, claimedActor: req.actor?.user });
    throw new Error(`target ${trust.target} requires signed decisions and this ${decision.kind} is not signed: create a key with \`firebreak keys init\` and have its public line added to the worker's identity.responders`);
  }
  const verdict = verifyDecision(req.signed, {
    registry: trust.registry,
    expect: { ...decisionExpectation(decision), incidentId: ctx.incidentId },
    now: new Date().toISOString(),
    skewMs: trust.skewMs,
    seenNonces: ctx.nonces,
    mode: ctx.mode,
    drillTarget: trust.drillTarget,
  });
  if (!verdict.ok) {
    wf.log.warn('decision refused', { incidentId: ctx.incidentId, kind: decision.kind, reason: verdict.reason, claimedResponder: claimed?.responder, claimedKey: claimed?.keyId, claimedActor: req.actor?.user });
    throw new Error(`${decision.kind} refused (${verdict.reason}): ${verdict.message}`);
  }
  return { actor: { user: verdict.responder, host: req.actor.host, via: req.actor.via }, via: verdict.via, keyId: verdict.keyId, signed: req.signed };
}

/** The trust context of an incident under the worker's policy (none on a development target). */
export function trustOf(run: IncidentRun): TrustContext | undefined {
  const p = run.policy;
  return p?.authenticated ? { target: p.target, registry: run.registry, skewMs: p.skewMs, drillTarget: p.drillTarget } : undefined;
}

export function checkDecision(run: IncidentRun, req: Signed, decision: DecisionInput): Decider {
  if (run.status.rejection) throw new Error('the incident was rejected before anything ran; declare it again');
  if (run.loadingPolicy) throw new Error(`${POLICY_LOADING}: try again in a moment`);
  return verifySigned({ incidentId: run.input.incidentId, mode: run.input.mode, trust: trustOf(run), nonces: run.nonces }, req, decision);
}

/** In a handler: the decider the validator accepted (validators do not run on replay; this does). */
export function takeDecision(run: IncidentRun, req: Signed, kind: DecisionInput['kind']): Decider {
  const d = takeSigned(trustOf(run), run.nonces, req);
  run.audit?.decision(d, kind);
  return d;
}

export function takeSigned(trust: TrustContext | undefined, nonces: Set<string>, req: Signed): Decider {
  if (!trust || !req.signed) return { actor: req.actor, via: 'unauthenticated' };
  const st = req.signed.statement;
  nonces.add(st.nonce);
  return { actor: { user: st.responder, host: req.actor.host, via: req.actor.via }, via: viaOf(trust.registry, st), keyId: st.keyId, signed: req.signed };
}

/** How a verified statement was made (the same rules verifyDecision applied). */
function viaOf(registry: Registry, st: Statement): Via {
  const owner = findKey(registry, st.keyId)?.owner;
  if (!owner || owner.type === 'responder') return 'personal';
  if (owner.service.kind === 'drill-robot') return 'drill-robot';
  return st.responder === owner.service.name ? 'service' : 'attested';
}
