/** Names and constants the database.* steps share: which privileges are "write", and how SQL names are quoted. */
import pg from 'pg';

export const WRITE_PRIVILEGES = ['DELETE', 'INSERT', 'TRUNCATE', 'UPDATE'] as const;
export const COLUMN_PRIVILEGES = ['INSERT', 'UPDATE'] as const;
/** What `GRANT … ON ALL TABLES IN SCHEMA` touches: tables, partitioned tables, views, materialized views, foreign tables. */
export const RELKINDS = ['r', 'p', 'v', 'm', 'f'] as const;

/** Serialises read_only/read_write on one database (bookkeeping DDL, record, revoke). */
export const LOCK_KEY = [0x46697265, 0x44420001] as const;
const LIST_AT_MOST = 6;

export const ident = (name: string): string => pg.escapeIdentifier(name);
export const qualified = (schema: string, table: string): string => `${ident(schema)}.${ident(table)}`;
export const display = (schema: string, table: string): string => `${schema}.${table}`;
export const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** At most a few items, then how many more. */
export function listSome(items: string[]): string {
  const shown = items.slice(0, LIST_AT_MOST).join(', ');
  return items.length > LIST_AT_MOST ? `${shown} and ${items.length - LIST_AT_MOST} more` : shown;
}

export async function inTransaction<T>(c: pg.ClientBase, fn: () => Promise<T>): Promise<T> {
  await c.query('BEGIN');
  try {
    const result = await fn();
    await c.query('COMMIT');
    return result;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
