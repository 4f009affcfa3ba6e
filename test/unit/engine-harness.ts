/**
 * The interpreter on the time-skipping test server with stubbed activities: plain
 * functions registered on a Worker, so engine logic is tested without Redis,
 * PostgreSQL or GitHub. Time only moves on `env.sleep()` (or while awaiting a
 * result), so a gate escalates exactly when a test says so.
 */
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, makeTelemetryFilterString, Runtime, Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { inject } from 'vitest';
import { ACTIONS, type ActionSpec } from '../../lib/actions.js';
import { encodeBase64 } from '../../lib/identity/base64.js';
import { ephemeralKeyPair, type KeyPair } from '../../lib/identity/keys.js';
import type { Registry } from '../../lib/identity/registry.js';
import type { StatementKind } from '../../lib/identity/statement.js';
import { keyPairSigner } from '../../lib/identity/signer.js';
import { verifyDecision } from '../../lib/identity/verify.js';
import { signDecision, signDeclaration } from '../../lib/incidents/sign.js';
import type { Principal } from '../../lib/incidents/types.js';
import type { PolicyRequest } from '../../lib/policy/build.js';
import { declarationHash, type DecisionInput } from '../../lib/policy/decisions.js';
import type { PolicyVerdict } from '../../lib/policy/types.js';
import { parseRunbook } from '../../lib/runbook/loader.js';
import { coerceParams, type RawParamValue } from '../../lib/runbook/params.js';
import { SEARCH_ATTRIBUTES } from '../../lib/search-attributes.js';
import { findTestServer } from '../../lib/temporal-bin.js';
import {
  abortUpdate,
  approveUpdate,
  confirmItemUpdate,
  markPersonalDataUpdate,
  noteUpdate,
  overrideUpdate,
  resolveUpdate,
  retryUpdate,
  statusQuery,
  waiveItemUpdate,
  type ActionInput,
  type ActionResult,
  type Actor,
  type IncidentInput,
  type IncidentStatus,
  type Mode,
} from '../../workflows/definitions.js';

export const DECLARER = 'olga';
export const APPROVERS = { responders: ['alice', 'bob', 'carol'], dba: ['dora'] };
export const actor = (user: string): Actor => ({ user, host: 'test', via: 'api' });

/** Everyone the tests name has a registered key (mallory too: registered, but in no group). */
const PEOPLE = ['olga', 'alice', 'bob', 'carol', 'dora', 'mallory'];
/** Drill robots: valid only in drill mode on a drill target. */
export const ROBOTS = ['robot-1', 'robot-2'];
const KEYS = new Map<string, KeyPair>([...PEOPLE, ...ROBOTS].map((name) => [name, ephemeralKeyPair()]));
export const REGISTRY: Registry = {
  responders: PEOPLE.map((name) => {
    const key = KEYS.get(name) as KeyPair;
    return { name, keys: [{ id: key.keyId, publicKey: encodeBase64(key.publicKey) }] };
  }),
  services: ROBOTS.map((name) => {
    const key = KEYS.get(name) as KeyPair;
    return { name, kind: 'drill-robot' as const, keys: [{ id: key.keyId, publicKey: encodeBase64(key.publicKey) }], may: ['declare', 'approve', 'resolve', 'abort'] as StatementKind[] };
  }),
};
/** A person as a front door knows them: their name and their key's signer (a stranger gets a key nobody registered). */
export function principal(user: string): Principal {
  let key = KEYS.get(user);
  if (!key) KEYS.set(user, (key = ephemeralKeyPair()));
  // Signed at the test server's time, as a person's clock agrees with the worker's.
  return { ...actor(user), signer: keyPairSigner(key, ROBOTS.includes(user) ? 'drill' : 'cli', async () => new Date(await theEnv().currentTimeMs())) };
}
const HARNESS_SKEW_MS = 5 * 60_000;

/** What a stub does for one call: a result, or throw (an Error, or an ApplicationFailure for a typed failure). */
export type Stub = (input: ActionInput, attempt: number) => ActionResult | Promise<ActionResult>;

/** The undo each reversible action returns by default, as the real activities do. */
const UNDO_OF: Record<string, string> = {
  'lockdown.enable': 'lockdown.disable',
  'database.read_only': 'database.read_write',
  'network.ban_ips': 'network.unban_ips',
  'tokens.disable_users': 'tokens.enable_users',
};

export interface Call {
  activity: string;
  /** Step id as the activity sees it (`<step>.undo` for an undo). */
  step: string;
  args: Record<string, unknown>;
  approvedHash?: string;
}

let env: TestWorkflowEnvironment | undefined;
let queues = 0;

