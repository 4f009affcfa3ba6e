/** Cross-reference checks: actions and their arguments, `{{ }}` references, `when:` conditions. */
import type { ActionCatalog, ArgSpec } from '../actions.js';
import { ExprSyntaxError, exprRefs, parseExpr } from './expr.js';
import type { Expr } from './expr.js';
import { INCIDENT_FIELDS, RefSyntaxError, findRefs, soleRef } from './refs.js';
import type { Ref } from './refs.js';
import { describeType, matchesType } from './schema.js';
import type { DocPath, RawProblem } from './schema.js';
import type { StepEntry, StepGraph } from './graph.js';
import type { GdprTrigger, ParamSpec } from './types.js';

export interface CheckContext {
  actions: ActionCatalog;
  /** Params whose spec parsed. */
  params: Record<string, ParamSpec>;
  /** Every declared param name, including ones whose spec is invalid. */
  paramNames: Set<string>;
  graph: StepGraph;
  problems: RawProblem[];
}

/** Check every structurally valid step. */
export function checkSteps(ctx: CheckContext): void {
  for (const entry of ctx.graph.steps) if (entry.spec) checkStep(entry, ctx);
}

function checkStep(entry: StepEntry, ctx: CheckContext): void {
  const spec = entry.spec;
  if (!spec) return;
  const action = Object.prototype.hasOwnProperty.call(ctx.actions, spec.action) ? ctx.actions[spec.action] : undefined;
  if (!action) {
    const known = Object.keys(ctx.actions).sort().join(', ');
    ctx.problems.push({ path: [...entry.path, 'action'], message: `unknown action '${spec.action}' (known: ${known})` });
  }
  for (const [key, value] of Object.entries(spec.with)) {
    const path = [...entry.path, 'with', key];
    const refsOk = checkRefsIn(value, entry, path, ctx);
    if (!action) continue;
    const arg = Object.prototype.hasOwnProperty.call(action.args, key) ? action.args[key] : undefined;
    if (!arg) {
      const accepted = Object.keys(action.args).filter((name) => !action.args[name]?.internal);
      const hint = accepted.length > 0 ? `accepts: ${accepted.join(', ')}` : 'takes no arguments';
      ctx.problems.push({ path, at: 'key', message: `unknown argument '${key}' for action ${spec.action} (${hint})` });
    } else if (arg.internal) {
      // An undo's prior state comes from the result of the step it undoes; one a runbook wrote could grant anything.
      ctx.problems.push({ path, at: 'key', message: `argument '${key}' of ${spec.action} is set only by Firebreak itself (an undo's recorded state); a runbook or its params cannot set it` });
    } else if (refsOk) {
      checkArgValue(value, arg, path, ctx);
    }
  }
  for (const [name, arg] of Object.entries(action?.args ?? {})) {
    if (arg.required && !(name in spec.with)) {
      ctx.problems.push({ path: [...entry.path, 'with', name], message: `missing required argument '${name}' for action ${spec.action}` });
    }
  }
  if (spec.when !== undefined) checkWhen(spec.when, entry, [...entry.path, 'when'], ctx);
}

/** Report malformed or dangling references in `value`; false if any. */
function checkRefsIn(value: unknown, entry: StepEntry, path: DocPath, ctx: CheckContext): boolean {
  let refs: Ref[];
  try {
    refs = findRefs(value);
  } catch (e) {
    if (!(e instanceof RefSyntaxError)) throw e;
    ctx.problems.push({ path, message: e.message });
    return false;
  }
  const before = ctx.problems.length;
  for (const ref of refs) {
    const why = refProblem(ref, entry, ctx);
    if (why) ctx.problems.push({ path, message: `{{ ${ref.raw} }}: ${why}` });
  }
  return ctx.problems.length === before;
}

function refProblem(ref: Ref, entry: StepEntry, ctx: CheckContext): string | undefined {
  if (ref.kind === 'params') {
    if (ctx.paramNames.has(ref.name)) return undefined;
    return `unknown param '${ref.name}' (declared: ${[...ctx.paramNames].sort().join(', ') || 'none'})`;
  }
  if (ref.kind === 'incident') {
    if ((INCIDENT_FIELDS as readonly string[]).includes(ref.name)) return undefined;
    return `unknown incident field '${ref.name}' (known: ${INCIDENT_FIELDS.join(', ')})`;
  }
  return ctx.graph.orderProblem(entry, ref.name);
}

function checkArgValue(value: unknown, arg: ArgSpec, path: DocPath, ctx: CheckContext): void {
  if (typeof value === 'string') {
    const ref = soleRef(value);
    if (ref) return refTypeProblem(ref, arg.type, arg.enum, path, ctx);
    if (findRefs(value).length > 0) {
      if (arg.type !== 'string') ctx.problems.push({ path, message: `text with references is a string; expected ${arg.type}` });
      return;
    }
  }
  if (arg.type === 'string[]' && Array.isArray(value)) {
    value.forEach((item, i) => checkArgValue(item, { ...arg, type: 'string' }, [...path, i], ctx));
    return;
  }
  if (!matchesType(arg.type, value)) {
    ctx.problems.push({ path, message: `expected ${arg.type}, got ${describeType(value)}` });
  } else if (arg.enum && typeof value === 'string' && !arg.enum.includes(value)) {
    ctx.problems.push({ path, message: `${JSON.stringify(value)} is not one of: ${arg.enum.join(', ')}` });
  }
}

