/**
 * The slack-ack benchmark's child processes (forked by bench/slack-ack-setup.ts), so that
 * each event loop does one job, as in production:
 *
 * - `app <config file>`: the real Slack app (`startSlackServer`, live status on), alone in its
 *   process like `firebreak slack` — not sharing a loop with the worker, the Web API stand-in
 *   or the load generator;
 * - `bare`: the floor, a bare Bolt app whose listeners only ack, in a process of its own too;
 * - `load`: the load generator: fires a wave of signed POSTs at once and times each.
 *
 * Messages (IPC): the parent sends `{ type: 'wave' | 'ref' | 'stats' | 'close', … }`; a child
 * answers `ready`, `wave`, `stats`, `closed`. Times cross processes as epoch milliseconds
 * (`performance.timeOrigin + performance.now()`).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, HTTPReceiver, LogLevel } from '@slack/bolt';
import { loadConfig } from '../lib/config.js';
import { createLogger } from '../lib/logger.js';
import { EVENTS_PATH } from '../slack/app.js';
import { startSlackServer } from '../slack/server.js';
import { postToApp } from '../test/helpers/slack-standin.js';
import type { SlackChannelRef } from '../workflows/definitions.js';

export type ToChild =
  | { type: 'wave'; seq: number; url: string; secret: string; bodies: string[] }
  | { type: 'ref'; id: string; ref: SlackChannelRef }
  | { type: 'stats' }
  | { type: 'close' };

export type FromChild =
  | { type: 'ready'; url?: string }
  | { type: 'wave'; seq: number; results?: Array<{ ms: number; start: number }>; error?: string }
  | { type: 'stats'; stats?: Record<string, number> }
  | { type: 'closed' };

/** Epoch milliseconds, sub-millisecond resolution, comparable across processes. */
export const epochNow = (): number => performance.timeOrigin + performance.now();

const send = (m: FromChild): void => {
  process.send?.(m);
};

/** Each POST timed from just before it is signed and sent to its response read. */
async function wave(url: string, secret: string, bodies: string[]): Promise<Array<{ ms: number; start: number }>> {
  return Promise.all(
    bodies.map(async (body) => {
      const start = performance.now();
      const r = await postToApp(url, body, { secret });
      if (r.status !== 200) throw new Error(`POST ${url} answered ${r.status}: ${r.body.slice(0, 200)}`);
      return { ms: r.at - start, start: performance.timeOrigin + start };
    }),
  );
}

async function load(): Promise<void> {
  process.on('message', (m: ToChild) => {
    if (m.type === 'close') process.exit(0);
    if (m.type !== 'wave') return;
    wave(m.url, m.secret, m.bodies).then(
      (results) => send({ type: 'wave', seq: m.seq, results }),
      (err: unknown) => send({ type: 'wave', seq: m.seq, error: (err as Error).message }),
    );
  });
  send({ type: 'ready' });
}

async function app(file: string): Promise<void> {
  const config = loadConfig({ file, env: {} });
  // Warnings and errors (a click that failed among them) go to stderr, which the parent reads.
  const logger = createLogger({ level: 'warn' });
  const refs = new Map<string, SlackChannelRef>();
  const server = await startSlackServer({ config, logger, env: process.env, live: { channelOf: (s) => s.slack ?? refs.get(s.id) } });
  process.on('message', (m: ToChild) => {
    if (m.type === 'ref') refs.set(m.id, m.ref);
    else if (m.type === 'stats') send({ type: 'stats', ...(server.live && { stats: { ...server.live.stats() } }) });
    else if (m.type === 'close') void server.close().finally(() => {
      send({ type: 'closed' });
      process.exit(0);
    });
  });
  send({ type: 'ready', url: server.url });
}

/** The floor: Bolt's HTTPReceiver with listeners that only ack, on node:http as the real app is. */
async function bare(): Promise<void> {
  const secret = process.env.FBB_SLACK_SIGNING ?? '';
  const receiver = new HTTPReceiver({ signingSecret: secret, endpoints: EVENTS_PATH, processBeforeResponse: false, logLevel: LogLevel.ERROR });
  const bolt = new App({ receiver, token: process.env.FBB_SLACK_TOKEN, tokenVerificationEnabled: false, convoStore: false, logLevel: LogLevel.ERROR, clientOptions: { slackApiUrl: process.env.FBB_SLACK_API_URL } });
  bolt.command(/.*/, async ({ ack }) => {
    await ack();
  });
  bolt.action(/.*/, async ({ ack }) => {
    await ack();
  });
  const server = createServer((req, res) => receiver.requestListener(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  process.on('message', (m: ToChild) => {
    if (m.type === 'stats') send({ type: 'stats' });
    else if (m.type === 'close') {
      server.closeAllConnections();
      server.close(() => {
        send({ type: 'closed' });
        process.exit(0);
      });
    }
  });
  send({ type: 'ready', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${EVENTS_PATH}` });
}

// The parent going away (Ctrl-C, a crash) takes the children with it.
process.on('disconnect', () => process.exit(0));
const [role, arg] = process.argv.slice(2);
const started = role === 'load' ? load() : role === 'bare' ? bare() : role === 'app' && arg ? app(arg) : Promise.reject(new Error(`usage: slack-ack-proc.ts load | bare | app <config file> (got ${role ?? 'nothing'})`));
started.catch((err: unknown) => {
  process.stderr.write(`slack-ack-proc ${role ?? ''}: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
