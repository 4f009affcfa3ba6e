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

/** Firebreak restores plain privileges only: a grant option would let the app role hand its writes on, past any later containment. */
const plainGrant = z.literal(false, { error: 'WITH GRANT OPTION is never restored' });

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
            privileges: z.array(z.object({ privilege: z.enum(WRITE_PRIVILEGES), grantable: plainGrant }).strict()).max(4),
            columns: z
              .array(z.object({ column: catalogName, privilege: z.enum(COLUMN_PRIVILEGES), grantable: plainGrant }).strict())
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

/** A relation's write grants as the catalog has them, grant option included (a record never has one). */
export interface CatalogTable {
  schema: string;
  table: string;
  kind: TableRecord['kind'];
  privileges: Array<{ privilege: TableRecord['privileges'][number]['privilege']; grantable: boolean }>;
  columns: Array<{ column: string; privilege: TableRecord['columns'][number]['privilege']; grantable: boolean }>;
}

/** The catalog's grants as read_only records them: the same privileges without the grant option; `dropped` names those that had it. */
export function withoutGrantOption(tables: readonly CatalogTable[]): { tables: TableRecord[]; dropped: string[] } {
  const dropped: string[] = [];
  const out = tables.map((t) => {
    for (const p of t.privileges) if (p.grantable) dropped.push(`${display(t.schema, t.table)} ${p.privilege}`);
    for (const c of t.columns) if (c.grantable) dropped.push(`${display(t.schema, t.table)} ${c.privilege} (${c.column})`);
    return {
      ...t,
      privileges: t.privileges.map((p) => ({ privilege: p.privilege, grantable: false as const })),
      columns: t.columns.map((c) => ({ column: c.column, privilege: c.privilege, grantable: false as const })),
    };
  });
  return { tables: out, dropped };
}

export const isOn = (v: string | null): boolean => v !== null && /^(on|t|tr|tru|true|y|ye|yes|1)$/i.test(v);

export function grantKeys(tables: readonly CatalogTable[]): Set<string> {
  const keys = new Set<string>();
  for (const t of tables) {
    for (const p of t.privileges) keys.add(`${display(t.schema, t.table)} ${p.privilege}${p.grantable ? ' WITH GRANT OPTION' : ''}`);
    for (const c of t.columns) keys.add(`${display(t.schema, t.table)} ${c.privilege} (${c.column})${c.grantable ? ' WITH GRANT OPTION' : ''}`);
  }
  return keys;
}

export const grantCount = (tables: readonly CatalogTable[]): number => tables.reduce((n, t) => n + t.privileges.length + t.columns.length, 0);
