/**
 * The audit log's tables in Firebreak's database. Appends run as the NOLOGIN role
 * firebreak_audit (SET LOCAL ROLE), which may only INSERT and SELECT; a trigger refuses
 * UPDATE, DELETE and TRUNCATE to everyone but the tables' owner. Neither stops a superuser:
 * that is what the chain and the signed checkpoints are for (lib/audit/verify.ts).
 */
export const AUDIT_ROLE = 'firebreak_audit';

const TABLES = ['audit_records', 'audit_global', 'audit_checkpoints', 'audit_archives', 'audit_refusals'] as const;

export const AUDIT_SCHEMA: readonly string[] = [
  `DO $$ BEGIN CREATE ROLE ${AUDIT_ROLE} NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`,
  // The connecting role must be able to SET ROLE to it (a superuser always can).
  `DO $$ BEGIN EXECUTE format('GRANT ${AUDIT_ROLE} TO %I', current_user); EXCEPTION WHEN others THEN NULL; END $$`,
  `CREATE TABLE IF NOT EXISTS firebreak.audit_records (
     incident_id text NOT NULL,
     seq integer NOT NULL CHECK (seq >= 0),
     at timestamptz NOT NULL,
     at_text text NOT NULL,
     kind text NOT NULL,
     actor text,
     payload text NOT NULL,
     prev_hash text NOT NULL,
     hash text NOT NULL,
     PRIMARY KEY (incident_id, seq)
   )`,
  'CREATE INDEX IF NOT EXISTS audit_records_at ON firebreak.audit_records (at)',
  `CREATE TABLE IF NOT EXISTS firebreak.audit_global (
     gseq integer PRIMARY KEY CHECK (gseq >= 0),
     incident_id text NOT NULL,
     size integer NOT NULL,
     head text NOT NULL,
     at_text text NOT NULL,
     prev_hash text NOT NULL,
     hash text NOT NULL
   )`,
  `CREATE TABLE IF NOT EXISTS firebreak.audit_checkpoints (
     incident_id text NOT NULL,
     size integer NOT NULL,
     head text NOT NULL,
     gseq integer NOT NULL,
     global_hash text NOT NULL,
     at_text text NOT NULL,
     key_id text,
     signature text,
     PRIMARY KEY (incident_id, size)
   )`,
  `CREATE TABLE IF NOT EXISTS firebreak.audit_archives (
     workflow_id text NOT NULL,
     run_id text NOT NULL,
     incident_id text NOT NULL,
     workflow_type text NOT NULL,
     status text NOT NULL,
     archived_at timestamptz NOT NULL DEFAULT now(),
     events integer NOT NULL,
     history text NOT NULL,
     decoded text NOT NULL,
     sha256 text NOT NULL,
     PRIMARY KEY (workflow_id, run_id)
   )`,
  `CREATE TABLE IF NOT EXISTS firebreak.audit_refusals (
     id bigserial PRIMARY KEY,
     at timestamptz NOT NULL DEFAULT now(),
     incident_id text,
     kind text,
     claimed_actor text,
     claimed_key text,
     reason text NOT NULL
   )`,
  `CREATE OR REPLACE FUNCTION firebreak.audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     IF current_user::regrole::oid <> (SELECT relowner FROM pg_class WHERE oid = TG_RELID) THEN
       RAISE EXCEPTION 'firebreak.% is append-only: % refused for %', TG_TABLE_NAME, TG_OP, current_user USING ERRCODE = 'insufficient_privilege';
     END IF;
     RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
   END $$`,
  `GRANT USAGE ON SCHEMA firebreak TO ${AUDIT_ROLE}`,
  ...TABLES.flatMap((t) => [
    `CREATE OR REPLACE TRIGGER ${t}_append_only BEFORE UPDATE OR DELETE ON firebreak.${t} FOR EACH ROW EXECUTE FUNCTION firebreak.audit_append_only()`,
    `CREATE OR REPLACE TRIGGER ${t}_no_truncate BEFORE TRUNCATE ON firebreak.${t} FOR EACH STATEMENT EXECUTE FUNCTION firebreak.audit_append_only()`,
    `REVOKE ALL ON firebreak.${t} FROM ${AUDIT_ROLE}`,
    `GRANT SELECT, INSERT ON firebreak.${t} TO ${AUDIT_ROLE}`,
  ]),
  `GRANT USAGE ON SEQUENCE firebreak.audit_refusals_id_seq TO ${AUDIT_ROLE}`,
];
