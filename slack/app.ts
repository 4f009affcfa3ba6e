/**
 * The Bolt app (v4) over Bolt's HTTPReceiver: plain node:http, no Express layer between
 * Slack and the ack. The receiver verifies every request's signing-secret signature and its
 * 5-minute window (401 otherwise), answers `ssl_check` and `url_verification`, and sends the
 * HTTP response the moment a listener calls ack() (processBeforeResponse off).
 */
import { App, HTTPReceiver, LogLevel, type Logger as BoltLogger, type webApi } from '@slack/bolt';
import type { SlackConfig } from '../lib/config-slack.js';
import type { Logger } from '../lib/logger.js';
import { Deliveries, deliveryKey } from './deliveries.js';
import type { SlackDeps } from './deps.js';
import { registerListeners } from './listeners/index.js';

export const EVENTS_PATH = '/slack/events';

/** Web API client options: bounded retries and timeouts, so a slow Slack never piles work up. */
export function webClientOptions(slack: SlackConfig, logger: Logger): webApi.WebClientOptions {
  return {
    slackApiUrl: slack.apiUrl,
    logger: boltLogger(logger.child({ component: 'slack-web-api' })),
    timeout: 10_000,
    retryConfig: { retries: 2, factor: 2, minTimeout: 250, maxTimeout: 2_000 },
  };
}

/** Bolt's logger interface on pino: Bolt's own lines (a failed signature check among them) land in our log. */
export function boltLogger(log: Logger): BoltLogger {
  let level = LogLevel.INFO;
  const line = (msg: unknown[]) => msg.map((m) => (typeof m === 'string' ? m : m instanceof Error ? m.message : JSON.stringify(m))).join(' ');
  return {
    // Bolt calls debug on every request and ack: build the line only when it will be written.
    debug: (...msg: unknown[]) => {
      if (log.isLevelEnabled('debug')) log.debug(line(msg));
    },
    info: (...msg: unknown[]) => log.info(line(msg)),
    warn: (...msg: unknown[]) => log.warn(line(msg)),
    error: (...msg: unknown[]) => log.error(line(msg)),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}

export interface SlackAppOptions {
  deps: SlackDeps;
  signingSecret: string;
  botToken: string;
  /** From auth.test at start, so no request waits on it. */
  botId: string;
  botUserId: string;
  deliveries?: Deliveries;
}

export function createSlackApp(o: SlackAppOptions): { app: App; receiver: HTTPReceiver } {
  const { deps } = o;
  const logger = boltLogger(deps.logger.child({ component: 'bolt' }));
  const deliveries = o.deliveries ?? new Deliveries();
  const receiver = new HTTPReceiver({
    signingSecret: o.signingSecret,
    endpoints: EVENTS_PATH,
    processBeforeResponse: false,
    logger,
    customPropertiesExtractor: (req) => ({ deliveryKey: deliveryKey(req.rawBody) }),
  });
  const app = new App({
    receiver,
    token: o.botToken,
    botId: o.botId,
    botUserId: o.botUserId,
    tokenVerificationEnabled: false,
    convoStore: false,
    logger,
    clientOptions: webClientOptions(deps.slack, deps.logger),
  });
  app.use(async (args) => {
    const key = args.context.deliveryKey as string | undefined;
    if (key !== undefined && !deliveries.firstTime(key)) {
      deps.logger.info({ retryNum: args.context.retryNum, retryReason: args.context.retryReason }, 'slack: a delivery seen before was acknowledged and dropped');
      if ('ack' in args && typeof args.ack === 'function') await (args.ack)();
      return;
    }
    await args.next();
  });
  registerListeners(app, deps);
  app.error(async (err) => {
    deps.logger.error({ err: err.message, code: err.code }, 'slack: a listener failed');
  });
  return { app, receiver };
}
