/**
 * `firebreak slack`: reads the app's secrets and key, checks them against Slack (auth.test)
 * and the registry, and serves the Bolt app on plain HTTP behind whatever terminates TLS.
 * Requests without a length or over 1 MiB are refused before Bolt reads them.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { webApi } from '@slack/bolt';
import type { Client } from '@temporalio/client';
import { readSecret, type Config } from '../lib/config.js';
import { ConfigError, OperationError } from '../lib/errors.js';
import { loadKeyFile } from '../lib/identity/keys.js';
import { keyValidityAt } from '../lib/identity/registry.js';
import { connectClient } from '../lib/incidents/connect.js';
import type { FrontDoor } from '../lib/incidents/types.js';
import type { Logger } from '../lib/logger.js';
import { createSlackApp, EVENTS_PATH, webClientOptions } from './app.js';
import { SlackIdentity } from './identity.js';
import { createLiveStatus, type LiveOptions, type LiveStatus } from './live/index.js';

export const MAX_BODY_BYTES = 1024 * 1024;

export interface SlackServer {
  /** The Request URL to give Slack (slash command, interactivity, events): `http://host:port/slack/events`. */
  url: string;
  port: number;
  /** The live status refresher, unless started with `live: false`. */
  live?: LiveStatus;
  close(): Promise<void>;
}

export interface SlackServerOptions {
  config: Readonly<Config>;
  logger: Logger;
  /** Override slack.host / slack.port. */
  host?: string;
  port?: number;
  env?: NodeJS.ProcessEnv;
  /** The live status messages' tuning (slack/live); `false`: no refresher (a front door only). */
  live?: LiveOptions | false;
}

/** A front door whose Temporal client connects on first use and again after a failed attempt. */
function lazyDoor(config: Readonly<Config>): FrontDoor & { close(): Promise<void> } {
  let client: Promise<Client> | undefined;
  return {
    config,
    client() {
      if (!client) {
        const attempt = connectClient(config);
        client = attempt;
        attempt.catch(() => {
          if (client === attempt) client = undefined;
        });
      }
      return client;
    },
    async close() {
      const c = await client?.catch(() => undefined);
      await c?.connection.close();
    },
  };
}

export async function startSlackServer(o: SlackServerOptions): Promise<SlackServer> {
  const { config, logger } = o;
  const slack = config.slack;
  if (!slack) throw new ConfigError([`config: slack: missing; \`firebreak slack\` needs the slack section (see the README, Slack) (${config.source})`]);
  const signingSecret = readSecret(slack.signingSecret, o.env);
  const botToken = readSecret(slack.botToken, o.env);
  const key = await loadKeyFile(slack.keyFile);
  const service = config.registry.services.find((s) => s.name === slack.service);
  const registered = service?.keys.find((k) => k.id === key.keyId);
  if (!registered) {
    throw new OperationError(`slack.keyFile holds key ${key.keyId}, which identity.services "${slack.service}" does not list (${service?.keys.map((k) => k.id).join(', ') || 'none'}): every decision it signed would be refused`);
  }
  if (keyValidityAt(registered, Date.now()) !== 'valid') throw new OperationError(`slack.keyFile holds key ${key.keyId}, which identity.services "${slack.service}" marks revoked or outside its validity`);

  const web = new webApi.WebClient(botToken, webClientOptions(slack, logger));
  const auth = await web.auth.test().catch((err: unknown) => {
    throw new OperationError(`slack: auth.test at ${slack.apiUrl} failed: ${(err as Error).message.split('\n')[0]} (check slack.botToken)`);
  });
  if (auth.team_id !== slack.teamId) throw new OperationError(`slack: the bot token belongs to workspace ${auth.team_id ?? '(none)'}, not slack.teamId ${slack.teamId}`);
  if (slack.enterpriseId !== undefined && auth.enterprise_id !== slack.enterpriseId) {
    throw new OperationError(`slack: the bot token belongs to Enterprise Grid org ${auth.enterprise_id ?? '(none)'}, not slack.enterpriseId ${slack.enterpriseId}`);
  }

  const door = lazyDoor(config);
  const identity = new SlackIdentity(slack, config.registry, web, key);
  const live = o.live === false ? undefined : createLiveStatus({ config, logger, door, botToken, options: o.live });
  const { receiver } = createSlackApp({
    deps: { config, slack, logger, door, identity, ...(live && { live }) },
    signingSecret,
    botToken,
    botId: auth.bot_id ?? '',
    botUserId: auth.user_id ?? '',
  });

  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (req.method === 'POST') {
      const length = Number(req.headers['content-length']);
      if (req.headers['content-length'] === undefined || !Number.isSafeInteger(length)) {
        res.writeHead(411, { connection: 'close' }).end();
        return;
      }
      if (length > MAX_BODY_BYTES) {
        logger.warn({ length }, 'slack: request body over 1 MiB refused');
        res.writeHead(413, { connection: 'close' }).end();
        return;
      }
    }
    try {
      receiver.requestListener(req, res);
    } catch {
      res.writeHead(404).end();
    }
  });
  server.requestTimeout = 15_000;
  server.headersTimeout = 10_000;
  const host = o.host ?? slack.host;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? slack.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}${EVENTS_PATH}`;
  logger.info({ url, team: slack.teamId, command: slack.command, service: slack.service, keyId: key.keyId }, 'slack front door listening');
  live?.start();
  return {
    url,
    port,
    ...(live && { live }),
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await live?.close();
      await door.close();
    },
  };
}
