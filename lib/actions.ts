/**
 * The action registry's static side: every action a runbook may name, what
 * activity runs it, its argument shape and how it is undone. Pure data, so the
 * runbook validator (Node) and the workflow sandbox read the same table; the
 * zod schemas of the arguments are built from it on the Node side (lib/args/schemas.ts).
 */
import type { createActivities } from '../activities/index.js';
import type { ActionInput, ActionResult } from '../workflows/definitions.js';

export type ArgType = 'string' | 'integer' | 'number' | 'boolean' | 'string[]' | 'object';

export interface ArgSpec {
  type: ArgType;
  required?: boolean;
  enum?: string[];
  description: string;
  /** Set only by the engine (an undo's arguments come from the result of the step it undoes): a runbook that sets it is refused when loaded. */
  internal?: true;
}

type Activities = ReturnType<typeof createActivities>;

/** An activity an action can name: a function of createActivities() that takes an ActionInput (not the engine's own). */
export type ActivityName = { [K in keyof Activities]: Activities[K] extends (input: ActionInput) => Promise<ActionResult> ? K : never }[keyof Activities];

interface ActionBase {
  description: string;
  args: Record<string, ArgSpec>;
  /** Changes state on the target (dry-run only plans it). */
  mutates: boolean;
  /** The action returns an undo; `abort` runs it. */
  reversible: boolean;
  /** The undo also runs on `resolve` (all-clear lifts containment). */
  liftOnResolve: boolean;
  /** Default start-to-close timeout. */
  timeoutMs: number;
  /** The activity also receives the incident status (report actions). */
  wantsStatus?: boolean;
  /** A dead worker is noticed after this, not after the whole timeout (default 15 s; the worker heartbeats for a step until the step heartbeats itself). */
  heartbeatTimeoutMs?: number;
  /** Results with `output.expiresAt` schedule this action (durable timer) for that moment. */
  onExpiry?: string;
  /** A failure may be overridden by an approver (recorded), so the incident can go on. */
  overridable?: boolean;
}

/** A checklist a human step keeps: one item per name in `items`, each confirmed or waived, reminders meanwhile. */
export interface ChecklistSpec {
  /** The argument holding the item names (string[]). */
  items: string;
  /** The argument holding the reminder interval in minutes, and the interval when it is not given. */
  remindEvery: { arg: string; defaultMinutes: number };
  /** How messages word each item's task: "rotate by hand", "rotated by hand", and the confirmation ("X rotated"). */
  wording: { task: string; taskDone: string; confirmed: string };
}

/** Run by an activity on the worker. `A` is loosened only by catalogs of made-up actions (tests). */
export interface ActivityActionSpec<A extends string = ActivityName> extends ActionBase {
  /** The activity function in createActivities(); a typo fails to compile. */
  activity: A;
  human?: false;
}

/** Run by the workflow itself with humans (a checklist), not by an activity. */
export interface HumanActionSpec extends ActionBase {
  human: true;
  activity?: undefined;
  /** Which arguments make its checklist and how the workflow words it. */
  checklist: ChecklistSpec;
}

export type ActionSpec<A extends string = ActivityName> = ActivityActionSpec<A> | HumanActionSpec;

/** A catalog as the runbook validator reads it (names and arguments): tests pass ones with made-up actions. */
export type ActionCatalog = Record<string, ActionSpec<string>>;