/** One time-skipping server per test file (call in beforeAll; `stopEngine` in afterAll). */
export async function startEngine(): Promise<TestWorkflowEnvironment> {
  // Expected failures (stubs that throw, undo failures) need not flood the output.
  Runtime.install({
    logger: new DefaultLogger('ERROR', () => undefined),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR', other: 'ERROR' }), forward: {} } },
  });
  env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: findTestServer() } } });
  // The test server knows no custom search attributes until they are registered.
  const keyword = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(Object.keys(SEARCH_ATTRIBUTES).map((name) => [name, keyword])),
  });
  return env;
}

export async function stopEngine(): Promise<void> {
  await env?.teardown();
  env = undefined;
}

function theEnv(): TestWorkflowEnvironment {
  if (!env) throw new Error('startEngine() first');
  return env;
}

export interface IncidentOptions {
  /** Runbook YAML (the `name:` must be `t`). */
  runbook: string;
  params?: Record<string, RawParamValue>;
  mode?: Mode;
  /** Stubs by activity name (e.g. `lockdownEnable`); others succeed. */
  stubs?: Record<string, Stub>;
  approvers?: Record<string, string[]>;
  declaredAt?: string;
  /** A target marked for local development: nothing signed, the incident marked unauthenticated. */
  unauthenticated?: boolean;
  /** The worker's policy marks the target as a drill target. */
  drillTarget?: boolean;
  /** Who declares (default DECLARER). */
  declarer?: string;
  /** The worker's config gives the target a Slack channel (stub notifyOpenChannel and notifyEvent). */
  notify?: boolean;
  /** The worker keeps the audit log (stub auditAppend; auditArchive is stubbed to archive at once). */
  audit?: boolean;
}

export interface Incident {
  handle: WorkflowHandle;
  id: string;
  env: TestWorkflowEnvironment;
  /** Every activity call in the order the worker ran them. */
  calls: Call[];
  status(): Promise<IncidentStatus>;
  /** Poll the status (real time) until `done` holds; time does not move meanwhile. */
  until(done: (s: IncidentStatus) => boolean, what?: string): Promise<IncidentStatus>;
  approve(gate: string, user: string, argsHash?: string, comment?: string): Promise<unknown>;
  resolve(user: string): Promise<unknown>;
  abort(user: string, reason?: string): Promise<unknown>;
  retry(user: string): Promise<string[]>;
  note(user: string, text: string): Promise<number>;
  confirm(step: string, item: string, user: string, note?: string): Promise<unknown>;
  waive(step: string, item: string, user: string, reason?: string): Promise<unknown>;
  override(step: string, user: string, reason: string): Promise<unknown>;
  markPersonalData(user: string, opts?: { awareAt?: string; highRisk?: boolean }): Promise<unknown>;
  /** The workflow's result (time skips while waiting). */
  result(): Promise<IncidentStatus>;
}

/** The message a refused update carries (the validator's text). */
export async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) return err.cause?.message ?? err.message;
    throw err;
  }
  throw new Error('the update was accepted');
}

export function incidentInput(opts: IncidentOptions, incidentId: string): IncidentInput {
  const snapshot = parseRunbook(opts.runbook, 't.yaml');
  return {
    incidentId,
    runbook: snapshot,
    params: coerceParams(snapshot.doc, opts.params ?? {}),
    severity: snapshot.doc.severity,
    mode: opts.mode ?? 'live',
    target: 'local',
    declaredBy: actor(DECLARER),
    declaredAt: opts.declaredAt ?? new Date().toISOString(),
    capabilities: ['redis'],
  };
}

/** The worker's policy activity, as a stub worker whose registry is REGISTRY: it verifies the declaration for real. */
function policyStub(opts: IncidentOptions) {
  return async (req: PolicyRequest): Promise<PolicyVerdict> => {
    const base = {
      target: req.facts.target,
      production: false,
      drillTarget: Boolean(opts.drillTarget),
      registry: REGISTRY,
      approvers: opts.approvers ?? APPROVERS,
      approversSource: '/etc/firebreak/test.yaml',
      gates: [],
      personalVote: false,
      skewMs: HARNESS_SKEW_MS,
      runbook: req.clientRunbook,
      ...(opts.notify && { notify: { slack: true as const } }),
      ...(opts.audit && { audit: { archive: true } }),
    };
    if (opts.unauthenticated) return { ok: true, policy: { ...base, authenticated: false, declarer: { responder: req.claimedDeclarer, via: 'unauthenticated' } } };
    const verdict = verifyDecision(req.declaration, {
      registry: REGISTRY,
      expect: { kind: 'declare', incidentId: req.facts.incidentId, argsHash: declarationHash(req.facts) },
      now: new Date(await theEnv().currentTimeMs()).toISOString(),
      skewMs: HARNESS_SKEW_MS,
      seenNonces: new Set(),
      mode: req.facts.mode,
      drillTarget: Boolean(opts.drillTarget),
    });
    if (!verdict.ok) return { ok: false, problem: `declaration refused (${verdict.reason}): ${verdict.message}` };
    return { ok: true, policy: { ...base, authenticated: true, declarer: { responder: verdict.responder, via: verdict.via, keyId: verdict.keyId }, declaration: req.declaration } };
  };
}