/** A value that is one reference must carry the argument's type. Step outputs are untyped. */
function refTypeProblem(ref: Ref, type: ArgSpec['type'], allowed: string[] | undefined, path: DocPath, ctx: CheckContext): void {
  const fail = (message: string): void => void ctx.problems.push({ path, message: `{{ ${ref.raw} }}: ${message}` });
  if (ref.kind === 'incident') {
    if (type !== 'string') fail(`incident fields are strings; expected ${type}`);
    return;
  }
  if (ref.kind !== 'params') return;
  const p = ctx.params[ref.name];
  if (!p) return;
  if (p.type !== type && !(p.type === 'integer' && type === 'number')) return fail(`param '${ref.name}' is ${p.type}; expected ${type}`);
  const outside = allowed && p.enum ? p.enum.filter((v) => !allowed.includes(v)) : [];
  if (outside.length > 0) fail(`param '${ref.name}' allows ${outside.map((v) => JSON.stringify(v)).join(', ')}, not accepted here (one of: ${allowed?.join(', ')})`);
}

function checkWhen(src: string, entry: StepEntry, path: DocPath, ctx: CheckContext): void {
  const expr = checkCondition(src, path, (ref) => refProblem(ref, entry, ctx), ctx.problems);
  if (expr) checkInOperands(expr, path, ctx);
}

/** Parse a condition and judge each reference it makes; the parsed condition, or undefined when it does not parse. */
function checkCondition(src: string, path: DocPath, refWhy: (ref: Ref) => string | undefined, problems: CheckContext['problems']): Expr | undefined {
  let expr: Expr;
  try {
    expr = parseExpr(src);
  } catch (e) {
    if (!(e instanceof ExprSyntaxError)) throw e;
    problems.push({ path, message: `invalid condition: ${e.reason} (column ${e.column} of the condition)` });
    return undefined;
  }
  for (const ref of exprRefs(expr)) {
    const why = refWhy(ref);
    if (why) problems.push({ path, message: `${ref.raw}: ${why}` });
  }
  return expr;
}

/** The right side of `in` must be able to hold a list. */
function checkInOperands(expr: Expr, path: DocPath, ctx: CheckContext): void {
  if (expr.type === 'not') return checkInOperands(expr.operand, path, ctx);
  if (expr.type !== 'and' && expr.type !== 'or' && expr.type !== 'cmp') return;
  checkInOperands(expr.left, path, ctx);
  checkInOperands(expr.right, path, ctx);
  if (expr.type !== 'cmp' || expr.op !== 'in') return;
  const r = expr.right;
  const p = r.type === 'ref' && r.ref.kind === 'params' ? ctx.params[r.ref.name] : undefined;
  const notList = r.type === 'literal' || r.type === 'not' || r.type === 'and' || r.type === 'or' || r.type === 'cmp' || (r.type === 'ref' && r.ref.kind === 'incident' && r.ref.name !== 'capabilities') || (p && p.type !== 'string[]');
  if (notList) ctx.problems.push({ path, message: `invalid condition: the right side of 'in' (column ${r.column}) must be a list` });
}

/**
 * The runbook's GDPR trigger: conditions and the awareness time may use params and
 * incident fields only (the clock starts at declaration, before any step runs).
 */
export function checkNotice(trigger: GdprTrigger | undefined, ctx: Pick<CheckContext, 'params' | 'paramNames' | 'problems'>): void {
  if (!trigger) return;
  const base = ['notice', 'gdpr'];
  const declaredOnly = (ref: Ref): string | undefined => {
    if (ref.kind === 'steps') return 'the clock starts when the incident is declared, before any step runs: use params or incident fields';
    if (ref.kind === 'incident') return (INCIDENT_FIELDS as readonly string[]).includes(ref.name) ? undefined : `unknown incident field '${ref.name}' (known: ${INCIDENT_FIELDS.join(', ')})`;
    return ctx.paramNames.has(ref.name) ? undefined : `unknown param '${ref.name}' (declared: ${[...ctx.paramNames].sort().join(', ') || 'none'})`;
  };
  for (const [key, src] of [['personal_data', trigger.personalData], ['high_risk', trigger.highRisk]] as const) {
    if (src === undefined) continue;
    checkCondition(src, [...base, key], declaredOnly, ctx.problems);
  }
  if (trigger.awareAt === undefined) return;
  const path = [...base, 'aware_at'];
  let refs: Ref[];
  try {
    refs = findRefs(trigger.awareAt);
  } catch (e) {
    if (!(e instanceof RefSyntaxError)) throw e;
    ctx.problems.push({ path, message: e.message });
    return;
  }
  for (const ref of refs) {
    const why = declaredOnly(ref);
    if (why) ctx.problems.push({ path, message: `{{ ${ref.raw} }}: ${why}` });
  }
  const sole = soleRef(trigger.awareAt);
  const p = sole?.kind === 'params' ? ctx.params[sole.name] : undefined;
  if (p && p.type !== 'string') ctx.problems.push({ path, message: `{{ ${sole?.raw ?? ''} }}: param '${sole?.name ?? ''}' is ${p.type}; expected string (an ISO time)` });
  if (!refs.length && trigger.awareAt.trim() && Number.isNaN(Date.parse(trigger.awareAt))) ctx.problems.push({ path, message: `"${trigger.awareAt}" is not an ISO time` });
}
