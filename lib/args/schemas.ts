/**
 * One zod schema per action's arguments, built from the catalog's ArgSpecs and
 * the action's own rules (./action-rules.ts). The front door, the worker's
 * pre-flight validation and every activity's entry judge arguments with it.
 * Node side only: zod never enters the workflow bundle.
 */
import { z } from 'zod';
import { ACTIONS, isActionName, type ActionName, type ArgSpec } from '../actions.js';
import { ACTION_RULES, type ArgCheckContext } from './action-rules.js';
import { specField } from './fields.js';

export type { ArgCheckContext } from './action-rules.js';

interface ArgTypes {
  string: string;
  integer: number;
  number: number;
  boolean: boolean;
  'string[]': string[];
  object: Record<string, unknown>;
}
type ValueOf<S extends ArgSpec> = S extends { enum: readonly (infer E)[] } ? E : ArgTypes[S['type']];
type Specs<A extends ActionName> = (typeof ACTIONS)[A]['args'];
type RequiredKeys<R> = { [K in keyof R]: R[K] extends { required: true } ? K : never }[keyof R];

/** The arguments of action `A` once its schema accepted them. */
export type ArgsOf<A extends ActionName> = {
  [K in RequiredKeys<Specs<A>>]: Specs<A>[K] extends ArgSpec ? ValueOf<Specs<A>[K]> : never;
} & {
  [K in Exclude<keyof Specs<A>, RequiredKeys<Specs<A>>>]?: Specs<A>[K] extends ArgSpec ? ValueOf<Specs<A>[K]> : never;
};

/** One problem with an action's arguments: where (`['addresses', 3]`) and what, in words that name the argument. */
export interface ArgIssue {
  path: Array<string | number>;
  message: string;
}

function build(action: ActionName, ctx: ArgCheckContext): z.ZodType {
  const rules = ACTION_RULES[action];
  const deferred = ctx.deferred ?? [];
  const shape: Record<string, z.ZodType> = {};
  for (const [name, spec] of Object.entries<ArgSpec>(ACTIONS[action].args)) {
    const field = rules?.fields?.[name] ?? specField(name, spec);
    shape[name] = spec.required && !deferred.includes(name) ? field : field.optional();
  }
  const object = z.strictObject(shape);
  const across = rules?.across;
  if (!across) return object;
  return object.check((payload) => {
    for (const issue of across(payload.value, { ...ctx, clean: payload.issues.length === 0 })) {
      payload.issues.push({ code: 'custom', message: issue.message, path: issue.path, input: payload.value, params: { involves: issue.involves ?? [] } });
    }
  });
}

const plain = new Map<ActionName, z.ZodType>();

/** The schema of `action`'s arguments; the context adds the target's ban policy and app role, and leaves deferred arguments out. */
export function actionArgsSchema<A extends ActionName>(action: A, ctx: ArgCheckContext = {}): z.ZodType<ArgsOf<A>> {
  const contextFree = !ctx.banPolicy && !ctx.deferred?.length && ctx.appRole === undefined;
  let schema = contextFree ? plain.get(action) : undefined;
  if (!schema) {
    schema = build(action, ctx);
    if (contextFree) plain.set(action, schema);
  }
  return schema as z.ZodType<ArgsOf<A>>;
}

/** Every problem with a step's known arguments, each once (the catalog's argument order, then rules across arguments); empty when they are fine. */
export function argIssues(action: string, args: Record<string, unknown>, ctx: ArgCheckContext = {}): ArgIssue[] {
  if (!isActionName(action)) return [{ path: [], message: `unknown action ${action}` }];
  const result = actionArgsSchema(action, ctx).safeParse(args);
  if (result.success) return [];
  const deferred = ctx.deferred ?? [];
  const out: ArgIssue[] = [];
  const seen = new Set<string>();
  const add = (path: PropertyKey[], message: string): void => {
    if (seen.has(message)) return;
    seen.add(message);
    out.push({ path: path.map((p) => (typeof p === 'number' ? p : String(p))), message });
  };
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) add([key], `unknown argument ${key}`);
      continue;
    }
    // A rule over an argument that is not known yet would judge a placeholder.
    const involves = issue.code === 'custom' ? ((issue.params as { involves?: string[] } | undefined)?.involves ?? []) : [];
    if ([String(issue.path[0]), ...involves].some((a) => deferred.includes(a))) continue;
    add(issue.path, issue.message);
  }
  return out;
}

/** Problems shown in a refusal's message; all of them (up to 100) are in its details. */
const SHOWN = 5;

/** The one-line refusal of an action's arguments, in the activities' words: `tokens.revoke refused, nothing was changed: 2 problems: …`. */
export function refusalMessage(action: string, issues: readonly ArgIssue[]): string {
  const shown = issues.slice(0, SHOWN).map((i) => i.message).join('; ');
  const more = issues.length > SHOWN ? `; and ${issues.length - SHOWN} more` : '';
  const what = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
  return `${action} refused, nothing was changed: ${what}: ${shown}${more}`;
}
