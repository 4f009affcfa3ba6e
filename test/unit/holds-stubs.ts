/**
 * Stubbed containment activities of the four kinds that several incidents can hold, all
 * backed by one HoldsModel per target (./holds-model.ts), for the engine tests of issue 11 §2:
 * a stub finds its target by the incident id it is called for, so many scenarios share one
 * worker. Faults (a failing or crashing release or take) are injected per incident.
 */
import { alsoHeldBy, stillHeldLine, type HoldKind } from '../../lib/holds.js';
import type { IncidentState, IncidentStatus } from '../../workflows/definitions.js';
import { runbook, type Incident, type Stub } from './engine-harness.js';
import { HoldsModel } from './holds-model.js';

export interface KindSpec {
  kind: HoldKind;
  /** The runbook action that takes the hold, and its activity; the undo's. */
  action: string;
  take: string;
  undo: string;
  release: string;
  /** Lifted by the all-clear (else held on: a ban to its expiry, a user disable for good). */
  liftOnResolve: boolean;
  /** `with:` of incident `i`: every incident shares `common`, and bans and disables have one subject of their own. */
  with(i: number): string;
  common: string;
  own?(i: number): string;
  /** The subjects a take or release call names. */
  subjects(args: Record<string, unknown>): string[];
  undoArgs(args: Record<string, unknown>): Record<string, unknown>;
}

export const BAN_TTL_S = 3600;
export const KINDS: Record<HoldKind, KindSpec> = {
  lockdown: {
    kind: 'lockdown',
    action: 'lockdown.enable',
    take: 'lockdownEnable',
    undo: 'lockdown.disable',
    release: 'lockdownDisable',
    liftOnResolve: true,
    with: () => '{ reason: matrix }',
    common: 'lockdown',
    subjects: () => ['lockdown'],
    undoArgs: () => ({}),
  },
  'read-only': {
    kind: 'read-only',
    action: 'database.read_only',
    take: 'databaseReadOnly',
    undo: 'database.read_write',
    release: 'databaseReadWrite',
    liftOnResolve: true,
    with: () => '{}',
    common: 'app/app_user',
    subjects: () => ['app/app_user'],
    undoArgs: () => ({}),
  },
  ban: {
    kind: 'ban',
    action: 'network.ban_ips',
    take: 'networkBanIps',
    undo: 'network.unban_ips',
    release: 'networkUnbanIps',
    liftOnResolve: false,
    with: (i) => `{ addresses: [203.0.113.7, 198.51.100.${i + 1}], ttl_seconds: ${BAN_TTL_S} }`,
    common: '203.0.113.7',
    own: (i) => `198.51.100.${i + 1}`,
    subjects: (args) => args.addresses as string[],
    undoArgs: (args) => ({ addresses: args.addresses }),
  },
  'user-disable': {
    kind: 'user-disable',
    action: 'tokens.disable_users',
    take: 'tokensDisableUsers',
    undo: 'tokens.enable_users',
    release: 'tokensEnableUsers',
    liftOnResolve: false,
    with: (i) => `{ user_ids: ["17", "${101 + i}"] }`,
    common: '17',
    own: (i) => String(101 + i),
    subjects: (args) => args.user_ids as string[],
    undoArgs: (args) => ({ user_ids: args.user_ids }),
  },
};

/** Faults one incident's stubs inject (attempts count calls of that incident's step, across workflow retries). */
export interface Faults {
  /** The release throws before acting on its first `n` calls. */
  releaseFailsBefore?: number;
  /** The first release call acts, then throws (the worker died before reporting). */
  releaseCrashAfterCommit?: boolean;
  /** The first take call acts, then throws. */
  takeCrashAfterCommit?: boolean;
  /** The take (the release) waits for this before acting: an abort can land while it is in flight. */
  takeWaitsFor?: Promise<unknown>;
  releaseWaitsFor?: Promise<unknown>;
}

/** What every stub of a scenario shares: the target. */
export interface Target {
  model: HoldsModel;
  faults: Map<string, Faults>;
  /** A ban's end, when the scenario fixes it (else the step's start plus its ttl_seconds). */
  until?: (incidentId: string) => string | undefined;
}

const targets = new Map<string, Target>();

/** A target shared by the incidents `ids` (faults by incident id). */
export function bindTarget(ids: string[], model = new HoldsModel(), faults: Record<string, Faults> = {}, until?: Target['until']): Target {
  const target: Target = { model, faults: new Map(Object.entries(faults)), ...(until && { until }) };
  for (const id of ids) targets.set(id, target);
  return target;
}

function targetOf(incidentId: string): Target {
  const t = targets.get(incidentId);
  if (!t) throw new Error(`no target for ${incidentId}`);
  return t;
}

