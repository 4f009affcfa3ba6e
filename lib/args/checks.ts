/**
 * Up-front argument checks, one per action: what can be judged from the
 * arguments alone (and the target's ban policy when given). The front door
 * runs them before starting an incident; the worker's validation activity
 * runs them again with its own config, plus what needs its files and config.
 */
import { actionSpec, type ArgSpec } from '../actions.js';
import { describeType, matchesType } from '../runbook/schema.js';
import { banArgProblems, showValue, unbanArgProblems, type BanPolicy } from './network.js';
import { FOREIGN_ARGS, FULL_SHA, INLINE_MAX, JTI, MAX_TIMEOUT_MINUTES, REVOKE_SCOPES, ROLE, SECRET_NAME, SHA_PREFIX, USER_ID, type RevokeScope } from './rules.js';

export interface ArgCheckContext {
  /** The target's ban policy; without it bans are checked for syntax and the built-in protected networks only. */
  banPolicy?: BanPolicy & { banTtlSeconds?: number };
  /** Arguments built from step outputs: not known yet, so not checked. */
  deferred?: readonly string[];
}

type Check = (args: Record<string, unknown>, ctx: ArgCheckContext) => string[];

function listProblems(args: Record<string, unknown>, name: string, rule: RegExp, ruleText: string, required: boolean): string[] {
  const v = args[name];
  if (v === undefined || v === null) return required ? [`${name} is required and must not be empty`] : [];
  if (!Array.isArray(v)) return [`${name} must be a list of strings`];
  if (required && v.length === 0) return [`${name} is required and must not be empty`];
  if (v.length > INLINE_MAX) return [`${name}: ${v.length} entries, at most ${INLINE_MAX} inline (put more in a file)`];
  const bad = v.map((x, i) => (typeof x === 'string' && rule.test(x) ? -1 : i)).filter((i) => i >= 0);
  if (!bad.length) return [];
  const shown = bad.slice(0, 5).map((i) => `${name}[${i}] ${showValue(v[i])}`).join(', ');
  return [`${name}: ${bad.length} invalid ${bad.length === 1 ? 'entry' : 'entries'} (${ruleText}): ${shown}${bad.length > 5 ? ', …' : ''}`];
}

