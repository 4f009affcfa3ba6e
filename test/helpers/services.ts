/** Helpers for tests that use the real Redis and PostgreSQL on 127.0.0.1 (checked by global setup). */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';

export const REDIS_URL = 'redis://127.0.0.1:6379/0';
export const POSTGRES_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * A name no other test (or concurrent run) uses: `fbt-<label>-<8 hex>`.
 * Lower-case so it is also usable unquoted in SQL and in Temporal ids.
 */
export function uniquePrefix(label: string): string {
  const clean = label.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'test';
  return `fbt-${clean}-${randomBytes(4).toString('hex')}`;
}

export interface TestRedis {
  redis: Redis;
  /** Prefix to put in front of every key this test writes. */
  prefix: string;
  /** Delete every key starting with `prefix` (SCAN, not KEYS); the client stays open. */
  clear(): Promise<void>;
  /** clear(), then quit. */
  cleanup(): Promise<void>;
}

/** An ioredis client for 127.0.0.1:6379 (database 0 unless `url` names another) with a unique key prefix and a cleanup. */
export function redisClient(label = 'redis', url: string = REDIS_URL): TestRedis {
  const redis = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 2 });
  const prefix = uniquePrefix(label);
  return {
    redis,
    prefix,
    async clear() {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${escapeGlob(prefix)}*`, 'COUNT', 500);
        cursor = next;
        if (keys.length) await redis.unlink(...keys);
      } while (cursor !== '0');
    },
    async cleanup() {
      try {
        await this.clear();
      } finally {
        await redis.quit().catch(() => redis.disconnect());
      }
    },
  };
}

// Redis MATCH is a glob: keep the prefix literal.
function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\^]/g, '\\$&');
}

export interface TestDatabase {
  name: string;
  /** Connection string for the new database, as user postgres. */
  url: string;
  /**
   * Drop the database, terminating leftover sessions. Safe to call twice.
   * Close your own clients first: a pg.Client still open here gets an
   * 'error' event, which crashes the test if nothing listens for it.
   */
  drop(): Promise<void>;
}

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** CREATE DATABASE with a unique name on 127.0.0.1:5432; `drop()` removes it. */
export async function createTestDatabase(label: string): Promise<TestDatabase> {
  // PostgreSQL identifiers are at most 63 bytes.
  const name = uniquePrefix(label).replace(/-/g, '_').slice(0, 63);
  await withAdmin((c) => c.query(`CREATE DATABASE ${quoteIdent(name)}`));
  let dropped = false;
  return {
    name,
    url: `postgres://postgres@127.0.0.1:5432/${name}`,
    async drop() {
      if (dropped) return;
      dropped = true;
      // WITH (FORCE) (PostgreSQL 13+) ends sessions a test forgot to close.
      await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`));
    },
  };
}
