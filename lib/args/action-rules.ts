/**
 * What each action enforces beyond its catalog ArgSpecs: field schemas that
 * replace the generic ones, and rules across arguments. The messages are the
 * ones the activities' own checks give, so a refusal reads the same at the
 * front door, in the worker's pre-flight and at the activity's entry.
 */
import type { z } from 'zod';
import { ACTIONS, type ActionName } from '../actions.js';
import { noticeArgsProblems } from '../documents/notice-args.js';
import { boundedString, inputFile, idList, patterned, refined, ruled, wholeNumber, type FieldProblem } from './fields.js';
import { banTtl, entryIssues, inlineEntries, MAX_INLINE_BAN, MAX_INLINE_UNBAN, showValue, type BanPolicy } from './network.js';
import { FOREIGN_ARGS, FROM_RECORD, FULL_SHA, INLINE_MAX, JTI, MAX_TIMEOUT_MINUTES, REVOKE_SCOPES, ROLE, SECRET_NAME, SHA_PREFIX, USER_ID, type RevokeScope } from './rules.js';

export interface ArgCheckContext {
  /** The target's ban policy; without it bans are checked for syntax and the built-in protected networks only. */
  banPolicy?: BanPolicy & { banTtlSeconds?: number };
  /** Arguments built from step outputs: not known yet, so not checked. */
  deferred?: readonly string[];
  /** The target's `postgres.appRole`: the only role whose password an action may rotate. */
  appRole?: string;
}

/** A problem found across arguments; `involves` names every argument it judges (deferred ones drop it). */
export interface RuleIssue {
  path: Array<string | number>;
  message: string;
  involves?: string[];
}

/** `clean`: no argument had a problem of its own. */
type CrossRule = (args: Record<string, unknown>, ctx: ArgCheckContext & { clean: boolean }) => RuleIssue[];

export interface ActionRules {
  fields?: Record<string, z.ZodType>;
  across?: CrossRule;
}

const JTI_TEXT = '1–255 printable ASCII characters, no whitespace';
const USER_ID_TEXT = '1–128 characters of A-Z a-z 0-9 _ . @ : -';
const SECRET_NAME_TEXT = 'a variable name (letters, digits and _, not starting with a digit, at most 128)';

const userIds = (required: boolean) => idList('user_ids', USER_ID, USER_ID_TEXT, INLINE_MAX, { required });

/** `addresses` inline: a list of strings, at most `max`. */
const inlineAddresses = (max: number, required: boolean) =>
  ruled<string[]>((v) => {
    if (v === undefined) return required ? ['addresses is required'] : [];
    const problems: string[] = [];
    inlineEntries({ addresses: v }, max, problems);
    return problems;
  });

function revokeAcross(args: Record<string, unknown>): RuleIssue[] {
  const scope = args.scope as RevokeScope;
  if (!REVOKE_SCOPES.includes(scope)) return [];
  const stray = FOREIGN_ARGS[scope].filter((k) => args[k] !== undefined);
  if (stray.length) return [{ path: [stray[0] as string], message: `scope ${scope} does not take ${stray.join(', ')}`, involves: ['scope'] }];
  const empty = (v: unknown) => Array.isArray(v) && v.length === 0;
  if (scope === 'jti' && args.jtis === undefined && args.jtis_file === undefined) return [{ path: ['jtis'], message: 'scope jti needs jtis or jtis_file', involves: ['scope', 'jtis_file'] }];
  if (scope === 'jti' && empty(args.jtis) && args.jtis_file === undefined) return [{ path: ['jtis'], message: 'scope jti: no jtis given (the list and the file are empty)', involves: ['scope', 'jtis_file'] }];
  if (scope === 'user' && (args.user_ids === undefined || empty(args.user_ids))) return [{ path: ['user_ids'], message: 'user_ids is required and must not be empty', involves: ['scope'] }];
  return [];
}

/** Inline addresses judged one by one (a ban: with the target's policy and the never-banned networks); a file is the worker's to read. */
function addressesAcross(ban: boolean, noneLeft: string, otherSource: string): CrossRule {
  return (args, ctx) => {
    const out: RuleIssue[] = [];
    if (ban && args.ttl_seconds === undefined) {
      const problems: string[] = [];
      banTtl({}, ctx.banPolicy?.banTtlSeconds, problems);
      out.push(...problems.map((message) => ({ path: ['ttl_seconds'], message })));
    }
    const entries = inlineEntries(args, ban ? MAX_INLINE_BAN : MAX_INLINE_UNBAN, []);
    for (const i of entryIssues(entries, ban ? { policy: ctx.banPolicy } : undefined)) out.push(i.path.length ? i : { ...i, involves: ['addresses', otherSource] });
    if (ctx.clean && !out.length && !entries.length && args[otherSource] === undefined) out.push({ path: ['addresses'], message: noneLeft, involves: [otherSource] });
    return out;
  };
}

/**
 * `role` of secrets.rotate_db_password must be the target's app role: rotating the owner's or a
 * superuser's password into the app's secret sinks would hand the app (and whoever reads the
 * sinks) that role. Undefined when fine, or when the target is not known here.
 */
