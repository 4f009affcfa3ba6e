/**
 * What the slack-ack benchmark runs against: its own config (Slack-mapped people, the Slack
 * app's service key, its own task queue and worker on the shared dev server), the Slack Web
 * API stand-in, the real Slack app (`startSlackServer`, live status included), and the floor:
 * a bare Bolt app over the same HTTPReceiver whose listeners only ack.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, HTTPReceiver, LogLevel } from '@slack/bolt';
import type { Client } from '@temporalio/client';
import { loadConfig, type Config } from '../lib/config.js';
import { createKeyPair, keyFilePath, publicLine } from '../lib/identity/keys.js';
import { keyPairSigner } from '../lib/identity/signer.js';
import { connectClient } from '../lib/incidents/index.js';
import type { Principal } from '../lib/incidents/types.js';
import { createLogger } from '../lib/logger.js';
import { GATE_ACTIONS_BLOCK, GATE_APPROVE_ACTION } from '../slack/blocks/gate-message.js';
import { EVENTS_PATH } from '../slack/app.js';
import { startSlackServer, type SlackServer } from '../slack/server.js';
import { slashCommandBody, startSlackStandIn, type SlackStandIn } from '../test/helpers/slack-standin.js';
import type { SlackChannelRef } from '../workflows/definitions.js';
import { createWorker, type FirebreakWorker } from '../worker/create.js';
import type { BenchContext } from './types.js';

export const TEAM = 'T0BENCH';
export const RUNBOOK = 'bench-slack-gate';
const RUNBOOK_YAML = `# Written by bench/slack-ack.ts into its temp runbooks dir; never part of the product.
name: ${RUNBOOK}
title: Bench Slack gate (two approvals)
severity: low
resolve:
  approval: { count: 1, group: responders }
phases:
  containment:
    - id: gate
      action: lockdown.status
      approval: { count: 2, group: responders }
`;
/** Bench people and their Slack user ids. */
export const PEOPLE = { 'sa-declarer': 'U0SADECL', 'sa-approver-1': 'U0SAAPP1', 'sa-approver-2': 'U0SAAPP2' } as const;
export type Person = keyof typeof PEOPLE;

export interface SlackBench {
  config: Readonly<Config>;
  /** A client of the bench's own config (its task queue). */
  client: Client;
  api: SlackStandIn;
  app: SlackServer;
  /** The bare Bolt app's Request URL. */
  floorUrl: string;
  secret: string;
  /** Where each incident's status message is (the refresher's lookup, as status.slack will say). */
  refs: Map<string, SlackChannelRef>;
  actor(person: Person): Principal;
  close(): Promise<void>;
}

