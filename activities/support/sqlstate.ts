/** The PostgreSQL SQLSTATE codes Firebreak branches on, by name (Appendix A of the PostgreSQL manual). */
export const SQLSTATE = {
  readOnlySqlTransaction: '25006',
  invalidPassword: '28P01',
  dependentObjectsStillExist: '2BP01',
  invalidCatalogName: '3D000',
  invalidSchemaName: '3F000',
  insufficientPrivilege: '42501',
  undefinedColumn: '42703',
  undefinedTable: '42P01',
  duplicateDatabase: '42P04',
  lockNotAvailable: '55P03',
} as const;

export type SqlStateName = keyof typeof SQLSTATE;

/** SQLSTATE classes (the first two characters) Firebreak branches on. */
export const SQLSTATE_CLASS = {
  invalidAuthorizationSpecification: '28',
  invalidCatalogName: '3D',
  syntaxErrorOrAccessRuleViolation: '42',
} as const;

/** Is `code` in one of these classes? */
export function inSqlStateClass(code: string | undefined, ...classes: (typeof SQLSTATE_CLASS)[keyof typeof SQLSTATE_CLASS][]): boolean {
  return code !== undefined && classes.some((c) => code.startsWith(c));
}
