/** Evidence source `sessions`: who is connected to the app database and what they run (queries redacted). */
import type pg from 'pg';
import { redactSql, redactText } from '../../lib/redact.js';

/** Sessions listed at most (the total is always given). */
const MAX_SESSIONS = 1_000;
const QUERY_CHARS = 200;

export interface SessionRow {
  pid: number;
  usename: string | null;
  client_addr: string | null;
  application_name: string;
  state: string | null;
  backend_start: string | null;
  xact_start: string | null;
  query_start: string | null;
  wait_event_type: string | null;
  query: string;
}

const toIso = (v: Date | string | null): string | null => (v instanceof Date ? v.toISOString() : v);

export async function captureSessions(pool: pg.Pool) {
  const { rows } = await pool.query<Omit<SessionRow, 'backend_start' | 'xact_start' | 'query_start'> & { backend_start: Date | null; xact_start: Date | null; query_start: Date | null; total: string }>(
    `SELECT pid, usename::text, host(client_addr) AS client_addr, application_name, state, backend_start, xact_start, query_start, wait_event_type,
            coalesce(query, '') AS query, count(*) OVER () AS total
     FROM pg_stat_activity
     WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
     ORDER BY backend_start, pid
     LIMIT $1`,
    [MAX_SESSIONS],
  );
  const list: SessionRow[] = rows.map((r) => ({
    pid: r.pid,
    usename: r.usename,
    client_addr: r.client_addr,
    application_name: redactText(r.application_name ?? ''),
    state: r.state,
    backend_start: toIso(r.backend_start),
    xact_start: toIso(r.xact_start),
    query_start: toIso(r.query_start),
    wait_event_type: r.wait_event_type,
    // Redacted whole, then cut: a literal cut in half is still redacted.
    query: redactSql(r.query).replace(/\s+/g, ' ').trim().slice(0, QUERY_CHARS),
  }));
  const total = rows.length ? Number(rows[0]?.total) : 0;
  const database = (await pool.query<{ db: string }>('SELECT current_database() AS db')).rows[0]?.db ?? '';
  return { database, count: total, truncated: total > list.length, rows: list };
}
