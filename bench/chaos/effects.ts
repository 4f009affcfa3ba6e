/**
 * What the incidents did to the target systems, read from the systems themselves (never from
 * Firebreak's word): every Redis key with its type and size, the deny file's lines and what
 * nginx answers the banned clients, the app role's grants and settings, whether the password
 * the .env holds is the one PostgreSQL verifies, each .env name's line count, the rows of
 * Firebreak's own tables, and per edge host its deny file's lines, whether its checksum is the
 * one of the worker's ban set, and what its nginx answers. Names and values that differ from run to run (incident ids,
 * timestamps, random secrets) are normalised, so a run under faults must give exactly the
 * snapshot of a run without them: a lost effect is a missing line, a doubled one an extra
 * line or a bigger count.
 */
import { readFileSync } from 'node:fs';
import { readEdgeDenyFile, setChecksum } from '../../activities/edge/deny-set.js';
import { httpGet } from '../../test/helpers/http.js';
import { scramMatches, verifierOf } from '../../test/helpers/scram-postgres.js';
import { APP_DB, APP_ROLE, INITIAL_ENV, OWN_DB, type ChaosStack } from './stack.js';

export interface Snapshot {
  lines: string[];
  /** Counts for the table: how much was compared. */
  counts: { redisKeys: number; denyLines: number; grants: number; records: number; issues: number; edges?: number; edgeLines?: number };
}

const ID = /INC-\d{8}-[a-z0-9]{6}/g;
const ISO = /\d{4}-\d{2}-\d{2}T[\d:.]+Z/g;
/** A hash in a key name (e.g. of the deny file's path, which differs between stacks). */
const HASH = /\b[0-9a-f]{16,64}\b/g;

function norm(s: string): string {
  return s.replace(ID, '<incident>').replace(ISO, '<time>').replace(HASH, '<hash>');
}

function normValue(v: string): string {
  if (/^\d{10,}$/.test(v)) return '<epoch>';
  if (/^-?\d{1,9}$/.test(v)) return v;
  if (v.startsWith('{') || v.startsWith('[')) {
    try {
      const parsed = JSON.parse(v) as unknown;
      const keys = parsed && typeof parsed === 'object' ? Object.keys(parsed).sort().join(',') : '';
      return `<json ${keys}>`;
    } catch {
      return '<text>';
    }
  }
  return v.length === 0 ? '<empty>' : '<text>';
}

async function redisLines(stack: ChaosStack): Promise<string[]> {
  const r = stack.redis.client;
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await r.scan(cursor, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  const out: string[] = [];
  for (const key of keys) {
    const type = await r.type(key);
    const ttl = (await r.pttl(key)) > 0 ? ' ttl' : '';
    let what: string;
    if (type === 'string') what = normValue((await r.get(key)) ?? '');
    else if (type === 'hash') what = `fields ${(await r.hkeys(key)).map(norm).sort().join(',')}`;
    else if (type === 'zset') what = `members ${await r.zcard(key)}`;
    else if (type === 'set') what = `members ${await r.scard(key)}`;
    else if (type === 'list') what = `length ${await r.llen(key)}`;
    else what = type;
    out.push(`redis ${norm(key)} ${type} ${what}${ttl}`);
  }
  return out.sort();
}

async function grantLines(stack: ChaosStack): Promise<string[]> {
  const c = await stack.postgres.connect(APP_DB);
  try {
    const { rows } = await c.query<{ line: string }>(
      `SELECT n.nspname || '.' || c.relname || ' ' || a.privilege_type AS line
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace CROSS JOIN LATERAL aclexplode(c.relacl) a
       WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' AND a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $1)
       ORDER BY 1`,
      [APP_ROLE],
    );
    const settings = await c.query<{ line: string }>(
      `SELECT coalesce(d.datname, '*') || ' ' || array_to_string(s.setconfig, ',') AS line
       FROM pg_db_role_setting s LEFT JOIN pg_database d ON d.oid = s.setdatabase
       WHERE s.setrole = (SELECT oid FROM pg_roles WHERE rolname = $1) ORDER BY 1`,
      [APP_ROLE],
    );
    return [...rows.map((r) => `grant ${r.line}`), ...settings.rows.map((r) => `role setting ${r.line}`)];
  } finally {
    await c.end();
  }
}

/** Rows of every Firebreak table (schema firebreak*) in its own database and the app's, by table and completion. */
async function recordLines(stack: ChaosStack): Promise<string[]> {
  const out: string[] = [];
  for (const database of [OWN_DB, APP_DB]) {
    const c = await stack.postgres.connect(database).catch(() => undefined);
    if (!c) {
      out.push(`database ${database} absent`);
      continue;
    }
    try {
      const { rows } = await c.query<{ t: string; has_completed: boolean }>(
        `SELECT quote_ident(t.table_schema) || '.' || quote_ident(t.table_name) AS t,
                EXISTS (SELECT 1 FROM information_schema.columns k WHERE k.table_schema = t.table_schema AND k.table_name = t.table_name AND k.column_name = 'completed_at') AS has_completed
         FROM information_schema.tables t WHERE t.table_schema LIKE 'firebreak%' AND t.table_type = 'BASE TABLE' ORDER BY 1`,
      );
      for (const { t, has_completed } of rows) {
        const q = has_completed
          ? `SELECT count(*)::int AS n, count(completed_at)::int AS done, string_agg(DISTINCT kind || ':' || name, ',' ORDER BY kind || ':' || name) AS what FROM ${t}`
          : `SELECT count(*)::int AS n FROM ${t}`;
        const { rows: r } = await c.query<{ n: number; done?: number; what?: string }>(q);
        const row = r[0];
        out.push(`rows ${database}.${t} ${row?.n ?? 0}${has_completed ? ` completed ${row?.done ?? 0} ${row?.what ?? ''}` : ''}`);
      }
    } finally {
      await c.end();
    }
  }
  return out;
}

function envLines(stack: ChaosStack): { lines: string[]; values: Map<string, string> } {
  const counts = new Map<string, number>();
  const values = new Map<string, string>();
  for (const line of readFileSync(stack.envFile, 'utf8').split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line);
    if (!m) continue;
    counts.set(m[1] as string, (counts.get(m[1] as string) ?? 0) + 1);
    values.set(m[1] as string, m[2] as string);
  }
  const initial = new Map(INITIAL_ENV.split('\n').flatMap((l) => (/^([A-Z_]+)=(.*)$/.exec(l) ? [[l.split('=')[0] as string, l.slice(l.indexOf('=') + 1)]] : [])));
  const how = (k: string) => (values.get(k) === initial.get(k) ? 'as before' : 'changed');
  return { lines: [...counts].sort().map(([k, n]) => `env ${k} lines ${n} ${how(k)}`), values };
}

