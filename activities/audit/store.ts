/** The audit log's pool of sessions in Firebreak's database: opened on first use, closed with the worker. */
import type pg from 'pg';
import { auditSigner, type AuditSigner } from '../../lib/audit/chain.js';
import { readSecret, type Config } from '../../lib/config.js';
import type { Logger } from '../../lib/logger.js';
import { parseKey } from '../../lib/seal.js';
import { FirebreakDb } from '../support/firebreak-db.js';
import { targetUnavailable } from '../support/failures.js';
import { AUDIT_ROLE } from '../support/audit-schema.js';

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

  /** A refused decision attempt, for `audit log --refusals` (kept beside the log, not in a chain: nobody's decision). */
  async refusal(r: { incidentId?: string; kind?: string; claimedActor?: string; claimedKey?: string; reason: string }): Promise<void> {
    await this.withClient(async (c) => {
      await c.query('BEGIN');
      try {
        await c.query(`SET LOCAL ROLE ${AUDIT_ROLE}`);
        await c.query('INSERT INTO firebreak.audit_refusals (incident_id, kind, claimed_actor, claimed_key, reason) VALUES ($1, $2, $3, $4, $5)', [
          r.incidentId ?? null,
          r.kind ?? null,
          r.claimedActor?.slice(0, 200) ?? null,
          r.claimedKey?.slice(0, 200) ?? null,
          r.reason.slice(0, 1000),
        ]);
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  async close(): Promise<void> {
    const p = this.#pool;
    this.#pool = undefined;
    if (p) await (await p.catch(() => undefined))?.end().catch(() => undefined);
  }
}