export function foreignRoleProblem(role: unknown, appRole: string | undefined): string | undefined {
  if (role === undefined || appRole === undefined || role === appRole) return undefined;
  return `role must be the target's app role "${appRole}" (postgres.appRole), got ${showValue(role)}: Firebreak rotates no other role's password`;
}

function probeUrl(v: unknown): string[] {
  if (v === undefined) return [];
  if (typeof v !== 'string') return ['url must be a URL string'];
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return [`url ${showValue(v)} is not a URL`];
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return [`url must be http:// or https:// (got ${url.protocol})`];
  return url.username || url.password ? ['url must not contain credentials'] : [];
}

function probeRoutes(v: unknown): FieldProblem[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length === 0) return [{ message: 'routes must be a non-empty list of paths' }];
  // `//host/x` would leave the app's origin.
  const ok = (r: unknown) => typeof r === 'string' && r.startsWith('/') && !r.startsWith('//');
  return v.flatMap((r: unknown, i) => (ok(r) ? [] : [{ message: `routes: ${showValue(r)} is not a path starting with a single /`, at: [i] }]));
}

/** The notice facts' own limits (lengths, counts ≥ 0, ISO times), argument by argument. */
function noticeFields(): Record<string, z.ZodType> {
  const { open_issue: _, ...notice } = ACTIONS['report.postmortem'].args;
  return Object.fromEntries(Object.entries(notice).map(([name, spec]) => [name, refined(name, spec, (v) => noticeArgsProblems({ [name]: v }))]));
}

export const ACTION_RULES: { [A in ActionName]?: ActionRules } = {
  'lockdown.disable': { fields: { restore: boundedString('restore', 1024, 'the value recorded before enable (a string of at most 1024 characters)') } },
  'tokens.revoke': {
    fields: {
      jtis: idList('jtis', JTI, JTI_TEXT, INLINE_MAX),
      jtis_file: inputFile('jtis_file'),
      user_ids: userIds(false),
      reason: boundedString('reason', 500),
    },
    across: revokeAcross,
  },
  'tokens.disable_users': { fields: { user_ids: userIds(true) } },
  'tokens.enable_users': { fields: { user_ids: userIds(true) } },
  'network.ban_ips': {
    fields: {
      addresses: inlineAddresses(MAX_INLINE_BAN, false),
      addresses_file: inputFile('addresses_file'),
      ttl_seconds: ruled<number>((v) => {
        const problems: string[] = [];
        if (v !== undefined) banTtl({ ttl_seconds: v }, undefined, problems);
        return problems;
      }),
    },
    across: addressesAcross(true, 'no addresses to ban (give addresses or addresses_file)', 'addresses_file'),
  },
  'network.unban_ips': {
    fields: {
      addresses: inlineAddresses(MAX_INLINE_UNBAN, true),
      from_record: patterned('from_record', FROM_RECORD, '"<incident>/<step>"'),
      holder: patterned('holder', FROM_RECORD, '"<incident>/<step>"'),
    },
    across: addressesAcross(false, 'no addresses to unban', 'from_record'),
  },
  'secrets.rotate_db_password': {
    fields: {
      secret_name: patterned('secret_name', SECRET_NAME, SECRET_NAME_TEXT, { required: true }),
      role: patterned('role', ROLE, 'a plain role name (letters, digits, _ and $; at most 63)'),
    },
    across: (args, ctx) => {
      const why = foreignRoleProblem(args.role, ctx.appRole);
      return why ? [{ path: ['role'], message: why }] : [];
    },
  },
  'secrets.rotate_jwt_key': { fields: { secret_name: patterned('secret_name', SECRET_NAME, SECRET_NAME_TEXT) } },
  'secrets.manual': {
    fields: {
      items: ruled<string[]>((v) => {
        if (v === undefined) return ['items is required'];
        if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) return ['items must be a list of strings'];
        return v.length ? [] : ['items: at least one item to rotate by hand'];
      }),
    },
  },
  'deploy.verify_commit': {
    fields: {
      sha: patterned('sha', SHA_PREFIX, 'a commit sha (7 to 64 hex digits)', { lowercase: true, allowEmpty: true, showGot: false }),
      before: ruled<string>((v) => (v === undefined || v === '' || (typeof v === 'string' && Number.isFinite(Date.parse(v))) ? [] : ['before must be an ISO date or time, e.g. 2026-03-01T12:00:00Z'])),
    },
  },
  'deploy.redeploy': {
    fields: {
      sha: patterned('sha', FULL_SHA, 'a full commit sha (40 hex digits)', { required: true, lowercase: true, showGot: false }),
      timeout_minutes: wholeNumber('timeout_minutes', 1, MAX_TIMEOUT_MINUTES),
    },
  },
  'deploy.probe': { fields: { url: ruled<string>(probeUrl), routes: ruled<string[]>(probeRoutes) } },
  'report.postmortem': { fields: noticeFields() },
};