/** `calls` gets every action call; `record` (a fleet's) routes it to its incident. */
function stubActivities(calls: Call[] | ((incidentId: string, call: Call) => void), opts: IncidentOptions): Record<string, (input: never) => Promise<unknown>> {
  const record = typeof calls === 'function' ? calls : (_: string, call: Call) => void calls.push(call);
  const stubs = opts.stubs ?? {};
  const attempts = new Map<string, number>();
  const out: Record<string, (input: never) => Promise<unknown>> = {
    validateIncidentArgs: async () => ({ problems: [] }),
    effectiveStepArgs: async (input: { args: Record<string, unknown> }) => input.args,
    loadIncidentPolicy: policyStub(opts),
    refreshRegistry: async () => ({ registry: REGISTRY }),
    auditArchive: async () => ({ archived: true, runId: 'stub', events: 0, sha256: '0'.repeat(64) }),
  };
  for (const [name, entry] of Object.entries(ACTIONS)) {
    const spec: ActionSpec = entry;
    if (!spec.activity) continue;
    const activity = spec.activity;
    out[activity] = async (input: ActionInput) => {
      record(input.incidentId, { activity, step: input.stepId, args: input.args, ...(input.approvedHash ? { approvedHash: input.approvedHash } : {}) });
      const key = `${input.incidentId}/${input.stepId}/${activity}`;
      const attempt = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, attempt);
      const stub = stubs[activity];
      if (stub) return stub(input, attempt);
      const undo = UNDO_OF[name];
      return { summary: `${name} done`, changed: true, ...(undo ? { undo: { action: undo, args: { of: input.stepId } } } : {}) };
    };
  }
  const actionActivities = new Set<string>(Object.values(ACTIONS as Record<string, ActionSpec>).flatMap((a) => (a.activity ? [a.activity] : [])));
  for (const [name, stub] of Object.entries(stubs)) if (!actionActivities.has(name)) out[name] = async (input: ActionInput) => stub(input, 1);
  return out;
}

/** Start an incident on its own task queue and worker; `fn` runs while the worker does. */
export async function withIncident<T>(opts: IncidentOptions, fn: (incident: Incident) => Promise<T>): Promise<T> {
  const e = theEnv();
  const taskQueue = `engine-${process.pid}-${++queues}`;
  const calls: Call[] = [];
  const worker = await Worker.create({
    connection: e.nativeConnection,
    taskQueue,
    workflowBundle: { codePath: inject('workflowBundle') },
    activities: stubActivities(calls, opts),
  });
  const id = `INC-T-${taskQueue}`;
  return worker.runUntil(async () => fn(await startIncident(e, taskQueue, id, calls, opts)));
}

