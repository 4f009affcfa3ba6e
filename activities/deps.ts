/** Clients the activities act through: built once per worker, per target, and injected. */
import { Redis } from 'ioredis';
import pg from 'pg';
import type { Config, TargetConfig } from '../lib/config.js';
import { getTarget, readSecret } from '../lib/config.js';
import type { Logger } from '../lib/logger.js';
import { badInput } from './support/failures.js';
import { noteDown, noteEndpoint, noteUp } from './support/outages.js';
import { adminConnection } from './support/pg.js';
import type { SlackWebApi } from './notify/client.js';

export interface ActivityDeps {
  config: Readonly<Config>;
  logger: Logger;
  clients: TargetClients;
  /** The Slack Web API the notify activities post with (present when slack.channels is configured). */
  slack?: SlackWebApi;
}

/** Lazily connected clients, one per target, shared by every activity of the worker. */
export class TargetClients {
  private readonly redisByTarget = new Map<string, Redis>();
  private readonly pgByTarget = new Map<string, pg.Pool>();

  constructor(private readonly config: Readonly<Config>) {}

  target(name: string): TargetConfig {
    try {
      return getTarget(this.config, name);
    } catch {
      throw badInput(`unknown target "${name}" (configured: ${Object.keys(this.config.targets).join(', ')})`);
    }
  }

  redis(name: string): Redis {
    let client = this.redisByTarget.get(name);
    if (!client) {
      const t = this.target(name);
      client = new Redis(t.redis.url, {
        password: t.redis.password ? readSecret(t.redis.password) : undefined,
        lazyConnect: false,
        connectTimeout: 3_000,
        // Fail the attempt fast and let Temporal's retry policy decide.
        maxRetriesPerRequest: 1,
        enableOfflineQueue: true,
        connectionName: 'firebreak-worker',
      });
      // Errors are surfaced per command; the event only marks the connection down (no unhandled 'error').
      client.on('error', () => noteDown('redis', name));
      // When the connection went down, for "unreachable since …" and the outage wait (support/failures.ts).
      noteEndpoint('redis', name, new URL(t.redis.url).host);
      client.on('close', () => noteDown('redis', name));
      client.on('ready', () => noteUp('redis', name));
      this.redisByTarget.set(name, client);
    }
    return client;
  }

  /** Admin connections to the target's app database (`postgres.adminUrl`, database `postgres.database`). */
  pg(name: string): pg.Pool {
    let pool = this.pgByTarget.get(name);
    if (!pool) {
      const t = this.target(name);
      if (!t.postgres) throw badInput(`target "${name}" has no postgres section in config`);
      pool = new pg.Pool({ ...adminConnection(t.postgres, { application_name: 'firebreak-worker', connectionTimeoutMillis: 5_000 }), max: 4, idleTimeoutMillis: 30_000 });
      pool.on('error', () => undefined); // an idle client dying is not fatal; the next query reconnects
      this.pgByTarget.set(name, pool);
    }
    return pool;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.redisByTarget.values()].map((c) => c.quit()));
    await Promise.allSettled([...this.pgByTarget.values()].map((p) => p.end()));
    this.redisByTarget.clear();
    this.pgByTarget.clear();
  }
}

