/**
 * With payload encryption configured, a client without the key can neither steer nor start
 * an incident — and it cannot freeze one either: the worker refuses its plaintext without
 * failing a workflow task. Failure messages are encrypted like every other payload.
 */
import { randomBytes } from 'node:crypto';
import { Client, WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import proto from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codecFromConfig } from '../../lib/codec.js';
import { PLAINTEXT_REFUSED } from '../../lib/data-converters.cjs';
import { convertersPath } from '../../lib/temporal-connection.js';
import { approveGate, declareIncident, getStatus, prepareDeclaration, resolveIncident, startDeclared, TERMINAL, waitFor } from '../../lib/incidents/index.js';
import { signDecision } from '../../lib/incidents/sign.js';
import { approveUpdate, statusQuery, type ApproveInput, type IncidentStatus } from '../../workflows/definitions.js';
import { DECLARER, startStack, type Stack } from '../helpers/firebreak.js';

const EventType = proto.temporal.api.enums.v1.EventType;
const CANARY = `fbt-ca-canary-${randomBytes(8).toString('hex')}`;

let stack: Stack;
/** What anyone who can reach Temporal has: a connection, no payload key. */
let keyless: Client;

beforeAll(async () => {
  process.env.FBT_REQUIRED_PAYLOAD_KEY = randomBytes(32).toString('base64');
  stack = await startStack('enc-required', {
    extraConfig: ['encryption:', '  current: k1', '  keys:', '    - { id: k1, secret: { env: FBT_REQUIRED_PAYLOAD_KEY } }'].join('\n'),
    // The probe cannot read this CA file: its failure message names the path, canary included.
    targetExtra: `    app: { url: "https://127.0.0.1:9/", caFile: "/nonexistent/${CANARY}/ca.pem" }`,
  });
  stack.writeRunbook(
    'probe-only',
    ['name: probe-only', 'title: One probe that fails', 'severity: low', 'phases:', '  recovery:', '    - id: probe', '      action: deploy.probe'].join('\n'),
  );
  keyless = new Client({ connection: stack.client.connection, namespace: stack.config.temporal.namespace });
});

afterAll(async () => {
  await stack?.stop();
});

/** Decrypts what it reads, sends plaintext: to read the worker's (encrypted) reason for a refusal. */
function plaintextSender(): Client {
  const codec = codecFromConfig(stack.config)!;
  return new Client({
    connection: stack.client.connection,
    namespace: stack.config.temporal.namespace,
    dataConverter: { failureConverterPath: convertersPath(), payloadCodecs: [{ encode: async (p) => p, decode: (p) => codec.decode(p) }] },
  });
}

const until = (id: string, pred: (s: IncidentStatus) => boolean) => waitFor(stack.client, id, pred, { timeoutMs: 30_000, intervalMs: 100 });

async function eventTypes(handle: WorkflowHandle): Promise<number[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).map((e) => Number(e.eventType));
}