const CHECKS: Record<string, Check> = {
  'network.ban_ips': (args, ctx) => banArgProblems(args, ctx.banPolicy),
  'network.unban_ips': (args) => unbanArgProblems(args, 20_000),
  'tokens.revoke': (args) => {
    const scope = args.scope;
    if (!REVOKE_SCOPES.includes(scope as RevokeScope)) return [`scope must be one of ${REVOKE_SCOPES.join(', ')} (got ${showValue(scope ?? null)})`];
    const stray = FOREIGN_ARGS[scope as RevokeScope].filter((k) => args[k] !== undefined);
    if (stray.length) return [`scope ${String(scope)} does not take ${stray.join(', ')}`];
    const out: string[] = [];
    if (scope === 'jti') {
      if (args.jtis === undefined && args.jtis_file === undefined) out.push('scope jti needs jtis or jtis_file');
      out.push(...listProblems(args, 'jtis', JTI, '1–255 printable ASCII characters, no whitespace', false));
      const file = args.jtis_file;
      if (file !== undefined && (typeof file !== 'string' || !file.startsWith('/'))) out.push(`jtis_file must be an absolute path on the worker, got ${showValue(file)}`);
    }
    if (scope === 'user') out.push(...listProblems(args, 'user_ids', USER_ID, '1–128 characters of A-Z a-z 0-9 _ . @ : -', true));
    return out;
  },
  'tokens.disable_users': (args) => listProblems(args, 'user_ids', USER_ID, '1–128 characters of A-Z a-z 0-9 _ . @ : -', true),
  'tokens.enable_users': (args) => listProblems(args, 'user_ids', USER_ID, '1–128 characters of A-Z a-z 0-9 _ . @ : -', true),
  'secrets.rotate_db_password': (args) => {
    const out: string[] = [];
    if (typeof args.secret_name !== 'string' || !SECRET_NAME.test(args.secret_name)) out.push(`secret_name must be a variable name (letters, digits and _, not starting with a digit, at most 128), got ${showValue(args.secret_name ?? null)}`);
    if (args.role !== undefined && (typeof args.role !== 'string' || !ROLE.test(args.role))) out.push(`role must be a plain role name (letters, digits, _ and $; at most 63), got ${showValue(args.role)}`);
    return out;
  },
  'secrets.rotate_jwt_key': (args) =>
    args.secret_name !== undefined && (typeof args.secret_name !== 'string' || !SECRET_NAME.test(args.secret_name))
      ? [`secret_name must be a variable name (letters, digits and _, not starting with a digit, at most 128), got ${showValue(args.secret_name)}`]
      : [],
  'secrets.manual': (args) => (Array.isArray(args.items) && args.items.length ? [] : ['items: at least one item to rotate by hand']),
  'deploy.verify_commit': (args) => {
    const out: string[] = [];
    const { sha, before } = args;
    if (sha !== undefined && sha !== '' && (typeof sha !== 'string' || !SHA_PREFIX.test(sha.toLowerCase()))) out.push('sha must be a commit sha (7 to 64 hex digits)');
    if (before !== undefined && before !== '' && !(typeof before === 'string' && Number.isFinite(Date.parse(before)))) out.push('before must be an ISO date or time, e.g. 2026-03-01T12:00:00Z');
    return out;
  },
  'deploy.redeploy': (args) => {
    const out: string[] = [];
    if (typeof args.sha !== 'string' || !FULL_SHA.test(args.sha.toLowerCase())) out.push('sha must be a full commit sha (40 hex digits)');
    const m = args.timeout_minutes;
    if (m !== undefined && !(typeof m === 'number' && Number.isInteger(m) && m >= 1 && m <= MAX_TIMEOUT_MINUTES)) out.push(`timeout_minutes must be a whole number from 1 to ${MAX_TIMEOUT_MINUTES}`);
    return out;
  },
};

/** The catalog's shape rules: known arguments, types, enums, required ones. */
function shapeProblems(action: string, args: Record<string, unknown>, deferred: readonly string[]): string[] {
  const spec = actionSpec(action);
  if (!spec) return [`unknown action ${action}`];
  const out: string[] = [];
  for (const [name, value] of Object.entries(args)) {
    const arg: ArgSpec | undefined = spec.args[name];
    if (!arg) out.push(`unknown argument ${name}`);
    else if (value !== undefined && !matchesType(arg.type, value)) out.push(`${name}: expected ${arg.type}, got ${describeType(value)}`);
    else if (arg.enum && typeof value === 'string' && !arg.enum.includes(value)) out.push(`${name}: ${showValue(value)} is not one of ${arg.enum.join(', ')}`);
  }
  for (const [name, arg] of Object.entries(spec.args)) {
    if (arg.required && args[name] === undefined && !deferred.includes(name)) out.push(`${name} is required`);
  }
  return out;
}

/** Every problem with a step's known arguments; empty when they are fine. Deferred arguments are not judged. */
export function argProblems(action: string, args: Record<string, unknown>, ctx: ArgCheckContext = {}): string[] {
  const deferred = ctx.deferred ?? [];
  const shape = shapeProblems(action, args, deferred);
  if (shape.length) return shape;
  const check = CHECKS[action];
  if (!check) return [];
  // A rule over an argument that is not known yet would judge a placeholder.
  if (deferred.length) {
    const known = Object.fromEntries(Object.entries(args).filter(([k]) => !deferred.includes(k)));
    return check(known, ctx).filter((p) => !deferred.some((d) => p.startsWith(d) || p.includes(` ${d} `)));
  }
  return check(args, ctx);
}