export const ACTIONS = {
  'evidence.snapshot': {
    activity: 'evidenceSnapshot',
    description: 'Capture an evidence bundle (sessions, elevated roles vs. baseline, deny-list state, branch head vs. deployed sha) into the evidence folder; SHA-256 in the result.',
    args: { baseline: { type: 'boolean', description: 'Record the elevated roles as the new baseline (default true; never in dry-run)' } },
    mutates: false,
    reversible: false,
    liftOnResolve: false,
    timeoutMs: 2 * 60_000,
  },
  'lockdown.status': {
    activity: 'lockdownStatus',
    description: 'Read the emergency lockdown flag (evidence).',
    args: {},
    mutates: false,
    reversible: false,
    liftOnResolve: false,
    timeoutMs: 15_000,
  },
  'lockdown.enable': {
    activity: 'lockdownEnable',
    description: 'Set the emergency kill-switch (:1:EMERGENCY_LOCKDOWN = 1): the app answers 503.',
    args: {
      reason: { type: 'string', description: 'Why, recorded beside the flag (never shown to users).' },
    },
    mutates: true,
    reversible: true,
    liftOnResolve: true,
    timeoutMs: 15_000,
  },
  'lockdown.disable': {
    activity: 'lockdownDisable',
    description: 'Release the emergency kill-switch: it is cleared (or the value before the first holder restored) when no other incident holds it.',
    args: {
      restore: { type: 'string', internal: true, description: 'Prior raw value to restore (internal: set by undo of an enable from before holds).' },
      hold: { type: 'boolean', internal: true, description: "Release this incident's hold: the flag is lifted only when no other incident holds it (internal: set by undo)." },
    },
    mutates: true,
    reversible: false,
    liftOnResolve: false,
    timeoutMs: 15_000,
  },
  'tokens.revoke': {
    activity: 'tokensRevoke',
    description: 'Revoke tokens: listed jtis (deny-list), all of some users ("revoked before" epoch), or all ("revoked before" for everyone). Never undone.',
    args: {
      scope: { type: 'string', required: true, enum: ['jti', 'user', 'all'], description: 'What to revoke' },
      jtis: { type: 'string[]', description: 'scope jti: token ids' },
      jtis_file: { type: 'string', description: 'scope jti: file on the worker with one jti per line (bulk)' },
      user_ids: { type: 'string[]', description: 'scope user: user ids' },
      reason: { type: 'string', description: 'Recorded with the revocation' },
    },
    mutates: true,
    reversible: false,
    liftOnResolve: false,
    timeoutMs: 15 * 60_000,
    heartbeatTimeoutMs: 20_000,
  },
  'tokens.disable_users': {
    activity: 'tokensDisableUsers',
    description: "Set users inactive in the app's user table (Django auth_user.is_active), held per incident; the last holder's undo restores each user's previous value.",
    args: { user_ids: { type: 'string[]', required: true, description: 'User ids' } },
    mutates: true,
    reversible: true,
    liftOnResolve: false,
    timeoutMs: 60_000,
  },
  'tokens.enable_users': {
    activity: 'tokensEnableUsers',
    description: 'Set users active again (the undo of tokens.disable_users): a user another incident still holds stays inactive until it releases it.',
    args: {
      user_ids: { type: 'string[]', required: true, description: 'User ids' },
      hold: { type: 'boolean', internal: true, description: "Release this incident's holds: only users no other incident holds and that were active before the first hold are re-enabled (internal: set by undo)." },
    },
    mutates: true,
    reversible: false,
    liftOnResolve: false,
    timeoutMs: 60_000,
  },
  'network.ban_ips': {
    activity: 'networkBanIps',
    description: 'Ban IPv4/IPv6 addresses and CIDRs (72 h by default): Redis keys for the app and an nginx deny file, reloaded.',
    args: {
      addresses: { type: 'string[]', description: 'Addresses or CIDRs' },
      addresses_file: { type: 'string', description: 'File on the worker with one address or CIDR per line (bulk)' },
      ttl_seconds: { type: 'integer', description: 'Ban length (default: the target’s network.banTtlSeconds)' },
      reason: { type: 'string', description: 'Recorded with the ban' },
    },
    mutates: true,
    reversible: true,
    liftOnResolve: false,
    timeoutMs: 5 * 60_000,
    heartbeatTimeoutMs: 30_000,
    onExpiry: 'network.expire_bans',
  },
  'network.unban_ips': {
    activity: 'networkUnbanIps',
    description: 'Lift bans: the undo of network.ban_ips releases its own holds (a ban another incident holds stays); the ban-lift runbook ends every hold.',
    args: {
      addresses: { type: 'string[]', required: true, description: 'Addresses or CIDRs' },
      from_record: { type: 'string', internal: true, description: 'Also lift what a ban step recorded, `<incident>/<step>` (internal: set by undo for large bans)' },
      holder: { type: 'string', internal: true, description: 'The ban step whose holds this undo releases, `<incident>/<step>`; without it the bans are lifted outright (internal: set by undo)' },
      reason: { type: 'string', description: 'Why the bans are lifted (shown to approvers, kept in the record)' },
    },
    mutates: true,
    reversible: false,
    liftOnResolve: false,
    timeoutMs: 5 * 60_000,
    heartbeatTimeoutMs: 30_000,
  },
  'network.expire_bans': {
    activity: 'networkExpireBans',
    description: 'Drop expired bans from the nginx deny file (run by the ban’s durable timer).',
    args: {},
    mutates: true,
    reversible: false,
    liftOnResolve: false,
    timeoutMs: 5 * 60_000,
    heartbeatTimeoutMs: 30_000,
  },
  'database.read_only': {
    activity: 'databaseReadOnly',
    description: "Put the app database read-only for the app role: revoke writes, default_transaction_read_only, end its sessions, prove a write fails.",
    args: {},
    mutates: true,
    reversible: true,
    liftOnResolve: true,
    timeoutMs: 2 * 60_000,
  },
  'database.read_write': {
    activity: 'databaseReadWrite',
    description: 'Restore exactly the privileges and settings recorded by database.read_only.',
    args: { restore: { type: 'object', internal: true, description: 'Prior state (internal: set by undo)' } },
    mutates: true,
    reversible: false,
    liftOnResolve: false,
    timeoutMs: 2 * 60_000,
  },
  'secrets.rotate_db_password': {
    activity: 'secretsRotateDbPassword',
    description: "Rotate a PostgreSQL role's password (default: the app role) and publish it to the target's secret sinks; verify new works, old fails.",
    args: {
      secret_name: { type: 'string', required: true, description: 'Name the sinks store it under (e.g. DATABASE_PASSWORD or DATABASE_URL)' },
      role: { type: 'string', description: "Role to rotate (default: the target's postgres.appRole)" },
      format: { type: 'string', enum: ['password', 'url'], description: 'Publish the bare password (default) or a full connection URL' },
    },
    mutates: true,
    reversible: false,
    liftOnResolve: false,
    timeoutMs: 2 * 60_000,
    heartbeatTimeoutMs: 30_000,
  },
  'secrets.rotate_jwt_key': {
    activity: 'secretsRotateJwtKey',
    description: 'Generate a new JWT signing key, publish it to the secret sinks, then revoke every token signed before (global "revoked before").',
    args: {
      secret_name: { type: 'string', description: 'Name the sinks store it under (default JWT_SECRET_KEY)' },
    },
    mutates: true,
    reversible: false,
    liftOnResolve: false,
    timeoutMs: 2 * 60_000,
    heartbeatTimeoutMs: 30_000,
  },
  'secrets.manual': {
    description: 'A checklist of secrets only a human can rotate (vendor dashboards): each item is confirmed or waived by an approver; reminders on a durable timer.',
    args: {
      items: { type: 'string[]', required: true, description: 'What to rotate, e.g. STRIPE_SECRET' },
      remind_every_minutes: { type: 'number', description: 'Reminder interval in minutes (default 240)' },
    },
    mutates: false,
    reversible: false,
    liftOnResolve: false,
    timeoutMs: 0,
    human: true,
    checklist: {
      items: 'items',
      remindEvery: { arg: 'remind_every_minutes', defaultMinutes: 240 },
      wording: { task: 'rotate by hand', taskDone: 'rotated by hand', confirmed: 'rotated' },
    },
  },
  'deploy.verify_commit': {
    activity: 'deployVerifyCommit',
    description: 'Check a commit (or pick the newest on the protected branch) is signed and verified, on the branch, green, and optionally older than a cut-off.',
    args: {
      sha: { type: 'string', description: 'Commit to check (default: newest qualifying on the protected branch)' },
      before: { type: 'string', description: 'ISO time: the commit must be older (last known-good before the compromise)' },
    },
    mutates: false,
    reversible: false,
    liftOnResolve: false,
    timeoutMs: 2 * 60_000,
  },
  'deploy.redeploy': {
    activity: 'deployRedeploy',
    description: "Dispatch the target's deploy workflow for a verified sha and wait for it to finish.",
    args: {
      sha: { type: 'string', required: true, description: 'Verified sha (e.g. {{ steps.verify.output.sha }})' },
      timeout_minutes: { type: 'integer', description: 'Give up after this long (default 30)' },
    },
    mutates: true,
    reversible: false,
    liftOnResolve: false,
    timeoutMs: 2 * 3600_000,
    heartbeatTimeoutMs: 60_000,
  },
  'deploy.probe': {
    activity: 'deployProbe',
    description: "Check the live app against the guide's production checklist (HTTPS redirect, HSTS, CSP, frame, nosniff, Permissions-Policy, cookies, no debug page).",
    args: {
      url: { type: 'string', description: "Base URL (default: the target's app.url)" },
      routes: { type: 'string[]', description: "Paths whose CSP must be enforcing (default: the target's app.routes)" },
    },
    mutates: false,
    reversible: false,
    liftOnResolve: false,
    timeoutMs: 2 * 60_000,
    overridable: true,
  },
  'report.postmortem': {
    activity: 'reportPostmortem',
    description: 'Write the post-mortem draft and, with personal data, the GDPR Art. 33/34 and California notice drafts into the evidence folder.',
    args: {
      personal_data: { type: 'boolean', description: 'Personal data affected: GDPR Art. 33 + California notices' },
      high_risk: { type: 'boolean', description: 'High risk to data subjects: Art. 34 notice too (implies personal_data)' },
      aware_at: { type: 'string', description: 'ISO moment of awareness; the 72 h clock starts here (default: declaredAt)' },
      data_categories: { type: 'string[]', description: 'Categories of personal data involved' },
      subjects_approx: { type: 'integer', description: 'Approximate number of data subjects' },
      records_approx: { type: 'integer', description: 'Approximate number of personal data records' },
      dpo_contact: { type: 'string', description: 'Name and contact details of the DPO or contact point' },
      organisation: { type: 'string', description: 'Controller / business name' },
      delay_reasons: { type: 'string', description: 'Reasons for notifying later than 72 h (Art. 33(1))' },
      notice_sent_at: { type: 'string', description: 'ISO time the Art. 33 notice was sent' },
      notice_sent_by: { type: 'string', description: 'Who sent it' },
      open_issue: { type: 'boolean', description: "Open (or update) a GitHub issue with the post-mortem (target's github config)" },
    },
    mutates: false,
    reversible: false,
    liftOnResolve: false,
    timeoutMs: 30_000,
    wantsStatus: true,
  },
  'report.timeline': {
    activity: 'reportTimeline',
    description: 'Write the incident timeline (JSON + Markdown) into the evidence folder.',
    args: {},
    mutates: false,
    reversible: false,
    liftOnResolve: false,
    timeoutMs: 30_000,
    wantsStatus: true,
  },
} as const satisfies Record<string, ActionSpec>;

export type ActionName = keyof typeof ACTIONS;

export function isActionName(name: string): name is ActionName {
  return Object.prototype.hasOwnProperty.call(ACTIONS, name);
}

export function actionSpec(name: string): ActionSpec | undefined {
  return isActionName(name) ? ACTIONS[name] : undefined;
}
