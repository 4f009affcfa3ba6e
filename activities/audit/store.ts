/** The audit log's pool of sessions in Firebreak's database: opened on first use, closed with the worker. */
import type pg from 'pg';
import { auditSigner, type AuditSigner } from '../../lib/audit/chain.js';
import { readSecret, type Config } from '../../lib/config.js';
import type { Logger } from '../../lib/logger.js';
import { parseKey } from '../../lib/seal.js';
import { FirebreakDb } from '../support/firebreak-db.js';
import { targetUnavailable } from '../support/failures.js';

/** Appends queue for these (200 incidents at once measured ~260 ms p50, off the containment path). */
const POOL_SIZE = 8;

export class AuditStore {
  readonly #db: FirebreakDb;
  #pool: Promise<pg.Pool> | undefined;
  #signer: AuditSigner | null | undefined;

  constructor(
    private readonly config: Readonly<Config>,
    logger: Logger,
  ) {
    this.#db = new FirebreakDb(config, logger, 'firebreak-audit');
  }

  pool(): Promise<pg.Pool> {
    this.#pool ??= this.#db.pool(POOL_SIZE).catch((err: unknown) => {
      this.#pool = undefined;
      throw err;
    });
    return this.#pool;
  }

  async withClient<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const pool = await this.pool();
    let c: pg.PoolClient;
    try {
      c = await pool.connect();
    } catch (err) {
      throw targetUnavailable("Firebreak's database (database.url)", err);
    }
    try {
      return await fn(c);
    } catch (err) {
      this.#db.noticeError(err);
      throw err;
    } finally {
      c.release();
    }
  }

  /** The checkpoint signer from `audit.key` (undefined: none configured; checkpoints go unsigned). Read once. */
  signer(): AuditSigner | undefined {
    if (this.#signer === undefined) {
      const ref = this.config.audit?.key;
      this.#signer = ref ? auditSigner(new Uint8Array(parseKey(readSecret(ref), 'audit.key'))) : null;
    }
    return this.#signer ?? undefined;
  }

  async close(): Promise<void> {
    const p = this.#pool;
    this.#pool = undefined;
    if (p) await (await p.catch(() => undefined))?.end().catch(() => undefined);
  }
}
