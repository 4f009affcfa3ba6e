/**
 * What each signed decision is bound to, in one place: the CLI (and every front door)
 * signs exactly these fields, the workflow's validators expect exactly these, and the
 * worker's activities re-check the declaration and votes with them. Pure.
 */
import { canonicalJson, sha256Hex } from '../canonical.js';
import type { StatementKind } from '../identity/statement.js';
import type { Expectation } from '../identity/verify.js';
import type { ParamValue, Severity } from '../runbook/types.js';

/** The parts of an incident's input a declaration covers (IncidentInput has them). */
export interface DeclarationInput {
  incidentId: string;
  runbook: { doc: { name: string }; sha256: string };
  params: Record<string, ParamValue>;
  severity: Severity;
  mode: string;
  target: string;
  summary?: string;
  dedupKey?: string;
}

/** Everything a declaration decides; its hash is the declaration statement's `argsHash`. */
export interface DeclarationFacts {
  incidentId: string;
  runbook: string;
  runbookSha256: string;
  params: Record<string, ParamValue>;
  severity: Severity;
  mode: string;
  target: string;
  summary?: string;
  dedupKey?: string;
}

/** The facts of an incident's input, as its declaration signs them. */
export function declarationFactsOf(input: DeclarationInput): DeclarationFacts {
  return {
    incidentId: input.incidentId,
    runbook: input.runbook.doc.name,
    runbookSha256: input.runbook.sha256,
    params: input.params,
    severity: input.severity,
    mode: input.mode,
    target: input.target,
    summary: input.summary,
    dedupKey: input.dedupKey,
  };
}

export function declarationHash(f: DeclarationFacts): string {
  return sha256Hex(canonicalJson({ ...f, summary: f.summary ?? null, dedupKey: f.dedupKey ?? null }));
}

/** The declaration statement's extra fields: what an activity re-checks without the whole input. */
export function declarationExtra(f: DeclarationFacts): Record<string, string> {
  return { runbook: f.runbook, runbookSha256: f.runbookSha256, target: f.target, mode: f.mode };
}

/** The hash a gate's votes are bound to: the action, its resolved arguments and the incident. */
export function gateHash(incidentId: string, action: string, args: Record<string, unknown>): string {
  return sha256Hex(canonicalJson({ action, args, incidentId }));
}

const digest = (value: Record<string, unknown>): string => sha256Hex(canonicalJson(value));

/** The inputs of each kind of decision (besides the gate/step it names). */
export type DecisionInput =
  | { kind: 'approve'; gate: string; argsHash: string }
  | { kind: 'resolve'; gate: string; argsHash: string }
  | { kind: 'abort'; reason: string }
  | { kind: 'note'; text: string }
  | { kind: 'retry' }
  | { kind: 'override'; step: string; reason: string }
  | { kind: 'confirm' | 'waive'; step: string; item: string; note?: string }
  | { kind: 'personal-data'; awareAt?: string; highRisk?: boolean }
  | { kind: 'notice-sent'; at?: string; reference?: string };

/** What the statement of a decision must say (the incident id aside). */
export function decisionExpectation(d: DecisionInput): Omit<Expectation, 'incidentId'> & { kind: StatementKind } {
  switch (d.kind) {
    case 'approve':
    case 'resolve':
      return { kind: d.kind, gate: d.gate, argsHash: d.argsHash };
    case 'abort':
      return { kind: 'abort', argsHash: digest({ reason: d.reason }) };
    case 'note':
      return { kind: 'note', argsHash: digest({ text: d.text }) };
    case 'retry':
      return { kind: 'retry' };
    case 'override':
      return { kind: 'override', step: d.step, argsHash: digest({ reason: d.reason }) };
    case 'confirm':
    case 'waive':
      return { kind: d.kind, step: d.step, argsHash: digest({ item: d.item, note: d.note ?? null }) };
    case 'personal-data':
      return { kind: 'personal-data', argsHash: digest({ awareAt: d.awareAt ?? null, highRisk: Boolean(d.highRisk) }) };
    case 'notice-sent':
      return { kind: 'notice-sent', argsHash: digest({ at: d.at ?? null, reference: d.reference ?? null }) };
  }
}