describe('a keyless client', () => {
  it('sending a correctly signed approval in plaintext is refused: no vote, no failed workflow task, the flag untouched', async () => {
    const { id, workflowId } = await declareIncident(stack.client, stack.config, {
      runbook: 'token-leak',
      params: { reason: 'keyless vote', lockdown: true },
      actor: stack.actor(DECLARER),
    });
    const open = (await until(id, (s) => s.state === 'awaiting-approval')).gates.find((g) => g.id === 'lockdown');
    expect(open?.state).toBe('open');

    // alice's genuine signature: only the missing encryption stands in the way.
    const vote = async (): Promise<[ApproveInput]> => {
      const who = await signDecision(stack.actor('alice'), id, { kind: 'approve', gate: 'lockdown', argsHash: open!.argsHash });
      return [{ gate: 'lockdown', argsHash: open!.argsHash, ...who }];
    };
    // Rejected; the keyless client cannot even read why (the rejection is encrypted too).
    const raw = keyless.workflow.getHandle(workflowId);
    await expect(raw.executeUpdate(approveUpdate, { args: await vote() })).rejects.toThrow();
    // A client that reads with the key but sends plaintext sees the reason.
    const sender = plaintextSender().workflow.getHandle(workflowId);
    const err = await sender.executeUpdate(approveUpdate, { args: await vote() }).then(
      () => undefined,
      (e: unknown) => e,
    );
    // The cause chain says what went wrong if this is an RPC error instead (e.g. a timeout on a loaded machine).
    expect(err, `${String(err)} / ${String((err as Error | undefined)?.cause)}`).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((err as WorkflowUpdateFailedError).cause).toMatchObject({ type: PLAINTEXT_REFUSED, message: expect.stringMatching(/payload refused: it is not encrypted/) });

    // A plaintext query argument fails the query, nothing more (a failed query returns only
    // the failure's message, which is encoded).
    await expect(sender.query(statusQuery, ...([{ forged: true }] as unknown as []))).rejects.toThrow(/^Encoded failure$/);

    const s = await getStatus(stack.client, id);
    expect(s.state).toBe('awaiting-approval');
    expect(s.gates.find((g) => g.id === 'lockdown')?.approvals).toEqual([]);
    expect(await stack.redis.redis.get(stack.flagKey)).toBeNull();
    const types = await eventTypes(raw);
    expect(types).not.toContain(EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED);
    expect(types).not.toContain(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED);

    // The same person's vote through an encrypting client counts: the refusal was the plaintext.
    const gate = await approveGate(stack.client, id, 'lockdown', stack.actor('alice'));
    expect(gate.approvals.map((v) => v.by)).toEqual(['alice']);
    await stack.client.workflow.getHandle(workflowId).terminate('test done');
  });

  it('starting a correctly signed lockdown in plaintext: the workflow fails at once, refused, and nothing is done', async () => {
    const prepared = prepareDeclaration(stack.config, { runbook: 'lockdown', params: { reason: 'keyless start' }, actor: stack.actor(DECLARER) });
    const { workflowId } = await startDeclared(keyless, prepared);

    // The encrypting client reads the (encrypted) failure: the workflow function never ran.
    const failed = await stack.client.workflow.getHandle(workflowId).result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(WorkflowFailedError);
    const cause = (failed as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause).toMatchObject({ type: PLAINTEXT_REFUSED, nonRetryable: true });
    expect(cause.message).toMatch(/payload refused: it is not encrypted/);
    expect((await keyless.workflow.getHandle(workflowId).describe()).status.name).toBe('FAILED');

    const types = await eventTypes(keyless.workflow.getHandle(workflowId));
    expect(types).not.toContain(EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED);
    expect(types).not.toContain(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
    expect(types).not.toContain(EventType.EVENT_TYPE_MARKER_RECORDED); // no local activity (the policy load) either
    expect(types.at(-1)).toBe(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED);
    expect(await stack.redis.redis.get(stack.flagKey)).toBeNull();

    // The same declaration, encrypted, locks down: the refusal was the plaintext.
    const ok = await declareIncident(stack.client, stack.config, { runbook: 'lockdown', params: { reason: 'keyed start' }, actor: stack.actor(DECLARER) });
    await until(ok.id, (s) => s.state === 'awaiting-resolve');
    expect(await stack.redis.redis.get(stack.flagKey)).toBe('1');
    await resolveIncident(stack.client, ok.id, stack.actor('alice'));
    expect((await until(ok.id, (s) => TERMINAL.includes(s.state))).state).toBe('completed');
    expect(await stack.redis.redis.get(stack.flagKey)).toBeNull();
  }, 120_000);
});

it("a failed step's message is encrypted in the history: the raw bytes hold no canary, the encrypting client reads it", async () => {
  const { id, workflowId } = await declareIncident(stack.client, stack.config, { runbook: 'probe-only', actor: stack.actor(DECLARER) });
  const s = await until(id, (x) => x.state === 'blocked');
  expect(JSON.stringify(s.steps.find((x) => x.id === 'probe'))).toContain(CANARY);

  const history = await keyless.workflow.getHandle(workflowId).fetchHistory();
  const failed = history.events?.find((e) => e.activityTaskFailedEventAttributes)?.activityTaskFailedEventAttributes?.failure;
  expect(failed?.message).toBe('Encoded failure');
  expect(failed?.stackTrace ?? '').toBe('');
  const bytes = Buffer.from(proto.temporal.api.history.v1.History.encode(history).finish());
  expect(bytes.includes(Buffer.from(CANARY))).toBe(false);
  expect(bytes.includes(Buffer.from('app.caFile'))).toBe(false);
  await stack.client.workflow.getHandle(workflowId).terminate('test done');
});
