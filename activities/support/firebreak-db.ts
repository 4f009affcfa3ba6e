/**
 * Firebreak's own PostgreSQL (`config.database.url`): the pending secret records and the
 * audit log. The worker writes it; front doors read it through a workflow like every other
 * system — except `firebreak audit`, which reads the audit tables itself (SELECT only), since
 * a verifier that asked the worker would trust what it is meant to check. Created on first use when the server
 * exists but the database does not; its schema (firebreak-schema.ts) is ensured once per
 * process, and again after it vanished (database recreated under a running worker).
 */
import pg from 'pg';
import { readSecret, type Config } from '../../lib/config.js';
import type { Logger } from '../../lib/logger.js';
import { badInput, sqlState, targetUnavailable } from './failures.js';
import { FIREBREAK_SCHEMA } from './firebreak-schema.js';
import { withPassword } from './pg.js';
import { SQLSTATE } from './sqlstate.js';

/** pg_advisory_lock class of Firebreak's own database ("FbSe"): objid 0 is the schema; secret rotations lock objid = hash(target). */
export const FIREBREAK_LOCK_CLASS = 0x46625365;

const WHAT = "Firebreak's database (database.url)";

export class FirebreakDb {
  #schemaReady: Promise<void> | undefined;

  constructor(
    private readonly config: Readonly<Config>,
    private readonly logger: Logger,
    private readonly applicationName: string,
  ) {}

  /** A new session, its schema ensured; the caller ends it. Failures are typed (retryable unless the URL names no database). */
  async connect(): Promise<pg.Client> {
    let client: pg.Client;
    try {
      client = await this.#attempt();
    } catch (err) {
      if (sqlState(err) !== SQLSTATE.invalidCatalogName) throw targetUnavailable(WHAT, err);
      await this.#createDatabase();
      client = await this.#attempt().catch((e: unknown) => {
        throw targetUnavailable(WHAT, e);
      });
    }
    try {
      // A dead worker's statements must not complete later (PostgreSQL 14+ notices the lost client).
      if (Number((await client.query<{ v: number }>("SELECT current_setting('server_version_num')::int AS v")).rows[0]?.v ?? 0) >= 140000) {
        await client.query("SET client_connection_check_interval = '1s'");
      }
      await client.query("SET lock_timeout = '20s'");
      this.#schemaReady ??= ensureSchema(client).catch((err: unknown) => {
        this.#schemaReady = undefined;
        throw err;
      });
      await this.#schemaReady;
      return client;
    } catch (err) {
      await client.end().catch(() => undefined);
      throw targetUnavailable(WHAT, err);
    }
  }

  /**
   * A pool of sessions for frequent short transactions (the audit log), its schema ensured
   * first through connect(); the caller ends it.
   */
  async pool(max: number): Promise<pg.Pool> {
    const c = await this.connect();
    await c.end().catch(() => undefined);
    // The session settings connect() makes, for every pooled session: a dead worker's statement ends.
    const pool = new pg.Pool({ ...this.#clientConfig(), max, idleTimeoutMillis: 30_000, options: "-c client_connection_check_interval=1s -c lock_timeout=20s" });
    pool.on('error', () => undefined); // an idle session dying is not fatal; the next checkout reconnects
    return pool;
  }

  /** The table or schema went away under us (an error said so): create it again on the next connect. */
  noticeError(err: unknown): void {
    const code = sqlState(err);
    if (code === SQLSTATE.undefinedTable || code === SQLSTATE.invalidSchemaName) this.#schemaReady = undefined;
  }

  #clientConfig(database?: string): pg.ClientConfig {
    const url = new URL(this.config.database.url);
    if (database) url.pathname = `/${encodeURIComponent(database)}`;
    const password = this.config.database.password ? readSecret(this.config.database.password) : undefined;
    return withPassword(url, password, { application_name: this.applicationName, connectionTimeoutMillis: 5_000, keepAlive: true });
  }

  async #attempt(): Promise<pg.Client> {
    const c = new pg.Client(this.#clientConfig());
    c.on('error', () => undefined); // surfaces on the next query
    try {
      await c.connect();
    } catch (err) {
      await c.end().catch(() => undefined);
      throw err;
    }
    return c;
  }

  async #createDatabase(): Promise<void> {
    const name = decodeURIComponent(new URL(this.config.database.url).pathname.replace(/^\//, ''));
    if (!name) throw badInput('database.url names no database');
    const c = new pg.Client(this.#clientConfig('postgres'));
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
      this.logger.info({ database: name }, "created Firebreak's database");
    } catch (err) {
      // Created meanwhile by another worker: fine.
      if (sqlState(err) !== SQLSTATE.duplicateDatabase) throw targetUnavailable(`Firebreak's database server (creating "${name}")`, err);
    } finally {
      await c.end().catch(() => undefined);
    }
  }
}

async function ensureSchema(c: pg.Client): Promise<void> {
  await c.query('BEGIN');
  try {
    await c.query('SELECT pg_advisory_xact_lock($1, 0)', [FIREBREAK_LOCK_CLASS]);
    for (const statement of FIREBREAK_SCHEMA) await c.query(statement);
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
