/**
 * Every table of Firebreak's own database (`database.url`, schema `firebreak`), in order.
 * Each statement is idempotent; they run together under one lock whenever a worker first
 * connects, so a table added here (the audit log's too) exists before anyone uses it.
 */
import { AUDIT_SCHEMA } from './audit-schema.js';

export const FIREBREAK_SCHEMA: readonly string[] = [
  'CREATE SCHEMA IF NOT EXISTS firebreak',
  // Secret rotations' pending values (activities/secrets/pending.ts): encrypted until completed, then cleared.
  `CREATE TABLE IF NOT EXISTS firebreak.pending_secrets (
     incident_id text NOT NULL,
     step_id text NOT NULL,
     target text NOT NULL,
     kind text NOT NULL,
     name text NOT NULL,
     value_enc bytea,
     fingerprint text NOT NULL,
     previous_verifier_fp text,
     created_at timestamptz NOT NULL DEFAULT now(),
     completed_at timestamptz,
     PRIMARY KEY (incident_id, step_id),
     CONSTRAINT pending_value_until_completed CHECK ((completed_at IS NULL) = (value_enc IS NOT NULL))
   )`,
  ...AUDIT_SCHEMA,
];
