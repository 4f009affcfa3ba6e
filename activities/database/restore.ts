/** What it takes to give the app role back exactly a recorded state: statements from a diff against the catalog, and the read-back. */
import pg from 'pg';
import { verificationFailed } from '../support/failures.js';
import type { PgTarget } from '../support/pg.js';
import type { RoleRow } from './catalog.js';
import { readGrants, readSettings } from './catalog.js';
import { grantKeys, type ReadOnlyRecord } from './record.js';
import { COLUMN_PRIVILEGES, display, ident, listSome, qualified } from './sql.js';

export interface RestorePlan {
  /** Statements that make the role's grants and setting equal to the record, given the current state (none: already equal). */
  statements: string[];
  /** Recorded tables that no longer exist. */
  missing: string[];
  /** Tables of the recorded schemas the record does not name (created since). */
  notRecorded: string[];
}

/** The statements restoring `record` for the app role; a retry computes none twice. */
export async function restorePlan(c: pg.ClientBase, role: RoleRow, pgc: PgTarget, record: ReadOnlyRecord): Promise<RestorePlan> {
  const recorded = new Set(record.tables.map((t) => display(t.schema, t.table)));
  const current = new Map((await readGrants(c, role.oid, record.schemas)).map((t) => [display(t.schema, t.table), t]));
  const statements: string[] = [];
  const missing: string[] = [];
  for (const want of record.tables) {
    const name = display(want.schema, want.table);
    const have = current.get(name);
    if (!have) {
      missing.push(name);
      continue;
    }
    const wantKeys = grantKeys([want]);
    const haveKeys = grantKeys([have]);
    const extra = [...haveKeys].some((k) => !wantKeys.has(k));
    const lacking = [...wantKeys].some((k) => !haveKeys.has(k));
    if (!extra && !lacking) continue;
    const q = qualified(want.schema, want.table);
    const grantee = ident(pgc.appRole);
    // A table-level REVOKE also clears column grants; then grant exactly the record.
    if (extra) statements.push(`REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON TABLE ${q} FROM ${grantee}`);
    const keep = extra ? new Set<string>() : haveKeys;
    // Records hold plain privileges only (record.ts): nothing here is granted WITH GRANT OPTION.
    const privs = want.privileges.filter((p) => !keep.has(`${name} ${p.privilege}`)).map((p) => p.privilege);
    if (privs.length) statements.push(`GRANT ${privs.join(', ')} ON TABLE ${q} TO ${grantee}`);
    for (const priv of COLUMN_PRIVILEGES) {
      const cols = want.columns.filter((col) => col.privilege === priv && !keep.has(`${name} ${priv} (${col.column})`)).map((col) => ident(col.column));
      if (cols.length) statements.push(`GRANT ${priv} (${cols.join(', ')}) ON TABLE ${q} TO ${grantee}`);
    }
  }
  const settings = await readSettings(c, role.oid);
  const want = record.settings.roleInDatabase;
  if (want === null && settings.roleInDatabase !== null) {
    statements.push(`ALTER ROLE ${ident(pgc.appRole)} IN DATABASE ${ident(pgc.database)} RESET default_transaction_read_only`);
  } else if (want !== null && settings.roleInDatabase !== want) {
    statements.push(`ALTER ROLE ${ident(pgc.appRole)} IN DATABASE ${ident(pgc.database)} SET default_transaction_read_only = ${pg.escapeLiteral(want)}`);
  }
  return { statements, missing, notRecorded: [...current.keys()].filter((k) => !recorded.has(k)) };
}

/** Read back: the role's grants on the recorded tables and its read-only default equal the record, or a (retryable) failure saying how they differ. */
export async function verifyRestored(c: pg.ClientBase, role: RoleRow, pgc: PgTarget, record: ReadOnlyRecord): Promise<void> {
  const who = `"${pgc.appRole}"`;
  const recorded = new Set(record.tables.map((t) => display(t.schema, t.table)));
  const now = await readGrants(c, role.oid, record.schemas);
  const still = new Set(now.map((t) => display(t.schema, t.table)));
  const wanted = grantKeys(record.tables.filter((t) => still.has(display(t.schema, t.table))));
  const got = grantKeys(now.filter((t) => recorded.has(display(t.schema, t.table))));
  const lacking = [...wanted].filter((k) => !got.has(k));
  const extra = [...got].filter((k) => !wanted.has(k));
  if (lacking.length || extra.length) {
    throw verificationFailed(
      `${who}'s privileges differ from the record: ${lacking.length ? `missing ${listSome(lacking)}` : ''}${lacking.length && extra.length ? '; ' : ''}${extra.length ? `not recorded ${listSome(extra)}` : ''}`,
    );
  }
  const settings = await readSettings(c, role.oid);
  if (settings.roleInDatabase !== record.settings.roleInDatabase) {
    throw verificationFailed(`default_transaction_read_only for ${who} in "${pgc.database}" is ${settings.roleInDatabase ?? 'unset'}, recorded ${record.settings.roleInDatabase ?? 'unset'}`);
  }
}

/** A recorded table the app role may write again (INSERT or DELETE), to prove the lift on. */
export function writeProbe(record: ReadOnlyRecord, existing: ReadonlySet<string>): ReadOnlyRecord['tables'][number] | undefined {
  return record.tables.find(
    (t) => (t.kind === 'r' || t.kind === 'p') && existing.has(display(t.schema, t.table)) && t.privileges.some((p) => p.privilege === 'INSERT' || p.privilege === 'DELETE'),
  );
}
