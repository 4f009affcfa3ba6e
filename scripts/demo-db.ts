/** The demo's throwaway app databases: tables owned by postgres, the app role with plain grants (as it should be). */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface DemoDb {
  database: string;
  role: string;
  drop(): Promise<void>;
}

export async function createDemoDb(label = ''): Promise<DemoDb> {
  const suffix = randomBytes(3).toString('hex');
  const database = `firebreak_demo_${label}${suffix}`;
  const role = `firebreak_demo_${label}app_${suffix}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE ROLE ${role} LOGIN`);
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  const db = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:5432/${database}` });
  await db.connect();
  await db.query(`CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL)`);
  await db.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON orders TO ${role}`);
  await db.query(`GRANT USAGE ON SEQUENCE orders_id_seq TO ${role}`);
  await db.end();
  return {
    database,
    role,
    async drop() {
      const a = new pg.Client({ connectionString: ADMIN_URL });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await a.query(`DROP ROLE IF EXISTS ${role}`);
      await a.end();
    },
  };
}

