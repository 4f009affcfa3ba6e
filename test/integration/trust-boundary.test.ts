/**
 * The two-person rule against anyone who can reach Temporal (issue 10): every attempt of
 * the adversarial review, now refused with a clear reason and no effect on the target (the
 * lockdown flag in real Redis stays unset), and the positive paths with real signatures.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { PROJECT_ROOT } from '../../lib/config.js';
import { ephemeralKeyPair, publicLine, type KeyPair } from '../../lib/identity/keys.js';
import { keyPairSigner, type Signer } from '../../lib/identity/signer.js';
import type { SignedStatement } from '../../lib/identity/verify.js';
import { approveGate, declareIncident, getStatus, handleFor, prepareDeclaration, startDeclared, TERMINAL, waitFor } from '../../lib/incidents/index.js';
import { signDeclaration } from '../../lib/incidents/sign.js';
import { gateHash } from '../../lib/policy/decisions.js';
import { loadRunbook } from '../../lib/runbook/loader.js';
import { abortUpdate, approveUpdate, INCIDENT_WORKFLOW, resolveUpdate, type IncidentInput, type IncidentStatus } from '../../workflows/definitions.js';
import { lockdownHoldKeys } from '../../activities/lockdown.js';
import { runCli } from '../helpers/cli.js';
import { DECLARER, startStack, type Stack } from '../helpers/firebreak.js';

const SLACK = { alice: { team: 'T0FIRE', user: 'U0ALICE' } };
const slackKey = ephemeralKeyPair();
const intakeKey = ephemeralKeyPair();
let stack: Stack;

beforeAll(async () => {
  stack = await startStack('trust', {
    slack: SLACK,
    identityExtra: [
      '  services:',
      `    - { name: slack-app, kind: slack, keys: ["${publicLine(slackKey, 'slack-app')}"], may: [approve, resolve] }`,
      `    - { name: intake-bot, kind: intake, keys: ["${publicLine(intakeKey, 'intake-bot')}"], may: [declare, note] }`,
    ],
  });
  // One gate of one approval: the service-declared incident must need a second human.
  stack.writeRunbook(
    'one-gate',
    ['name: one-gate', 'title: One gate', 'severity: high', 'resolve:', '  approval: { count: 1, group: responders }', 'phases:', '  containment:', '    - id: lockdown', '      action: lockdown.enable', '      approval: { count: 1, group: responders }'].join('\n'),
  );
}, 120_000);
afterAll(() => stack?.stop());

const flag = () => stack.redis.redis.get(stack.flagKey);
const signer = (user: string, clock?: () => Date): Signer => keyPairSigner(stack.keys.get(user) as KeyPair, 'cli', clock);

/** A token-leak incident with the lockdown: its two-approver gate open, the flag not set. */
async function lockdownGate(): Promise<{ id: string; status: IncidentStatus; hash: string }> {
  await stack.redis.redis.del(stack.flagKey);
  const { id } = await declareIncident(stack.client, stack.config, { runbook: 'token-leak', params: { lockdown: true }, actor: stack.actor(DECLARER) });
  const status = await waitFor(stack.client, id, (s) => s.gates.some((g) => g.id === 'lockdown' && g.state === 'open'));
  const hash = status.gates.find((g) => g.id === 'lockdown')?.argsHash as string;
  return { id, status, hash };
}

/** The validator's message of a refused update (throws if it was accepted). */
async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) return err.cause?.message ?? err.message;
    if (err instanceof Error) return err.message;
  }
  throw new Error('accepted');
}

const vote = (s: Signer, id: string, gate: string, hash: string, responder: string, extra: Partial<SignedStatement['statement']> = {}) =>
  s.sign({ kind: 'approve', incidentId: id, gate, argsHash: hash, responder, ...extra });

const rawApprove = (id: string, gate: string, hash: string, actorName: string, signed?: SignedStatement) =>
  handleFor(stack.client, id).executeUpdate(approveUpdate, { args: [{ gate, argsHash: hash, actor: { user: actorName, host: 'attacker', via: 'api' }, ...(signed && { signed }) }] });

/** End a test's incident by terminating it, then release what it held by hand, as an operator would (target check lists such holds as orphaned). */
async function closeIncident(id: string): Promise<void> {
  await handleFor(stack.client, id).terminate('test done').catch(() => undefined);
  const keys = lockdownHoldKeys({ keyPrefix: stack.redis.prefix, keyVersion: 1 });
  await stack.redis.redis.hdel(keys.holds, id);
  if ((await stack.redis.redis.hlen(keys.holds)) === 0) await stack.redis.redis.del(keys.prior, keys.flag);
}