/** Start the workflow of one incident (signed declaration) on `taskQueue`, and the handle tests steer it with. */
async function startIncident(e: TestWorkflowEnvironment, taskQueue: string, id: string, calls: Call[], opts: IncidentOptions): Promise<Incident> {
  const input = incidentInput(opts, id);
  const declaration = opts.unauthenticated ? undefined : await signDeclaration(principal(opts.declarer ?? DECLARER), input);
  const handle = await e.client.workflow.start<(input: IncidentInput) => Promise<IncidentStatus>>('IncidentWorkflow', { taskQueue, workflowId: `firebreak-${id}`, args: [{ ...input, ...(declaration && { declaration }) }] });
  const update = <R, A>(def: UpdateDefinition<R, [A]>, arg: A): Promise<R> => handle.executeUpdate(def, { args: [arg] });
  /** The actor and, unless unauthenticated, the user's signed statement of the decision. */
  const who = (user: string, d: DecisionInput) => (opts.unauthenticated ? Promise.resolve({ actor: actor(user) }) : signDecision(principal(user), id, d));
  const status = (): Promise<IncidentStatus> => handle.query(statusQuery);
  const incident: Incident = {
    handle,
    id,
    env: e,
    calls,
    status,
    async until(done, what = 'a condition') {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const s = await status();
        if (done(s)) return s;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: state ${s.state}, phase ${s.phase}, steps ${s.steps.map((x) => `${x.id}=${x.state}`).join(' ')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async approve(gate, user, argsHash, comment) {
      const hash = argsHash ?? (await status()).gates.find((g) => g.id === gate && g.state === 'open')?.argsHash ?? '0'.repeat(64);
      return update(approveUpdate, { gate, argsHash: hash, ...(comment !== undefined && { comment }), ...(await who(user, { kind: 'approve', gate, argsHash: hash })) });
    },
    async resolve(user) {
      const open = (await status()).gates.find((g) => (g.id === 'resolve' || g.id === 'rollback') && g.state === 'open');
      return update(resolveUpdate, await who(user, { kind: 'resolve', gate: open?.id ?? 'resolve', argsHash: open?.argsHash ?? '' }));
    },
    abort: async (user, reason = 'test abort') => update(abortUpdate, { reason, ...(await who(user, { kind: 'abort', reason })) }),
    retry: async (user) => update(retryUpdate, await who(user, { kind: 'retry' })),
    note: async (user, text) => update(noteUpdate, { text, ...(await who(user, { kind: 'note', text })) }),
    confirm: async (step, item, user, note) => update(confirmItemUpdate, { step, item, note, ...(await who(user, { kind: 'confirm', step, item, note })) }),
    waive: async (step, item, user, reason) => update(waiveItemUpdate, { step, item, note: reason, ...(await who(user, { kind: 'waive', step, item, note: reason })) }),
    override: async (step, user, reason) => update(overrideUpdate, { step, reason, ...(await who(user, { kind: 'override', step, reason })) }),
    markPersonalData: async (user, o = {}) => update(markPersonalDataUpdate, { ...o, ...(await who(user, { kind: 'personal-data', ...o })) }),
    result: () => handle.result(),
  };
  return incident;
}

/** Several incidents on one worker and task queue (what one fleet's stubs see, they see for every incident: route by `input.incidentId`). */
export interface Fleet {
  /** Declare an incident on the fleet's worker (named `name`: its id is `idFor(name)`, known before it starts); its `calls` are its own. */
  declare(opts: Pick<IncidentOptions, 'runbook' | 'params' | 'mode' | 'declaredAt' | 'declarer'>, name?: string): Promise<Incident>;
  idFor(name: string): string;
  env: TestWorkflowEnvironment;
}

/** A worker for many incidents at once (start them concurrently: one worker is much cheaper than one per incident); `fn` runs while it does. */
export async function withFleet<T>(opts: Omit<IncidentOptions, 'runbook' | 'params' | 'mode' | 'declaredAt' | 'declarer'>, fn: (fleet: Fleet) => Promise<T>): Promise<T> {
  const e = theEnv();
  const taskQueue = `engine-${process.pid}-${++queues}`;
  const byIncident = new Map<string, Call[]>();
  const worker = await Worker.create({
    connection: e.nativeConnection,
    taskQueue,
    workflowBundle: { codePath: inject('workflowBundle') },
    activities: stubActivities((incidentId, call) => byIncident.get(incidentId)?.push(call), { ...opts, runbook: '' }),
    // Many workflows at once: the sandbox is the busy part, let it use both cores.
    workflowThreadPoolSize: 2,
  });
  let n = 0;
  const fleet: Fleet = {
    env: e,
    idFor: (name) => `INC-T-${taskQueue}-${name}`,
    async declare(o, name = String(++n)) {
      const id = fleet.idFor(name);
      if (byIncident.has(id)) throw new Error(`incident ${name} was already declared on this fleet`);
      const calls: Call[] = [];
      byIncident.set(id, calls);
      return startIncident(e, taskQueue, id, calls, { ...opts, ...o });
    },
  };
  return worker.runUntil(() => fn(fleet));
}

/** A runbook from its phases (YAML lines under `phases:`, indented two spaces) and optional header lines. */
export function runbook(phases: string[], head: string[] = []): string {
  return ['name: t', 'title: Test', 'severity: high', ...head, 'phases:', ...phases.map((l) => `  ${l}`)].join('\n');
}

export const MINUTE = 60_000;

/**
 * A worker running IncidentWorkflow with the stubbed actions and DrillWorkflow with `drill`
 * (its activities, built for the task queue the test gets): drills are started by the test.
 */
export async function withDrillWorker<T>(
  opts: Omit<IncidentOptions, 'runbook'>,
  drill: (taskQueue: string) => Record<string, (input: never) => Promise<unknown>>,
  fn: (ctx: { env: TestWorkflowEnvironment; taskQueue: string; calls: Call[] }) => Promise<T>,
): Promise<T> {
  const e = theEnv();
  const taskQueue = `engine-${process.pid}-${++queues}`;
  const calls: Call[] = [];
  const worker = await Worker.create({
    connection: e.nativeConnection,
    taskQueue,
    workflowBundle: { codePath: inject('workflowBundle') },
    activities: { ...stubActivities(calls, { ...opts, runbook: '' }), ...drill(taskQueue) },
  });
  return worker.runUntil(() => fn({ env: e, taskQueue, calls }));
}
