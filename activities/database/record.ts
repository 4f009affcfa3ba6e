/** The undo's `restore` argument: the prior state database.read_only recorded, validated wherever it comes back from. */
import { z } from 'zod';
import { badInput } from '../support/failures.js';
import { COLUMN_PRIVILEGES, display, RELKINDS, WRITE_PRIVILEGES } from './sql.js';

/** Same rule as config identifiers (role, database, schemas). */
const configIdentifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/);
/** Table and column names come from the catalog: anything PostgreSQL accepts (≤ 63 bytes, no NUL). */
const catalogName = z
  .string()
  .min(1)
  .refine((s) => !s.includes('\0') && Buffer.byteLength(s, 'utf8') <= 63, 'not a PostgreSQL name');
/** Spellings PostgreSQL accepts for a boolean setting (it stores them as written). */
const boolSetting = z
  .string()
  .regex(/^(on|of|off|t|tr|tru|true|f|fa|fal|fals|false|y|ye|yes|n|no|1|0)$/i)
  .nullable();

const recordSchema = z
  .object({
    version: z.literal(1),
    role: configIdentifier,
    database: configIdentifier,
    schemas: z.array(configIdentifier).min(1).max(200),
    recordedAt: z.iso.datetime(),
    settings: z
      .object({ roleInDatabase: boolSetting, role: boolSetting, database: boolSetting })
      .strict()
      .describe('default_transaction_read_only as set for (role, database), (role) and (database); null when unset'),
    tables: z
      .array(
        z
          .object({
            schema: configIdentifier,
            table: catalogName,
            kind: z.enum(RELKINDS),
            privileges: z.array(z.object({ privilege: z.enum(WRITE_PRIVILEGES), grantable: z.boolean() }).strict()).max(4),
            columns: z
              .array(z.object({ column: catalogName, privilege: z.enum(COLUMN_PRIVILEGES), grantable: z.boolean() }).strict())
              .max(2 * 1600),
          })
          .strict(),
      )
      .max(100_000),
  })
  .strict()
  .superRefine((r, ctx) => {
    for (const [i, t] of r.tables.entries()) {
      if (!r.schemas.includes(t.schema)) ctx.addIssue({ code: 'custom', path: ['tables', i, 'schema'], message: `schema "${t.schema}" is not one of the recorded schemas` });
    }
  });

/** Prior state recorded by database.read_only: the app role's direct write grants and the read-only default. */
export type ReadOnlyRecord = z.infer<typeof recordSchema>;
export type TableRecord = ReadOnlyRecord['tables'][number];
export type Settings = ReadOnlyRecord['settings'];

export function parseRecord(raw: unknown, what: string): ReadOnlyRecord {
  const parsed = recordSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(record)'}: ${i.message}`);
  throw badInput(`${what} is not a database.read_only record: ${issues.join('; ')}`);
}

export const isOn = (v: string | null): boolean => v !== null && /^(on|t|tr|tru|true|y|ye|yes|1)$/i.test(v);

export function grantKeys(tables: TableRecord[]): Set<string> {
  const keys = new Set<string>();
  for (const t of tables) {
    for (const p of t.privileges) keys.add(`${display(t.schema, t.table)} ${p.privilege}${p.grantable ? ' WITH GRANT OPTION' : ''}`);
    for (const c of t.columns) keys.add(`${display(t.schema, t.table)} ${c.privilege} (${c.column})${c.grantable ? ' WITH GRANT OPTION' : ''}`);
  }
  return keys;
}

export const grantCount = (tables: TableRecord[]): number => tables.reduce((n, t) => n + t.privileges.length + t.columns.length, 0);
