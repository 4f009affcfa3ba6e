/**
 * What a runbook's steps will be called with, as far as it is known before
 * anything runs: arguments from params and incident fields resolve now;
 * arguments built from step outputs are deferred to the step itself.
 *
 * Pure: runs inside the Temporal workflow sandbox and in front doors.
 */
import { evalExpr, exprRefs, parseExpr } from './expr.js';
import { gdprClockStart } from './gdpr.js';
import { findRefs, resolveRefs, type RefContext } from './refs.js';
import { PHASES, type RunbookDoc } from './types.js';

export interface PlannedStep {
  id: string;
  action: string;
  /** Arguments that resolve from params and incident fields only. */
  args: Record<string, unknown>;
  /** Arguments built from step outputs: checked when the step runs. */
  deferred: string[];
}

export interface StepProblem {
  step: string;
  action: string;
  message: string;
}

/**
 * Steps that will (or may) run, with their resolvable arguments; a step whose `when:` is
 * already false is left out. A GDPR trigger that cannot start its clock is a problem too
 * (step `notice.gdpr`), so the incident is refused before anything acts.
 */
export function planSteps(doc: RunbookDoc, planCtx: Omit<RefContext, 'steps'> & { declaredAt?: string }): { steps: PlannedStep[]; problems: StepProblem[] } {
  const { declaredAt, ...ctx } = planCtx;
  const full: RefContext = { ...ctx, steps: {} };
  const steps: PlannedStep[] = [];
  const problems: StepProblem[] = [];
  for (const phase of PHASES) {
    for (const spec of doc.phases[phase]) {
      try {
        if (spec.when) {
          const expr = parseExpr(spec.when);
          const known = exprRefs(expr).every((r) => r.kind !== 'steps');
          if (known && !evalExpr(expr, full)) continue;
        }
        const args: Record<string, unknown> = {};
        const deferred: string[] = [];
        for (const [key, value] of Object.entries(spec.with)) {
          if (findRefs(value).some((r) => r.kind === 'steps')) deferred.push(key);
          else args[key] = resolveRefs(value, full);
        }
        steps.push({ id: spec.id, action: spec.action, args, deferred });
      } catch (err) {
        problems.push({ step: spec.id, action: spec.action, message: (err as Error).message });
      }
    }
  }
  try {
    // Without the declaration time only whether the trigger evaluates is checked (the latest
    // possible moment: no awareness is after it); with it, a future awareness is refused too.
    gdprClockStart(doc, ctx, declaredAt ?? new Date(8.64e15).toISOString());
  } catch (err) {
    problems.push({ step: 'notice.gdpr', action: 'notice', message: (err as Error).message });
  }
  return { steps, problems };
}
