/**
 * The Slack front door for real, for one test file: the Slack Web API stand-in, a Firebreak
 * stack whose people have Slack ids and whose config has a `slack:` section (the app's
 * service key registered), the Bolt app serving on a free port; and the payloads Slack
 * posts to it (slash commands, block_actions clicks, view submissions), signed.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { types } from '@slack/bolt';
import type { Client } from '@temporalio/client';
import { createKeyPair, keyFilePath, publicLine } from '../../lib/identity/keys.js';
import { handleFor } from '../../lib/incidents/index.js';
import type { Logger } from '../../lib/logger.js';
import type { LiveOptions } from '../../slack/live/index.js';
import { startSlackServer, type SlackServer } from '../../slack/server.js';
import { stateOf, type Answer } from '../unit/slack-blocks-shape.js';
import { startStack, type Stack, type StackOptions } from './firebreak.js';
import { postToApp, slashCommandBody, startSlackStandIn, type ApiCall, type SlackPost, type SlackStandIn } from './slack-standin.js';

export const SLACK_TEAM = 'T0FIRE';

export interface SlackAppOptions {
  /** Slack user id of each registered person who has one (each is a user of the stand-in too). */
  ids: Record<string, string>;
  secret: string;
  /** More YAML lines under `slack:`, indented by two (e.g. `  channels:` …). */
  slackExtra?: string[];
  /** The Bolt app's live refresher tuning; `false`: none. */
  live?: LiveOptions | false;
  logger: Logger;
  stack?: Omit<StackOptions, 'slack' | 'identityExtra' | 'extraConfig'>;
}

export interface SlackApp {
  api: SlackStandIn;
  stack: Stack;
  /** The Bolt app serving (closed by stop(); a test that restarts it sets the new one here). */
  server: SlackServer;
  /** Another Bolt app on the same config (the caller closes it). */
  startServer(live?: LiveOptions | false): Promise<SlackServer>;
  stop(): Promise<void>;
}

export async function startSlackApp(label: string, o: SlackAppOptions): Promise<SlackApp> {
  const api = await startSlackStandIn({ teamId: SLACK_TEAM });
  for (const id of Object.values(o.ids)) api.addUser({ id });
  const keyDir = mkdtempSync(join(tmpdir(), `fbt-${label}-key-`));
  const slackKey = await createKeyPair(keyDir);
  // The secrets as files (0600): the app and an in-process worker (slack.channels) both read them.
  const secretFile = (name: string, value: string) => {
    const file = join(keyDir, name);
    writeFileSync(file, `${value}\n`, { mode: 0o600 });
    return file;
  };
  const stack = await startStack(label, {
    ...o.stack,
    slack: Object.fromEntries(Object.entries(o.ids).map(([name, user]) => [name, { team: SLACK_TEAM, user }])),
    identityExtra: ['  services:', `    - { name: slack-app, kind: slack, keys: ["${publicLine(slackKey, 'slack-app')}"], may: [declare, approve, resolve, abort, note, retry] }`],
    extraConfig: [
      'slack:',
      `  signingSecret: { file: ${secretFile('signing', o.secret)} }`,
      `  botToken: { file: ${secretFile('token', api.token)} }`,
      `  teamId: ${SLACK_TEAM}`,
      `  apiUrl: "${api.apiUrl}"`,
      '  service: slack-app',
      `  keyFile: ${keyFilePath(keyDir)}`,
      '  port: 0',
      ...(o.slackExtra ?? []),
    ].join('\n'),
  });
  const startServer = (live: LiveOptions | false | undefined = o.live) => startSlackServer({ config: stack.config, logger: o.logger, ...(live !== undefined && { live }) });
  const app: SlackApp = {
    api,
    stack,
    server: await startServer(),
    startServer,
    async stop() {
      await app.server.close();
      await stack.stop();
      await api.close();
      rmSync(keyDir, { recursive: true, force: true });
    },
  };
  return app;
}