const cli = (args: string[], env: NodeJS.ProcessEnv) => runCli(args, { cwd: stack.dir, env });

describe('names are not identities', () => {
  it('FIREBREAK_USER=bob with alice’s key is refused; so is the declarer as herself; two real responders open the gate', async () => {
    const { id, hash } = await lockdownGate();
    const asBob = await cli(['approve', id, 'lockdown'], stack.cliEnv('bob', { XDG_CONFIG_HOME: stack.keyHome('alice') }));
    expect(asBob.code).toBe(1);
    expect(asBob.stderr).toMatch(/approve refused \(key-not-responders\): key ed25519:[0-9a-f]{16} is alice's, not bob's/);
    const declarer = await cli(['approve', id, 'lockdown'], stack.cliEnv(DECLARER));
    expect(declarer.code).toBe(1);
    expect(declarer.stderr).toMatch(/two-person rule: oncall-olga declared this incident/);
    const short = await cli(['approve', id, 'lockdown', '--hash', hash.slice(0, 1)], stack.cliEnv('alice'));
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/--hash takes at least 12 hex digits/);
    expect(await flag()).toBeNull();
    expect((await getStatus(stack.client, id)).gates.find((g) => g.id === 'lockdown')?.approvals).toEqual([]);

    expect((await cli(['approve', id, 'lockdown', '--hash', hash.slice(0, 12)], stack.cliEnv('alice'))).code).toBe(0);
    expect(await flag()).toBeNull();
    expect((await cli(['approve', id, 'lockdown'], stack.cliEnv('bob'))).code).toBe(0);
    const s = await waitFor(stack.client, id, (x) => x.state === 'awaiting-resolve');
    expect(await flag()).toBe('1');
    const votes = s.gates.find((g) => g.id === 'lockdown')?.approvals ?? [];
    expect(votes.map((v) => [v.by, v.via, v.keyId])).toEqual([
      ['alice', 'personal', stack.keys.get('alice')?.keyId],
      ['bob', 'personal', stack.keys.get('bob')?.keyId],
    ]);
    expect(s.identity).toEqual({ authenticated: true, declarer: { responder: DECLARER, via: 'personal', keyId: stack.keys.get(DECLARER)?.keyId } });
    await closeIncident(id);
  });

  it('a keyless client’s approve, abort and resolve as carol are refused; an unregistered key claiming carol too', async () => {
    const { id, hash } = await lockdownGate();
    expect(await refusal(rawApprove(id, 'lockdown', hash, 'carol'))).toMatch(/requires signed decisions and this approve is not signed/);
    const h = handleFor(stack.client, id);
    expect(await refusal(h.executeUpdate(abortUpdate, { args: [{ reason: 'x', actor: { user: 'carol', host: 'h', via: 'api' } }] }))).toMatch(/this abort is not signed/);
    expect(await refusal(h.executeUpdate(resolveUpdate, { args: [{ actor: { user: 'carol', host: 'h', via: 'api' } }] }))).toMatch(/resolve is accepted once/);
    const stranger = keyPairSigner(ephemeralKeyPair());
    expect(await refusal(rawApprove(id, 'lockdown', hash, 'carol', await vote(stranger, id, 'lockdown', hash, 'carol')))).toMatch(/unknown-key/);
    const s = await getStatus(stack.client, id);
    expect(s.state).toBe('awaiting-approval');
    expect(s.gates.find((g) => g.id === 'lockdown')?.approvals).toEqual([]);
    expect(await flag()).toBeNull();
    await closeIncident(id);
  });
});

