/**
 * A front door's side of signed decisions: the statement for a decision, made by the
 * principal's signer over exactly what the workflow will expect (lib/policy/decisions.ts).
 * Without a signer the request goes unsigned: fine on a development target, refused on
 * every other by the workflow, which is the only judge.
 */
import type { SignedStatement } from '../identity/verify.js';
import { decisionExpectation, declarationExtra, declarationFactsOf, declarationHash, type DecisionInput } from '../policy/decisions.js';
import type { Actor, IncidentInput } from '../../workflows/definitions.js';
import type { Principal } from './types.js';

/** The display actor (never the signer object) and the signed statement, for an update's input. */
export async function signDecision(p: Principal, incidentId: string, d: DecisionInput): Promise<{ actor: Actor; signed?: SignedStatement }> {
  const actor = actorOf(p);
  if (!p.signer) return { actor };
  const e = decisionExpectation(d);
  const signed = await p.signer.sign({
    kind: e.kind,
    incidentId,
    responder: p.user,
    ...(e.gate !== undefined && { gate: e.gate }),
    ...(e.step !== undefined && { step: e.step }),
    ...(e.argsHash && { argsHash: e.argsHash }),
  });
  return { actor, signed };
}

export function actorOf(p: Principal): Actor {
  return { user: p.user, host: p.host, via: p.via };
}

/** The declaration statement for a prepared incident. */
export async function signDeclaration(p: Principal, input: IncidentInput): Promise<SignedStatement | undefined> {
  if (!p.signer) return undefined;
  const facts = declarationFactsOf(input);
  return p.signer.sign({ kind: 'declare', incidentId: input.incidentId, responder: p.user, argsHash: declarationHash(facts), extra: declarationExtra(facts) });
}
