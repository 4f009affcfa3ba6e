/**
 * The audit log on real PostgreSQL: appends as firebreak_audit (idempotent, in order, no
 * gaps), the append-only role and trigger, 200 incidents at once, and tampering as the
 * superuser — each kind detected and located by verifyAudit.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendEntries } from '../../activities/audit/append.js';
import { AuditStore } from '../../activities/audit/store.js';
import { auditSigner, publicKeyMap, type AuditEntry } from '../../lib/audit/chain.js';
import { readAudit } from '../../lib/audit/read.js';
import { verifyAudit } from '../../lib/audit/verify.js';
import { sha256Hex } from '../../lib/canonical.js';
import { loadConfig } from '../../lib/config.js';
import { encodeBase64 } from '../../lib/identity/base64.js';
import { publicKeyOf } from '../../lib/identity/ed25519.js';
import { createLogger } from '../../lib/logger.js';
import { createTestDatabase, type TestDatabase } from '../helpers/services.js';

const SEED = new Uint8Array(32).map((_, i) => i + 7);
const signer = auditSigner(SEED);
const keys = publicKeyMap([encodeBase64(publicKeyOf(SEED))]);
let db: TestDatabase;
let store: AuditStore;
let admin: pg.Client;

const t0 = Date.now() - 3_600_000;
const entry = (seq: number, extra: Record<string, unknown> = {}): AuditEntry => ({ seq, at: new Date(t0 + seq * 1000).toISOString(), kind: 'timeline', actor: 'alice', data: { kind: 'note', message: `entry ${seq}`, ...extra } });
const append = (incidentId: string, entries: AuditEntry[], checkpoint = false) =>
  store.withClient((c) => appendEntries(c, { incidentId, entries, checkpoint }, signer, () => new Date().toISOString()));
const verifyOne = async (incidentId: string) => {
  const rows = await readAudit(admin, incidentId, { global: true });
  const v = verifyAudit({ ...rows, publicKeys: keys, expect: [incidentId] });
  return { incident: v.incidents.find((i) => i.incidentId === incidentId), global: v.global.filter((g) => g.incidentId === incidentId) };
};

beforeAll(async () => {
  db = await createTestDatabase('audit-store');
  const dir = mkdtempSync(join(tmpdir(), 'fb-audit-store-'));
  const file = join(dir, 'firebreak.yaml');
  writeFileSync(file, `database: { url: "${db.url}" }\naudit: { publicKeys: [] }\ntargets: { local: { redis: { keyPrefix: fbt-audit } } }\n`);
  store = new AuditStore(loadConfig({ file, env: {} }), createLogger({ level: 'silent' }));
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  await store.pool(); // the schema
});

afterAll(async () => {
  await store?.close();
  await admin?.end();
  await db?.drop();
});

describe('appending', () => {
  it('appends in order, a retried batch adds nothing, a gap or a changed entry is refused', async () => {
    const id = 'INC-APPEND';
    expect((await append(id, [entry(0), entry(1)])).appended).toBe(2);
    const again = await append(id, [entry(0), entry(1), entry(2)], true);
    expect(again).toMatchObject({ appended: 1, size: 3 });
    expect(again.checkpoint).toMatchObject({ incidentId: id, size: 3, keyId: signer.keyId });
    // The same checkpoint again: the stored one, no second global entry.
    expect((await append(id, [entry(2)], true)).checkpoint).toEqual(again.checkpoint);
    await expect(append(id, [entry(5)])).rejects.toThrow(/would leave a gap/);
    await expect(append(id, [entry(1, { message: 'rewritten' })])).rejects.toThrow(/already stored with other contents/);
    const count = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM firebreak.audit_records WHERE incident_id = $1', [id]);
    expect(count.rows[0]?.n).toBe(3);
    const { incident } = await verifyOne(id);
    expect(incident).toMatchObject({ records: 3, checkpoints: 1, problems: [] });
  });

  it('firebreak_audit may only INSERT and SELECT; the trigger refuses other roles that were granted more', async () => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      await c.query('SET ROLE firebreak_audit');
      await expect(c.query("UPDATE firebreak.audit_records SET payload = '{}'")).rejects.toThrow(/permission denied/);
      await expect(c.query('DELETE FROM firebreak.audit_records')).rejects.toThrow(/permission denied/);
      await expect(c.query('TRUNCATE firebreak.audit_records')).rejects.toThrow(/permission denied/);
      await c.query('RESET ROLE');
      const role = `fbt_audit_rogue_${process.pid}`;
      await c.query(`CREATE ROLE ${role}`);
      try {
        await c.query(`GRANT USAGE ON SCHEMA firebreak TO ${role}; GRANT ALL ON firebreak.audit_records TO ${role}`);
        await c.query(`SET ROLE ${role}`);
        await expect(c.query("UPDATE firebreak.audit_records SET payload = '{}'")).rejects.toThrow(/append-only: UPDATE refused/);
        await expect(c.query('DELETE FROM firebreak.audit_records')).rejects.toThrow(/append-only: DELETE refused/);
        await expect(c.query('TRUNCATE firebreak.audit_records')).rejects.toThrow(/append-only: TRUNCATE refused/);
      } finally {
        await c.query('RESET ROLE');
        await c.query(`REVOKE ALL ON firebreak.audit_records FROM ${role}; REVOKE ALL ON SCHEMA firebreak FROM ${role}; DROP ROLE ${role}`);
      }
    } finally {
      await c.end();
    }
  });

  it('200 incidents appending at once: every chain and the global chain verify', async () => {
    const ids = Array.from({ length: 200 }, (_, i) => `INC-MANY-${i}`);
    const started = performance.now();
    await Promise.all(ids.map(async (id) => {
      await append(id, [entry(0), entry(1)], true);
      await append(id, [entry(2)], true);
    }));
    const ms = performance.now() - started;
    const rows = await readAudit(admin, undefined);
    const v = verifyAudit({ ...rows, publicKeys: keys });
    expect(v.global).toEqual([]);
    for (const id of ids) expect(v.incidents.find((i) => i.incidentId === id)).toMatchObject({ records: 3, checkpoints: 2, problems: [] });
    console.log(`audit: 200 incidents × 2 appends with checkpoints in ${Math.round(ms)} ms`);
  });
});

describe('tampering as the superuser is detected and located', () => {
  const seeded = async (id: string) => {
    await append(id, [0, 1, 2, 3, 4].map((n) => entry(n)), true);
    await append(id, [5, 6].map((n) => entry(n)), true);
    expect((await verifyOne(id)).incident?.problems).toEqual([]);
  };

  it('an UPDATE of one payload', async () => {
    await seeded('INC-T-UPDATE');
    await admin.query(`UPDATE firebreak.audit_records SET payload = replace(payload, 'entry 3', 'entry three') WHERE incident_id = 'INC-T-UPDATE' AND seq = 3`);
    const { incident } = await verifyOne('INC-T-UPDATE');
    expect(incident?.problems[0]).toMatchObject({ seq: 3, what: 'record' });
    expect(incident?.problems[0]?.message).toMatch(/do not match the record's hash/);
  });

  it('a DELETE in the middle', async () => {
    await seeded('INC-T-MIDDLE');
    await admin.query(`DELETE FROM firebreak.audit_records WHERE incident_id = 'INC-T-MIDDLE' AND seq = 2`);
    const { incident } = await verifyOne('INC-T-MIDDLE');
    expect(incident?.problems[0]).toMatchObject({ seq: 2, what: 'missing' });
  });

  it('a DELETE of the last records', async () => {
    await seeded('INC-T-TAIL');
    await admin.query(`DELETE FROM firebreak.audit_records WHERE incident_id = 'INC-T-TAIL' AND seq >= 5`);
    const { incident } = await verifyOne('INC-T-TAIL');
    expect(incident?.problems.map((p) => p.what)).toContain('truncated');
    expect(incident?.problems.find((p) => p.what === 'truncated')?.message).toMatch(/covers 7 records; the table has 5/);
  });

  it('every record rewritten with recomputed hashes', async () => {
    await seeded('INC-T-REWRITE');
    const rows = await admin.query<{ seq: number; at_text: string; actor: string; payload: string }>("SELECT seq, at_text, actor, payload FROM firebreak.audit_records WHERE incident_id = 'INC-T-REWRITE' ORDER BY seq");
    const { recordHash, GENESIS } = await import('../../lib/audit/chain.js');
    let prev = GENESIS;
    for (const r of rows.rows) {
      const data = { ...(JSON.parse(r.payload) as Record<string, unknown>), message: 'nothing happened' };
      const { canonicalJson } = await import('../../lib/canonical.js');
      const hash = recordHash('INC-T-REWRITE', { seq: r.seq, at: r.at_text, kind: 'timeline', actor: r.actor, data }, prev);
      await admin.query("UPDATE firebreak.audit_records SET payload = $1, prev_hash = $2, hash = $3 WHERE incident_id = 'INC-T-REWRITE' AND seq = $4", [canonicalJson(data), prev, hash, r.seq]);
      prev = hash;
    }
    const { incident } = await verifyOne('INC-T-REWRITE');
    expect(incident?.problems.filter((p) => p.what === 'record' || p.what === 'chain')).toEqual([]);
    expect(incident?.problems[0]).toMatchObject({ what: 'checkpoint', seq: 4 });
    expect(incident?.problems[0]?.message).toMatch(/signed head at 5/);
  });

  it('a checkpoint row edited', async () => {
    await seeded('INC-T-CHECKPOINT');
    const head = sha256Hex('forged');
    await admin.query("UPDATE firebreak.audit_checkpoints SET head = $1 WHERE incident_id = 'INC-T-CHECKPOINT' AND size = 7", [head]);
    const { incident } = await verifyOne('INC-T-CHECKPOINT');
    expect(incident?.problems.some((p) => p.what === 'checkpoint' && /signature does not verify/.test(p.message))).toBe(true);
  });

  it('a whole incident deleted is caught by the global chain', async () => {
    await seeded('INC-T-GONE');
    await admin.query("DELETE FROM firebreak.audit_records WHERE incident_id = 'INC-T-GONE'");
    await admin.query("DELETE FROM firebreak.audit_checkpoints WHERE incident_id = 'INC-T-GONE'");
    const rows = await readAudit(admin, undefined);
    const v = verifyAudit({ ...rows, publicKeys: keys });
    expect(v.global.filter((g) => g.incidentId === 'INC-T-GONE').map((g) => g.message)).toEqual(expect.arrayContaining([expect.stringMatching(/it has none \(deleted\)/)]));
  });
});