describe('forged incidents', () => {
  it('a keyless start as “ceo via slack” with invented approvers is rejected before anything acts', async () => {
    await stack.redis.redis.del(stack.flagKey);
    const prepared = prepareDeclaration(stack.config, { runbook: 'lockdown', actor: stack.actor(DECLARER) });
    const input: IncidentInput = { ...prepared.input, declaredBy: { user: 'ceo', host: 'x', via: 'slack' }, approvers: { responders: ['puppet1', 'puppet2'] } };
    const handle = await stack.client.workflow.start(INCIDENT_WORKFLOW, { workflowId: `firebreak-${input.incidentId}`, taskQueue: stack.config.temporal.taskQueue, args: [input] });
    const s = (await handle.result()) as IncidentStatus;
    expect(s.state).toBe('rejected');
    expect(s.rejection?.[0]?.message).toMatch(/target "local" requires a signed declaration/);
    expect(s.steps.every((x) => x.state === 'pending')).toBe(true);
    expect(await flag()).toBeNull();
  });

  it('a copy of a runbook with the gates removed is refused at the CLI and, signed and started directly, by the worker', async () => {
    await stack.redis.redis.del(stack.flagKey);
    // Same name and title as the worker's, in a folder of the attacker's.
    mkdirSync(join(stack.dir, 'mine'), { recursive: true });
    const copy = join(stack.dir, 'mine', 'token-leak.yaml');
    const doc = loadRunbook(stack.runbooksDir, 'token-leak');
    writeFileSync(copy, doc.content.replace(/\n\s+approval: \{ count: 2, group: responders, escalate_after: 15m \}/g, ''));
    const r = await cli(['declare', copy, '--set', 'lockdown=true'], stack.cliEnv(DECLARER));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is a file: target local runs only the worker's own runbooks/);

    // Signed by a real responder over the doctored content: still not the worker's runbook.
    const dev = { ...stack.config, targets: { ...stack.config.targets, local: { ...stack.config.targets.local!, development: true } } };
    const prepared = prepareDeclaration(dev, { runbook: copy, params: { lockdown: true }, actor: stack.actor(DECLARER) });
    expect(prepared.input.runbook.doc.phases.containment.find((x) => x.id === 'lockdown')?.approval).toBeUndefined();
    const declaration = await signDeclaration(stack.actor(DECLARER), prepared.input);
    const handle = await stack.client.workflow.start(INCIDENT_WORKFLOW, { workflowId: `firebreak-${prepared.input.incidentId}`, taskQueue: stack.config.temporal.taskQueue, args: [{ ...prepared.input, declaration }] });
    const s = (await handle.result()) as IncidentStatus;
    expect(s.state).toBe('rejected');
    expect(s.rejection?.[0]?.message).toMatch(/is not the worker's copy/);
    expect(await flag()).toBeNull();
  });

  it('a dedup key held by a workflow the worker never verified is not joined', async () => {
    const prepared = prepareDeclaration(stack.config, { runbook: 'lockdown', dedupKey: 'lockdown:local', actor: stack.actor(DECLARER) });
    // Squatting: the dedup key on a workflow whose type our worker does not run (it stays open, unverified).
    await stack.client.workflow.start('NotAnIncident', {
      workflowId: `firebreak-${prepared.input.incidentId}`,
      taskQueue: stack.config.temporal.taskQueue,
      args: [],
      typedSearchAttributes: [{ key: (await import('../../lib/search-attributes.js')).SA.dedupKey, value: 'lockdown:local' }],
    });
    const again = prepareDeclaration(stack.config, { runbook: 'lockdown', dedupKey: 'lockdown:local', actor: stack.actor(DECLARER) });
    await expect(waitForListed(() => startDeclared(stack.client, again))).rejects.toThrow(/holds dedup key lockdown:local but the worker never verified its declaration/);
    await closeIncident(prepared.input.incidentId);
  });
});

/** Visibility is eventually consistent: retry until the squatter is listed (the call then refuses). */
async function waitForListed<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await fn().catch((err: unknown) => err);
    if (res instanceof Error && /never verified/.test(res.message)) throw res;
    if (Date.now() > deadline) return res as T;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('replayed, stale and misattributed statements', () => {
  it('a vote replayed on another incident, on the same gate, as another kind, or 10 minutes old is refused', async () => {
    const a = await lockdownGate();
    const b = await lockdownGate();
    expect(a.hash).not.toBe(b.hash); // the hash binds the incident id: one incident's hash is no use on another
    expect(a.hash).toBe(gateHash(a.id, 'lockdown.enable', a.status.gates[0]?.args ?? {}));
    const aliceOnA = await vote(signer('alice'), a.id, 'lockdown', a.hash, 'alice');
    await rawApprove(a.id, 'lockdown', a.hash, 'alice', aliceOnA);
    expect(await refusal(rawApprove(b.id, 'lockdown', b.hash, 'alice', aliceOnA))).toMatch(/wrong-incident/);
    expect(await refusal(rawApprove(a.id, 'lockdown', a.hash, 'alice', aliceOnA))).toMatch(/nonce-reused/);
    const asResolve = handleFor(stack.client, a.id).executeUpdate(resolveUpdate, { args: [{ actor: { user: 'alice', host: 'h', via: 'api' }, signed: aliceOnA }] });
    expect(await refusal(asResolve)).toMatch(/resolve is accepted once/);
    const old = await vote(signer('bob', () => new Date(Date.now() - 10 * 60_000)), a.id, 'lockdown', a.hash, 'bob');
    expect(await refusal(rawApprove(a.id, 'lockdown', a.hash, 'bob', old))).toMatch(/timestamp-skew/);
    const s = await getStatus(stack.client, a.id);
    expect(s.gates.find((g) => g.id === 'lockdown')?.approvals.map((v) => v.by)).toEqual(['alice']);
    expect(await flag()).toBeNull();
    await closeIncident(a.id);
    await closeIncident(b.id);
  });

  it('Slack: an attested vote counts only from the Slack app’s key for the mapped user; the app never votes as itself', async () => {
    const { id, hash } = await lockdownGate();
    const slack = keyPairSigner(slackKey, 'slack');
    const forgedBy = keyPairSigner(stack.keys.get('mallory') as KeyPair, 'slack');
    const attests = { slack: SLACK.alice };
    expect(await refusal(rawApprove(id, 'lockdown', hash, 'alice', await vote(forgedBy, id, 'lockdown', hash, 'alice', { attests })))).toMatch(/key-not-responders|bad-attestation|front-door-mismatch/);
    expect(await refusal(rawApprove(id, 'lockdown', hash, 'bob', await vote(slack, id, 'lockdown', hash, 'bob', { attests })))).toMatch(/slack-id-not-mapped/);
    expect(await refusal(rawApprove(id, 'lockdown', hash, 'slack-app', await vote(slack, id, 'lockdown', hash, 'slack-app')))).toMatch(/service-voting-as-itself/);
    expect(await flag()).toBeNull();
    await rawApprove(id, 'lockdown', hash, 'alice', await vote(slack, id, 'lockdown', hash, 'alice', { attests }));
    await approveGate(stack.client, id, 'lockdown', stack.actor('bob'));
    const s = await waitFor(stack.client, id, (x) => x.state === 'awaiting-resolve');
    expect(s.gates.find((g) => g.id === 'lockdown')?.approvals.map((v) => [v.by, v.via])).toEqual([
      ['alice', 'attested'],
      ['bob', 'personal'],
    ]);
    expect(await flag()).toBe('1');
    await closeIncident(id);
  });

  it('an incident a service declared needs one more human: one approval does not open a count 1 gate', async () => {
    await stack.redis.redis.del(stack.flagKey);
    const intake = { user: 'intake-bot', host: 'intake', via: 'api' as const, signer: keyPairSigner(intakeKey, 'intake') };
    const prepared = prepareDeclaration(stack.config, { runbook: 'one-gate', actor: intake });
    const { id } = await startDeclared(stack.client, prepared);
    const open = await waitFor(stack.client, id, (s) => s.gates.some((g) => g.id === 'lockdown' && g.state === 'open'));
    expect(open.identity?.declarer).toMatchObject({ responder: 'intake-bot', via: 'service', service: 'intake-bot' });
    expect(open.gates.find((g) => g.id === 'lockdown')?.required).toBe(2);
    await approveGate(stack.client, id, 'lockdown', stack.actor('alice'));
    await new Promise((r) => setTimeout(r, 500));
    expect((await getStatus(stack.client, id)).state).toBe('awaiting-approval');
    expect(await flag()).toBeNull();
    await approveGate(stack.client, id, 'lockdown', stack.actor('bob'));
    await waitFor(stack.client, id, (x) => x.state === 'awaiting-resolve');
    expect(await flag()).toBe('1');
    await closeIncident(id);
  });
});

describe('a rogue poller', () => {
  it('schedules Firebreak’s mutating activities itself: refused without a declaration, with another incident’s, and without the gate’s votes', async () => {
    await stack.redis.redis.del(stack.flagKey);
    const { id } = await lockdownGate();
    const started = (await handleFor(stack.client, id).fetchHistory()).events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    const real = defaultPayloadConverter.fromPayload<IncidentInput>(started as Payload);
    expect(real.declaration).toBeDefined();
    const input = (over: object) => ({ incidentId: id, stepId: 'lockdown', action: 'lockdown.enable', target: 'local', mode: 'live', args: { reason: 'rogue' }, requestedAt: new Date().toISOString(), ...over });

    const connection = await NativeConnection.connect({ address: inject('temporalAddress') });
    const rogueQueue = `rogue-${process.pid}`;
    const rogue = await Worker.create({ connection, taskQueue: rogueQueue, workflowsPath: join(PROJECT_ROOT, 'test/fixtures/rogue/workflows.ts') });
    const running = rogue.run();
    const attempt = (over: object) =>
      stack.client.workflow.execute('RogueWorkflow', { taskQueue: rogueQueue, workflowId: `rogue-${Date.now()}-${Math.random()}`, args: [stack.config.temporal.taskQueue, 'lockdownEnable', input(over)] }) as Promise<string>;
    try {
      expect(await attempt({})).toMatch(/refused by the worker: no signed declaration came with it/);
      expect(await attempt({ incidentId: 'INC-20990101-rogue', authz: { declaration: real.declaration } })).toMatch(/the declaration is for incident .*, not INC-20990101-rogue/);
      expect(await attempt({ authz: { declaration: real.declaration } })).toMatch(/step lockdown is gated and came without the hash|needs 2 signed approval/);
      const fake = await vote(signer(DECLARER), id, 'lockdown', 'a'.repeat(64), DECLARER);
      expect(await attempt({ approvedHash: 'a'.repeat(64), authz: { declaration: real.declaration, votes: [fake] } })).toMatch(/needs 2 signed approval\(s\).*has 0 \(not counted: oncall-olga: declared the incident\)/);
      expect(await flag()).toBeNull();
    } finally {
      rogue.shutdown();
      await running.catch(() => undefined);
      await connection.close().catch(() => undefined);
      await closeIncident(id);
    }
  }, 120_000);
});

describe('abort is not a way around the all-clear', () => {
  it('one person’s abort of a two-approver lockdown leaves it in force until the rollback is approved', async () => {
    const { id } = await lockdownGate();
    await approveGate(stack.client, id, 'lockdown', stack.actor('alice'));
    await approveGate(stack.client, id, 'lockdown', stack.actor('bob'));
    await waitFor(stack.client, id, (x) => x.state === 'awaiting-resolve');
    const abort = await cli(['abort', id, '--reason', 'declarer alone'], stack.cliEnv(DECLARER));
    expect(abort.code).toBe(0);
    await waitFor(stack.client, id, (x) => x.state === 'rolling-back');
    expect(await flag()).toBe('1');
    expect((await cli(['resolve', id], stack.cliEnv('carol'))).code).toBe(0);
    const s = await waitFor(stack.client, id, (x) => TERMINAL.includes(x.state));
    expect(s.state).toBe('aborted');
    expect(await flag()).toBeNull();
  });
});

describe('keys change', () => {
  it('a key revoked in the worker’s config takes effect on open incidents: the re-check refuses its vote, the next gate refuses it outright', async () => {
    const before = await lockdownGate();
    const original = readFileSync(stack.configFile, 'utf8');
    const line = publicLine(stack.keys.get('alice') as KeyPair, 'alice');
    const revokedAt = new Date(Date.now() - 1_000).toISOString();
    writeFileSync(stack.configFile, original.replace(`keys: ["${line}"]`, `keys: [{ key: "${line}", revokedAt: "${revokedAt}" }]`));
    try {
      // The gate opened before the revocation judged with the registry it read then; the worker acting re-checks with today's.
      await approveGate(stack.client, before.id, 'lockdown', stack.actor('alice'));
      await approveGate(stack.client, before.id, 'lockdown', stack.actor('bob'));
      const blocked = await waitFor(stack.client, before.id, (x) => x.steps.find((st) => st.id === 'lockdown')?.state === 'failed');
      expect(blocked.steps.find((st) => st.id === 'lockdown')?.error).toMatch(/needs 2 signed approval\(s\).*has 1 \(not counted: alice: key-revoked\)/);
      expect(await flag()).toBeNull();

      const after = await lockdownGate();
      const refused = await refusal(approveGate(stack.client, after.id, 'lockdown', stack.actor('alice')));
      expect(refused).toMatch(/approve refused \(key-revoked\): key ed25519:[0-9a-f]{16} was revoked at /);
      expect(await flag()).toBeNull();
      await closeIncident(after.id);
    } finally {
      writeFileSync(stack.configFile, original);
      await closeIncident(before.id);
    }
  });
});