function takeStub(spec: KindSpec): Stub {
  return async (input, attempt) => {
    const target = targetOf(input.incidentId);
    const { model, faults } = target;
    await faults.get(input.incidentId)?.takeWaitsFor;
    const since = input.requestedAt;
    const until = spec.kind === 'ban' ? (target.until?.(input.incidentId) ?? new Date(Date.parse(since) + Number(input.args.ttl_seconds) * 1000).toISOString()) : undefined;
    const others = new Set<string>();
    let changed = false;
    for (const subject of spec.subjects(input.args)) {
      const r = model.take(spec.kind, subject, { incidentId: input.incidentId, stepId: input.stepId, since, ...(until && { until }) });
      r.others.forEach((o) => others.add(o));
      changed ||= r.changed;
    }
    if (faults.get(input.incidentId)?.takeCrashAfterCommit && attempt === 1) throw new Error('worker lost after the take committed');
    return {
      summary: `${spec.kind} on${alsoHeldBy([...others].sort())}`,
      changed,
      output: until ? { expiresAt: until } : {},
      undo: { action: spec.undo, args: spec.undoArgs(input.args) },
    };
  };
}

/** What a release says: lifted, still held by others, or left as it was before anyone held it. */
export function releaseLine(kind: HoldKind, outcome: { lifted: boolean; stillHeldBy: string[] }): string {
  return `${kind} ${outcome.lifted ? 'lifted' : (stillHeldLine(outcome) ?? 'left as it was before')}`;
}

function releaseStub(spec: KindSpec): Stub {
  return async (input, attempt) => {
    const { model, faults } = targetOf(input.incidentId);
    const f = faults.get(input.incidentId) ?? {};
    await f.releaseWaitsFor;
    if (attempt <= (f.releaseFailsBefore ?? 0)) throw new Error('target unreachable');
    const outcomes = spec.subjects(input.args).map((s) => model.release(spec.kind, s, input.incidentId));
    if (f.releaseCrashAfterCommit && attempt === 1) throw new Error('worker lost after the release committed');
    // The shared subject comes first: its line is the one the matrix reads.
    const outcome = { lifted: outcomes.every((o) => o.lifted), stillHeldBy: [...new Set(outcomes.flatMap((o) => o.stillHeldBy))].sort() };
    return { summary: releaseLine(spec.kind, outcomes[0] ?? outcome), changed: outcomes.some((o) => o.changed), output: outcome };
  };
}

export const STUBS: Record<string, Stub> = {
  ...Object.fromEntries(Object.values(KINDS).flatMap((k) => [[k.take, takeStub(k)], [k.release, releaseStub(k)]])),
  networkExpireBans: (input) => {
    const r = targetOf(input.incidentId).model.expire(Date.parse(input.requestedAt));
    return { summary: `${r.ended} ban hold(s) ended, ${r.lifted} ban(s) lifted`, changed: r.lifted > 0 };
  },
};

// ---- runbooks ------------------------------------------------------------------

export interface RunbookShape {
  gated: boolean;
  /** Step retry attempts (1: a failed undo blocks at once). */
  attempts?: number;
}

/** One containment step `hold`; kinds the all-clear does not lift get a gated review after it, so the incident stays open until someone ends it. */
export function holdRunbook(spec: KindSpec, i: number, shape: RunbookShape): string {
  const lines = ['containment:', '  - id: hold', `    action: ${spec.action}`, `    with: ${spec.with(i)}`];
  if (shape.gated) lines.push('    approval: { count: 1, group: responders }');
  if (shape.attempts) lines.push(`    retry: { maximum_attempts: ${shape.attempts}, initial_interval: 1s }`);
  if (!spec.liftOnResolve) lines.push('recovery:', '  - id: review', '    action: lockdown.status', '    approval: { count: 1, group: responders }');
  return runbook(lines);
}

// ---- waiting -------------------------------------------------------------------

export const CLOSED: IncidentState[] = ['completed', 'aborted', 'rejected'];

/** Poll the status (real time; the test server's clock does not move) until `ok`. */
export async function waitFor(inc: Incident, ok: (s: IncidentStatus) => boolean, what: string): Promise<IncidentStatus> {
  const deadline = Date.now() + 90_000;
  let pause = 100;
  for (;;) {
    const s = await inc.status();
    if (ok(s)) return s;
    if (CLOSED.includes(s.state) || Date.now() > deadline) {
      throw new Error(`${inc.id}: waiting for ${what}, found ${s.state} (${s.steps.map((x) => `${x.id}=${x.state}`).join(' ')}); last: ${s.timeline.at(-1)?.message ?? ''}`);
    }
    await new Promise((r) => setTimeout(r, pause));
    pause = Math.min(250, pause * 1.5);
  }
}

export const stepOf = (s: IncidentStatus, id = 'hold') => s.steps.find((x) => x.id === id);
export const gateOpen = (id: string) => (s: IncidentStatus) => s.gates.some((g) => g.id === id && g.state === 'open');
export const inState = (state: IncidentState) => (s: IncidentStatus) => s.state === state;
