/**
 * A protected app's database for the database.read_only tests: a unique
 * database and a unique LOGIN role (mixed case and a `$`, so every statement
 * must quote it), Django-like tables in `public` and in a second schema
 * `Billing`, and the grants a Django app role typically has, plus a few
 * shapes the undo must restore exactly (SELECT+INSERT only, WITH GRANT
 * OPTION, a column grant, a view, a partitioned table, a table whose name
 * needs quoting).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createTestDatabase, POSTGRES_ADMIN_URL, type TestDatabase } from './services.js';

const q = (name: string): string => pg.escapeIdentifier(name);

export interface AppDatabase {
  db: TestDatabase;
  /** Database name. */
  name: string;
  /** The app role (LOGIN, trust auth): `Fbt_App$<hex>`. */
  role: string;
  /** Admin (postgres) connection to the app database. */
  admin: pg.Client;
  /** A unique role name (created by `createRole`, dropped by `cleanup`). */
  createRole(label: string, options?: string): Promise<string>;
  /** A new session as `role` (default the app role) on the app database; closed by `cleanup` too. */
  connectAs(role?: string): Promise<pg.Client>;
  /** Every ACL entry (table and column level, all privileges) held by `role`, as sorted lines. */
  grants(role?: string): Promise<string[]>;
  /** The role's pg_db_role_setting rows, as sorted lines. */
  settings(role?: string): Promise<string[]>;
  /** Drop the database (forcing sessions off) and every role made here. */
  cleanup(): Promise<void>;
}

export async function createAppDatabase(label: string): Promise<AppDatabase> {
  const db = await createTestDatabase(label);
  const hex = randomBytes(4).toString('hex');
  const role = `Fbt_App$${hex}`;
  const roles: string[] = [];
  const sessions: pg.Client[] = [];
  const admin = new pg.Client({ connectionString: db.url });
  admin.on('error', () => undefined);
  await admin.connect();

  async function createRole(name: string, options = 'LOGIN'): Promise<string> {
    roles.push(name);
    await admin.query(`CREATE ROLE ${q(name)} ${options}`);
    return name;
  }

  await createRole(role);
  const app = q(role);
  await admin.query(`
    CREATE SCHEMA "Billing";
    GRANT USAGE ON SCHEMA public, "Billing" TO ${app};
    CREATE TABLE public.auth_user (id serial PRIMARY KEY, username text NOT NULL UNIQUE, is_active boolean NOT NULL DEFAULT true);
    GRANT SELECT, INSERT, UPDATE, DELETE ON public.auth_user TO ${app};
    GRANT USAGE ON SEQUENCE public.auth_user_id_seq TO ${app};
    INSERT INTO public.auth_user (username) VALUES ('alice'), ('bob');
    CREATE TABLE public.orders (id bigserial PRIMARY KEY, note text);
    GRANT SELECT, INSERT ON public.orders TO ${app};
    GRANT USAGE ON SEQUENCE public.orders_id_seq TO ${app};
    CREATE TABLE public."Weird Table""x" (id int);
    GRANT ALL ON public."Weird Table""x" TO ${app};
    CREATE TABLE public.profiles (user_id int, bio text);
    GRANT SELECT, UPDATE (bio) ON public.profiles TO ${app};
    CREATE VIEW public.active_users AS SELECT id, username FROM public.auth_user WHERE is_active;
    GRANT SELECT, INSERT ON public.active_users TO ${app};
    CREATE TABLE "Billing".invoices (id serial PRIMARY KEY, amount numeric);
    GRANT SELECT, UPDATE ON "Billing".invoices TO ${app};
    GRANT INSERT ON "Billing".invoices TO ${app} WITH GRANT OPTION;
    CREATE TABLE "Billing".events (at date NOT NULL, what text) PARTITION BY RANGE (at);
    CREATE TABLE "Billing".events_2026 PARTITION OF "Billing".events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
    GRANT SELECT, INSERT ON "Billing".events TO ${app};
  `);

  return {
    db,
    name: db.name,
    role,
    admin,
    createRole,
    async connectAs(who = role) {
      const c = new pg.Client({ connectionString: `postgres://${encodeURIComponent(who)}@127.0.0.1:5432/${db.name}` });
      c.on('error', () => undefined); // a terminated session errors on its next query; the tests look at that
      await c.connect();
      sessions.push(c);
      return c;
    },
    async grants(who = role) {
      const { rows } = await admin.query<{ line: string }>(
        `SELECT line FROM (SELECT n.nspname || '.' || c.relname || coalesce('(' || x.col || ')', '') || ' ' || a.privilege_type
                || CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END || ' by ' || pg_get_userbyid(a.grantor) AS line
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         CROSS JOIN LATERAL (
           SELECT NULL::text AS col, c.relacl AS acl
           UNION ALL
           SELECT at.attname::text, at.attacl FROM pg_attribute at WHERE at.attrelid = c.oid AND at.attnum > 0 AND NOT at.attisdropped
         ) x
         CROSS JOIN LATERAL aclexplode(x.acl) a
         WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' AND a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $1)
         ) lines ORDER BY line COLLATE "C"`,
        [who],
      );
      return rows.map((r) => r.line);
    },
    async settings(who = role) {
      const { rows } = await admin.query<{ line: string }>(
        `SELECT coalesce(d.datname, '*') || ' ' || array_to_string(s.setconfig, ',') AS line
         FROM pg_db_role_setting s LEFT JOIN pg_database d ON d.oid = s.setdatabase
         WHERE s.setrole = (SELECT oid FROM pg_roles WHERE rolname = $1) ORDER BY line`,
        [who],
      );
      return rows.map((r) => r.line);
    },
    async cleanup() {
      await Promise.allSettled(sessions.map((c) => c.end()));
      await admin.end().catch(() => undefined);
      await db.drop();
      const root = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
      await root.connect();
      try {
        // Roles are cluster-wide: drop every one this test made, members before the roles they belong to.
        for (const r of [...roles].reverse()) await root.query(`DROP ROLE IF EXISTS ${q(r)}`);
      } finally {
        await root.end();
      }
    },
  };
}
