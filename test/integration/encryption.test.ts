/**
 * With a payload key configured, nothing a runbook marks sensitive reaches
 * Temporal in plain text: the raw history (read without the codec) holds only
 * ciphertext, and the codec decodes it back.
 */
import { randomBytes } from 'node:crypto';
import { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { codecFromConfig } from '../../lib/codec.js';
import { declareIncident, handleFor, listIncidents, TERMINAL, waitFor } from '../../lib/incidents/index.js';
import { DECLARER, startStack, type Stack } from '../helpers/firebreak.js';

const CANARY = `leaked-refresh-token-${randomBytes(8).toString('hex')}`;
let stack: Stack;

beforeAll(async () => {
  process.env.FBT_PAYLOAD_KEY_OLD = randomBytes(32).toString('base64');
  process.env.FBT_PAYLOAD_KEY = randomBytes(32).toString('hex');
  stack = await startStack('encryption', {
    extraConfig: [
      'encryption:',
      '  current: k2',
      '  keys:',
      '    - { id: k1, secret: { env: FBT_PAYLOAD_KEY_OLD } }',
      '    - { id: k2, secret: { env: FBT_PAYLOAD_KEY } }',
    ].join('\n'),
  });
  stack.writeRunbook(
    'secret-param',
    [
      'name: secret-param',
      'title: Runbook with a sensitive parameter',
      'severity: medium',
      'params:',
      '  leaked_token: { type: string, sensitive: true, required: true }',
      'phases:',
      '  detection:',
      '    - id: flag',
      '      action: lockdown.status',
      '  postmortem:',
      '    - id: timeline',
      '      action: report.timeline',
    ].join('\n'),
  );
});

afterAll(async () => {
  await stack?.stop();
});

it('the raw history holds no plaintext of a sensitive parameter; the codec decodes it', async () => {
  const { id } = await declareIncident(stack.client, stack.config, {
    runbook: 'secret-param',
    params: { leaked_token: CANARY },
    actor: stack.actor(DECLARER),
  });
  const done = await waitFor(stack.client, id, (s) => TERMINAL.includes(s.state), { timeoutMs: 30_000, intervalMs: 100 });
  expect(done.state).toBe('completed');

  // A client without the codec sees what Temporal stores.
  const raw = new Client({ connection: stack.client.connection, namespace: stack.config.temporal.namespace });
  const history = await raw.workflow.getHandle(`firebreak-${id}`).fetchHistory();
  const bytes = Buffer.from(proto.temporal.api.history.v1.History.encode(history).finish());
  expect(bytes.includes(Buffer.from(CANARY))).toBe(false);
  // The search over the raw bytes works: the incident id is in the (unencrypted) search attributes.
  expect(bytes.includes(Buffer.from(id))).toBe(true);

  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  const payload = started?.input?.payloads?.[0];
  const meta = Object.fromEntries(Object.entries(payload?.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString()]));
  expect(meta).toMatchObject({ encoding: 'binary/encrypted', 'encryption-key-id': 'k2', 'encryption-cipher': 'AES256-GCM' });

  const codec = codecFromConfig(stack.config);
  const [decoded] = await codec!.decode([payload!]);
  const input = JSON.parse(Buffer.from(decoded!.data!).toString()) as { params: Record<string, string> };
  expect(input.params.leaked_token).toBe(CANARY);

  // Listing reads only search attributes: it works without the key.
  const deadline = Date.now() + 10_000;
  let listed = await listIncidents(raw, { limit: 1000 });
  while (!listed.some((i) => i.id === id) && Date.now() < deadline) listed = await listIncidents(raw, { limit: 1000 });
  expect(listed.find((i) => i.id === id)).toMatchObject({ runbook: 'secret-param' });

  // The client with the codec reads the decoded status back.
  const status = await waitFor(stack.client, id, () => true);
  expect(status.id).toBe(id);
  expect(JSON.stringify(await handleFor(stack.client, id).result())).not.toContain(CANARY);
});

it('refuses a sensitive parameter when no payload key is configured', async () => {
  const plain = { ...stack.config, encryption: undefined };
  await expect(
    declareIncident(stack.client, plain, { runbook: 'secret-param', params: { leaked_token: CANARY }, actor: stack.actor(DECLARER) }),
  ).rejects.toThrow(/leaked_token is sensitive and would be stored in plain text/);
});
