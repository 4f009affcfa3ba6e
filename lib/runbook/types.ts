/**
 * The normalized shape of a validated runbook. Pure types only: this file is
 * shared by the loader (Node) and the workflow sandbox.
 */

export const PHASES = ['detection', 'containment', 'recovery', 'postmortem'] as const;
export type PhaseName = (typeof PHASES)[number];

export const PHASE_TITLES: Record<PhaseName, string> = {
  detection: 'I. Detection & analysis',
  containment: 'II. Containment',
  recovery: 'III. Eradication & recovery',
  postmortem: 'IV. Post-mortem & notification',
};

export type ParamType = 'string' | 'integer' | 'number' | 'boolean' | 'string[]';
export type ParamValue = string | number | boolean | string[];

export interface ParamSpec {
  type: ParamType;
  description?: string;
  required: boolean;
  default?: ParamValue;
  /** Allowed values (strings only). */
  enum?: string[];
  /** Encrypted in history when a payload key is configured; never logged. */
  sensitive: boolean;
}

export interface ApprovalSpec {
  /** Distinct approvers needed (never the declarer). */
  count: number;
  /** Approver group from config. */
  group: string;
  /** Escalate (timeline + log) each time this many ms pass without enough votes. */
  escalateAfterMs: number;
}

export interface RetrySpec {
  maximumAttempts?: number;
  initialIntervalMs?: number;
  maximumIntervalMs?: number;
  backoffCoefficient?: number;
}

export interface StepSpec {
  id: string;
  action: string;
  /** Arguments; strings may hold `{{ params.x }}` / `{{ steps.id.output.path }}` / `{{ incident.field }}` references. */
  with: Record<string, unknown>;
  needs: string[];
  approval?: ApprovalSpec;
  /** Condition expression, e.g. `params.revoke_all and not params.dry`. */
  when?: string;
  retry?: RetrySpec;
  timeoutMs?: number;
  /** A failure of this step does not block the incident. */
  continueOnError: boolean;
  description?: string;
}

/**
 * When the incident starts the GDPR Art. 33 clock (runbook `notice.gdpr`), decided at
 * declaration from params and incident fields. Conditions are in the `when:` language.
 */
export interface GdprTrigger {
  /** Condition: personal data is affected (the clock starts). */
  personalData: string;
  /** Condition: high risk to the data subjects (Art. 34 notice to them too). */
  highRisk?: string;
  /** Template for the ISO moment of awareness (e.g. `{{ params.aware_at }}`); empty or absent: the declaration. */
  awareAt?: string;
}

export interface RunbookDoc {
  name: string;
  title: string;
  description?: string;
  severity: Severity;
  params: Record<string, ParamSpec>;
  phases: Record<PhaseName, StepSpec[]>;
  resolve: { approval: Omit<ApprovalSpec, 'escalateAfterMs'> & { escalateAfterMs: number } };
  /** Notification duties. Without `notice.gdpr`, params named personal_data / aware_at / high_risk start the clock (legacy). */
  notice?: { gdpr?: GdprTrigger };
}

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** What a front door snapshots into the workflow input. */
export interface RunbookSnapshot {
  /** Path relative to the runbooks folder, for humans. */
  file: string;
  /** Raw YAML as validated. */
  content: string;
  /** SHA-256 hex of `content`. */
  sha256: string;
  doc: RunbookDoc;
}