async function answers(port: number, banned: readonly string[], label: string): Promise<string[]> {
  const out: string[] = [];
  for (const ip of [...banned, '192.0.2.200']) {
    const answer = await httpGet(port, { headers: { 'X-Real-IP': ip } });
    out.push(`${label} ${ip} -> ${answer.status}`);
  }
  return out;
}

/**
 * Each edge's deny file as it is on its disk: its `deny` lines (a doubled ban is a second
 * line), the count its header claims, whether its checksum is the worker deny file's ban
 * set's (the edge converged to the current bans), and its nginx's answers.
 */
async function edgeLines(stack: ChaosStack, banned: readonly string[], workerSet: readonly string[]): Promise<string[]> {
  const want = setChecksum(workerSet);
  const out: string[] = [];
  for (const e of stack.edges) {
    const text = readFileSync(e.nginx.denyFile, 'utf8');
    const read = readEdgeDenyFile(text);
    out.push(...text.split('\n').filter((l) => l.startsWith('deny ')).sort().map((l) => `edge ${e.name} deny-file ${l}`));
    out.push(`edge ${e.name} header claims ${read.claimed ?? 'nothing'}`, `edge ${e.name} checksum = the worker's ban set: ${read.checksum === want}`);
    out.push(...(await answers(e.nginx.port, banned, `edge ${e.name} nginx`)));
  }
  return out;
}

export async function snapshot(stack: ChaosStack, banned: readonly string[]): Promise<Snapshot> {
  const redis = await redisLines(stack);
  // In file order (the registry's network order, which the edges' sets share), for the checksum.
  const denyText = readFileSync(stack.nginx.denyFile, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('deny '));
  const deny = denyText.map((l) => `deny-file ${l}`).sort();
  const nginx = await answers(stack.nginx.port, banned, 'nginx');
  const edges = await edgeLines(stack, banned, denyText.map((l) => l.slice(5, -1)));
  const grants = await grantLines(stack);
  const records = await recordLines(stack);
  const env = envLines(stack);
  const admin = await stack.postgres.connect();
  let password: string;
  try {
    const verifier = await verifierOf(admin, APP_ROLE);
    const sink = env.values.get('DATABASE_PASSWORD') ?? '';
    password = `postgres verifies the .env DATABASE_PASSWORD: ${verifier ? scramMatches(verifier, sink) : 'no verifier'}`;
  } finally {
    await admin.end();
  }
  const gh = stack.github.model;
  const github = [
    ...gh.issues.map((i) => `github issue "${norm(i.title)}" ${i.state} [${i.labels.join(',')}]`).sort(),
    ...['DATABASE_PASSWORD', 'JWT_SECRET_KEY'].map((k) => `github secret ${k} ${gh.decryptSecret(k) === undefined ? 'absent' : `= .env: ${gh.decryptSecret(k) === env.values.get(k)}`}`),
  ];
  return {
    lines: [...redis, ...deny, ...nginx, ...edges, ...grants, ...records, ...env.lines, password, ...github],
    counts: { redisKeys: redis.length, denyLines: deny.length, grants: grants.length, records: records.length, issues: gh.issues.length, edges: stack.edges.length, edgeLines: edges.filter((l) => / deny-file /.test(l)).length },
  };
}

/** Lines only in `want` (lost) and only in `got` (extra or doubled), as a multiset difference. */
export function diff(want: Snapshot, got: Snapshot): string[] {
  const left = new Map<string, number>();
  for (const l of want.lines) left.set(l, (left.get(l) ?? 0) + 1);
  const extra: string[] = [];
  for (const l of got.lines) {
    const n = left.get(l) ?? 0;
    if (n > 0) left.set(l, n - 1);
    else extra.push(`+ ${l}`);
  }
  const lost = [...left].flatMap(([l, n]) => Array.from({ length: n }, () => `- ${l}`));
  return [...lost, ...extra];
}