export async function startSlackBench(ctx: BenchContext, dir: string): Promise<SlackBench> {
  const secret = randomBytes(16).toString('hex');
  const api = await startSlackStandIn({ teamId: TEAM });
  for (const id of Object.values(PEOPLE)) api.addUser({ id });
  const keys = new Map<Person, Awaited<ReturnType<typeof createKeyPair>>>();
  for (const p of Object.keys(PEOPLE) as Person[]) keys.set(p, await createKeyPair(join(dir, 'keys', p)));
  const appKeyDir = join(dir, 'keys', 'slack-app');
  const appKey = await createKeyPair(appKeyDir);
  mkdirSync(join(dir, 'runbooks'), { recursive: true });
  writeFileSync(join(dir, 'runbooks', `${RUNBOOK}.yaml`), RUNBOOK_YAML);
  const target = ctx.config.targets[ctx.target];
  if (!target) throw new Error(`bench target "${ctx.target}" is not configured`);
  const file = join(dir, 'firebreak.yaml');
  writeFileSync(
    file,
    [
      '# Throwaway config written by bench/slack-ack.ts.',
      'user: sa-declarer',
      `runbooksDir: ${JSON.stringify(join(dir, 'runbooks'))}`,
      `dataDir: ${JSON.stringify(join(dir, 'data'))}`,
      `temporal: { address: "${ctx.config.temporal.address}", taskQueue: firebreak-bench-slack-ack }`,
      'defaultTarget: local',
      'approvers:',
      '  groups:',
      '    responders: [sa-approver-1, sa-approver-2]',
      'identity:',
      '  responders:',
      ...[...keys].map(([p, k]) => `    - { name: ${p}, keys: ["${publicLine(k, p)}"], slack: { team: ${TEAM}, user: ${PEOPLE[p]} } }`),
      '  services:',
      `    - { name: slack-app, kind: slack, keys: ["${publicLine(appKey, 'slack-app')}"], may: [declare, approve, resolve, abort, note, retry] }`,
      'targets:',
      '  local:',
      `    redis: { url: "${target.redis.url}", keyPrefix: ${ctx.keyPrefix} }`,
      'slack:',
      '  signingSecret: { env: FBB_SLACK_SIGNING }',
      '  botToken: { env: FBB_SLACK_TOKEN }',
      `  teamId: ${TEAM}`,
      `  apiUrl: "${api.apiUrl}"`,
      '  service: slack-app',
      `  keyFile: ${JSON.stringify(keyFilePath(appKeyDir))}`,
      '  port: 0',
      'log: { level: warn }',
      '',
    ].join('\n'),
  );
  const config = loadConfig({ file, env: {} });
  const logger = createLogger({ level: 'error' });
  let worker: FirebreakWorker | undefined;
  let running: Promise<void> | undefined;
  let app: SlackServer | undefined;
  let floor: Server | undefined;
  let client: Client | undefined;
  const close = async () => {
    await app?.close();
    await client?.connection.close();
    await new Promise<void>((r) => (floor ? floor.close(() => r()) : r()));
    floor?.closeAllConnections();
    await worker?.close();
    await running?.catch(() => undefined);
    await api.close();
  };
  try {
    worker = await createWorker({ config, logger });
    running = worker.run();
    const refs = new Map<string, SlackChannelRef>();
    app = await startSlackServer({ config, logger, env: { FBB_SLACK_SIGNING: secret, FBB_SLACK_TOKEN: api.token }, live: { channelOf: (s) => s.slack ?? refs.get(s.id) } });
    const bare = await startBareApp(secret, api);
    floor = bare.server;
    client = await connectClient(config);
    return {
      config,
      client,
      api,
      app,
      floorUrl: bare.url,
      secret,
      refs,
      actor: (p) => ({ user: p, host: 'bench', via: 'api', signer: keyPairSigner(keys.get(p) as NonNullable<ReturnType<typeof keys.get>>) }),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The floor: Bolt's HTTPReceiver with listeners that only ack, on node:http as the real app is. */
async function startBareApp(secret: string, api: SlackStandIn): Promise<{ server: Server; url: string }> {
  const receiver = new HTTPReceiver({ signingSecret: secret, endpoints: EVENTS_PATH, processBeforeResponse: false, logLevel: LogLevel.ERROR });
  const app = new App({ receiver, token: api.token, tokenVerificationEnabled: false, convoStore: false, logLevel: LogLevel.ERROR, clientOptions: { slackApiUrl: api.apiUrl } });
  app.command(/.*/, async ({ ack }) => {
    await ack();
  });
  app.action(/.*/, async ({ ack }) => {
    await ack();
  });
  const server = createServer((req, res) => receiver.requestListener(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${EVENTS_PATH}` };
}

/** `/incident declare` as Slack posts it (opens the modal). */
export function declareBody(api: SlackStandIn, user: string, n: number): string {
  return slashCommandBody({ team: TEAM, user, text: 'declare', responseUrl: api.responseUrl(`declare-${n}`), channel: 'C0BENCH' });
}

/** An Approve click on a gate message, as Slack posts it. */
export function clickBody(api: SlackStandIn, user: string, where: { channel: string; ts: string }, value: string, n: number): string {
  const payload = {
    type: 'block_actions',
    user: { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: TEAM },
    api_app_id: 'A0FIREBREAK',
    token: 'deprecated-verification-token',
    container: { type: 'message', message_ts: where.ts, channel_id: where.channel, is_ephemeral: false },
    trigger_id: `${Date.now()}.${randomBytes(6).toString('hex')}`,
    team: { id: TEAM, domain: 'firebreak-bench' },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: where.channel, name: 'inc-bench' },
    message: { type: 'message', ts: where.ts, text: 'gate', bot_id: 'B0FIREBREAK' },
    state: { values: {} },
    response_url: api.responseUrl(`click-${n}`),
    actions: [{ action_id: GATE_APPROVE_ACTION, block_id: GATE_ACTIONS_BLOCK, text: { type: 'plain_text', text: 'Approve' }, value, type: 'button', action_ts: `${Math.floor(Date.now() / 1000)}.${String(n).padStart(6, '0')}` }],
  };
  return `payload=${encodeURIComponent(JSON.stringify(payload))}`;
}
