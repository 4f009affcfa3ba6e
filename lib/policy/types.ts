/**
 * The worker's policy for one incident, as the policy activity returns it into the
 * incident's history: who may decide (registry, approver groups), what the target demands
 * (gate floors, a personal vote), the runbook that runs, and the verified declarer.
 * Types only: shared by workflow code, activities and front doors.
 */
import type { Registry } from '../identity/registry.js';
import type { SignedStatement, Via } from '../identity/verify.js';
import type { StepProblem } from '../runbook/plan.js';
import type { RunbookSnapshot } from '../runbook/types.js';

export interface GateFloor {
  actions: string[];
  count: number;
  group: string;
}

/** Who declared, as the worker verified it; `unauthenticated` on a development target. */
export interface Declarer {
  responder: string;
  via: Via | 'unauthenticated';
  keyId?: string;
  service?: string;
}

export interface IncidentPolicy {
  target: string;
  /** False on a target marked `development`: nothing is signed, and the incident says so. */
  authenticated: boolean;
  production: boolean;
  drillTarget: boolean;
  registry: Registry;
  approvers: Record<string, string[]>;
  approversSource: string;
  gates: GateFloor[];
  personalVote: boolean;
  skewMs: number;
  /** Present when the worker keeps the audit log (config `audit:`): the incident appends to it. */
  audit?: { archive: boolean };
  /** The runbook that runs: the worker's own copy. */
  runbook: RunbookSnapshot;
  declarer: Declarer;
  declaration?: SignedStatement;
  /** The worker opens an incident channel and posts events there (slack.channels covers the target). Absent: no notifications. */
  notify?: { slack: true };
}

/** With the policy, the worker's pre-flight of every step's known arguments (asked for with `preflight`): one round trip, not two. */
export type PolicyVerdict = { ok: true; policy: IncidentPolicy; preflight?: StepProblem[] } | { ok: false; problem: string };

/** The registry as re-read at a gate (key revocations take effect on open incidents). */
export interface RegistryRefresh {
  registry: Registry;
}