let seq = 0;
export const triggerId = () => `${Date.now()}.${randomBytes(6).toString('hex')}`;
export const actionTs = () => `${Math.floor(Date.now() / 1000)}.${String(++seq).padStart(6, '0')}`;
/** An interactivity payload as Slack posts it: form-encoded `payload=<json>`. */
export const interaction = (payload: unknown) => `payload=${encodeURIComponent(JSON.stringify(payload))}`;
export const slackUser = (user: string) => ({ id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: SLACK_TEAM });

/** A slash command to the app, signed; the trigger id it carried (views.open must use it). */
export async function command(server: SlackServer, secret: string, f: { user: string; text: string; responseUrl: string; channel?: string }): Promise<{ ack: SlackPost; trigger: string }> {
  const trigger = triggerId();
  const body = slashCommandBody({ team: SLACK_TEAM, ...f }).replace(/trigger_id=[^&]+/, `trigger_id=${encodeURIComponent(trigger)}`);
  return { ack: await postToApp(server.url, body, { secret }), trigger };
}

/** A modal submitted by `user` with these answers (by block id), as Slack posts it. */
export function viewSubmission(user: string, view: types.ModalView, answers: Record<string, Answer>, viewId: string): string {
  return interaction({
    type: 'view_submission',
    team: { id: SLACK_TEAM, domain: 'firebreak-test' },
    user: slackUser(user),
    api_app_id: 'A0FIREBREAK',
    token: 'deprecated-verification-token',
    trigger_id: triggerId(),
    view: { ...view, id: viewId, team_id: SLACK_TEAM, hash: `${viewId}.h`, app_id: 'A0FIREBREAK', bot_id: 'B0FIREBREAK', root_view_id: viewId, state: { values: stateOf(view, answers) } },
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  });
}

/** A click on a button of the message at `channel`/`ts` (in the thread `threadTs`, if any), as Slack posts it. */
export function buttonClick(user: string, b: { actionId: string; value: string; channel: string; ts: string; threadTs?: string; responseUrl: string; blockId?: string }): string {
  const thread = b.threadTs ? { thread_ts: b.threadTs } : {};
  return interaction({
    type: 'block_actions',
    user: slackUser(user),
    api_app_id: 'A0FIREBREAK',
    token: 'deprecated-verification-token',
    container: { type: 'message', message_ts: b.ts, channel_id: b.channel, is_ephemeral: false, ...thread },
    trigger_id: triggerId(),
    team: { id: SLACK_TEAM, domain: 'firebreak-test' },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: b.channel, name: 'incidents' },
    message: { type: 'message', ts: b.ts, text: 'gate', bot_id: 'B0FIREBREAK', ...thread },
    state: { values: {} },
    response_url: b.responseUrl,
    actions: [{ action_id: b.actionId, block_id: b.blockId ?? 'firebreak.gate.actions', text: { type: 'plain_text', text: 'Approve' }, value: b.value, type: 'button', action_ts: actionTs() }],
  });
}

/** The first call of `method` matching `where` (waits for it). */
export async function nextCall(api: SlackStandIn, method: string, where: (c: ApiCall) => boolean, timeoutMs = 10_000): Promise<ApiCall> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = api.callsOf(method).find(where);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no ${method} call within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A view argument (views.open / views.update) as the app sent it. */
export const viewOf = (c: ApiCall) => (typeof c.args.view === 'string' ? JSON.parse(c.args.view) : c.args.view) as types.ModalView;
/** A message's blocks as JSON text (the web client sends them as a JSON string). */
export const blocksOf = (blocks: unknown): string => (typeof blocks === 'string' ? blocks : JSON.stringify(blocks ?? []));

/** The Updates named `name` the incident's history accepted, by Update id. */
export async function acceptedUpdates(client: Client, id: string, name: string): Promise<string[]> {
  const history = await handleFor(client, id).fetchHistory();
  return (history.events ?? []).flatMap((e) => {
    const req = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest;
    return req?.input?.name === name ? [req.meta?.updateId ?? ''] : [];
  });
}
