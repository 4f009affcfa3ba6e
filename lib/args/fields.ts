/**
 * Zod schemas for single arguments, each message naming the argument: the
 * generic one of a catalog ArgSpec, and the ruled ones that replace it where an
 * action enforces more (id lists, paths, patterns, ranges).
 */
import { z } from 'zod';
import type { ArgSpec } from '../actions.js';
import { describeType } from '../runbook/schema.js';
import { showValue } from './network.js';
import { inputFileProblem } from './rules.js';

/** A problem with an argument value, reported at its path below the argument (empty: the argument itself). */
export interface FieldProblem {
  message: string;
  at?: Array<string | number>;
}

/** What a value must be, for the generic schema's messages. */
export function typeMessage(name: string, spec: ArgSpec, value: unknown): string {
  if (spec.enum) return `${name} must be one of ${spec.enum.join(', ')} (got ${value === undefined ? 'nothing' : showValue(value)})`;
  switch (spec.type) {
    case 'string':
      return `${name} must be a string, got ${describeType(value)}`;
    case 'string[]':
      return `${name} must be a list of strings`;
    case 'integer':
      return `${name} must be a whole number, got ${showValue(value)}`;
    case 'number':
      return `${name} must be a number, got ${showValue(value)}`;
    case 'boolean':
      return `${name} must be true or false, got ${showValue(value)}`;
    case 'object':
      return `${name} must be a mapping, got ${describeType(value)}`;
  }
}

/** The schema an ArgSpec alone gives: type, enum; a missing value is reported as required (the caller makes optional ones optional). */
export function specField(name: string, spec: ArgSpec): z.ZodType {
  const error = (iss: { input?: unknown }): string => (iss.input === undefined && !spec.enum ? `${name} is required` : typeMessage(name, spec, iss.input));
  switch (spec.type) {
    case 'string':
      return spec.enum ? z.enum(spec.enum as [string, ...string[]], { error }) : z.string({ error });
    case 'string[]':
      return z.array(z.string({ error: () => typeMessage(name, spec, undefined) }), { error });
    case 'integer':
      return z.int({ error });
    case 'number':
      return z.number({ error });
    case 'boolean':
      return z.boolean({ error });
    case 'object':
      return z.record(z.string(), z.unknown(), { error });
  }
}

/** A field judged by `rule` alone (any value reaches it, `undefined` when absent): for rules whose message covers the type too. */
export function ruled<T>(rule: (value: unknown) => Array<string | FieldProblem>): z.ZodType<T> {
  return z.unknown().superRefine((value, ctx) => {
    for (const p of rule(value)) {
      const { message, at = [] } = typeof p === 'string' ? { message: p } : p;
      ctx.addIssue({ code: 'custom', message, path: at });
    }
  }) as unknown as z.ZodType<T>;
}

/** The generic schema of `spec`, then `rule` on a value of the right type. */
export function refined(name: string, spec: ArgSpec, rule: (value: never) => string[]): z.ZodType {
  return specField(name, spec).superRefine((value, ctx) => {
    for (const message of rule(value as never)) ctx.addIssue({ code: 'custom', message });
  });
}

/**
 * A list of ids checked against `pattern`: at most `max` inline, every bad entry
 * counted in one message that names the first five (`jtis[3] "a b"`).
 */
export function idList(name: string, pattern: RegExp, ruleText: string, max: number, opts: { required?: boolean } = {}): z.ZodType<string[]> {
  return ruled<string[]>((v) => {
    if (v === undefined) return opts.required ? [`${name} is required and must not be empty`] : [];
    if (!Array.isArray(v)) return [`${name} must be a list of strings`];
    if (opts.required && v.length === 0) return [`${name} is required and must not be empty`];
    if (v.length > max) return [`${name}: ${v.length} entries, at most ${max} inline (put more in a file)`];
    const bad = v.map((x, i) => (typeof x === 'string' && pattern.test(x) ? -1 : i)).filter((i) => i >= 0);
    if (!bad.length) return [];
    const shown = bad.slice(0, 5).map((i) => `${name}[${i}] ${showValue(v[i])}`).join(', ');
    const count = `${bad.length} invalid ${bad.length === 1 ? 'entry' : 'entries'}`;
    return [{ message: `${name}: ${count} (${ruleText}) at ${shown}${bad.length > 5 ? ', …' : ''}`, at: [bad[0] as number] }];
  });
}

/** A file in the worker's inputs folder (see inputFileProblem). */
export function inputFile(name: string): z.ZodType<string> {
  return ruled<string>((v) => {
    const problem = inputFileProblem(name, v);
    return problem ? [problem] : [];
  });
}

/** A string matching `pattern`; `describe` says what it must be (the message adds what it got). */
export function patterned(name: string, pattern: RegExp, describe: string, opts: { required?: boolean; lowercase?: boolean; allowEmpty?: boolean; showGot?: boolean } = {}): z.ZodType<string> {
  return ruled<string>((v) => {
    if (v === undefined && !opts.required) return [];
    if (opts.allowEmpty && v === '') return [];
    if (typeof v === 'string' && pattern.test(opts.lowercase ? v.toLowerCase() : v)) return [];
    return [`${name} must be ${describe}${opts.showGot === false ? '' : `, got ${showValue(v ?? null)}`}`];
  });
}

/** A string of at most `max` characters; `what` replaces the default description. */
export function boundedString(name: string, max: number, what = `a string of at most ${max} characters`): z.ZodType<string> {
  return ruled<string>((v) => (v === undefined || (typeof v === 'string' && v.length <= max) ? [] : [`${name} must be ${what}`]));
}

/** A whole number from `min` to `max`; `what` says so in the action's own words. */
export function wholeNumber(name: string, min: number, max: number, what = `a whole number from ${min} to ${max}`): z.ZodType<number> {
  return ruled<number>((v) => (v === undefined || (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) ? [] : [`${name} must be ${what}`]));
}
