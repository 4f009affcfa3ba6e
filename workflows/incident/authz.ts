/**
 * Who may do what on an incident, in one place: the incident's validators and
 * the GDPR clock's both ask here, so every front door (CLI, Slack, API) meets the
 * same rules. The declarer never approves (two-person rule); approvers are named
 * per group in the worker's config, snapshotted at declaration; participants are
 * the declarer and every approver. Pure: validators run it on every replay.
 */
import type { Actor, GateStatus } from '../definitions.js';

/** The people of an incident, as snapshotted when it was declared. */
export interface Roster {
  declaredBy: Actor;
  approvers: Record<string, string[]>;
  /** The config file the approver groups came from (or `defaults`), for refusals that say where to configure them. */
  approversSource?: string;
}

export function isDeclarer(roster: Roster, actor: Actor): boolean {
  return actor.user === roster.declaredBy.user;
}

/** In any approver group. */
export function isApprover(roster: Roster, actor: Actor): boolean {
  return Object.values(roster.approvers).some((members) => members.includes(actor.user));
}

/** Who may abort, add notes, retry, confirm checklist items, mark personal data: the declarer or any approver. */
export function isParticipant(roster: Roster, actor: Actor): boolean {
  return isDeclarer(roster, actor) || isApprover(roster, actor);
}

/** Why `actor` may not `what` this incident (as a participant), or undefined. Without `what`, the bare rule. */
export function participantProblem(roster: Roster, actor: Actor, what?: string): string | undefined {
  if (isParticipant(roster, actor)) return undefined;
  return `${actor.user} is neither the declarer nor an approver${what ? `, so cannot ${what} this incident` : ''}`;
}

/** Why `actor` may not `what` (an approver's decision outside a gate: waivers, overrides), or undefined. */
export function approverProblem(roster: Roster, actor: Actor, what: string): string | undefined {
  if (isDeclarer(roster, actor)) return `two-person rule: ${actor.user} declared this incident and cannot ${what}`;
  if (!isApprover(roster, actor)) {
    const source = roster.approversSource && roster.approversSource !== 'defaults' ? roster.approversSource : 'firebreak.yaml';
    return `${actor.user} is not an approver, so cannot ${what} (configure approvers.groups.<group> in ${source})`;
  }
  return undefined;
}

/** How a vote was made, for the rules that depend on it (drill robots, a required personal vote). */
export interface VoteMeta {
  via?: string;
  /** The target requires at least one personal-key vote per gate. */
  personalVote?: boolean;
}

/** Why a vote on a gate is refused, or undefined when it is acceptable. `argsHash` binds the vote to the arguments shown. */
export function voteProblem(roster: Roster, gate: GateStatus | undefined, gateId: string, actor: Actor, argsHash?: string, meta: VoteMeta = {}): string | undefined {
  if (!gate) return `no gate "${gateId}" is open on this incident`;
  if (gate.state !== 'open') return `gate "${gateId}" is ${gate.state}, not open`;
  if (isDeclarer(roster, actor)) return `two-person rule: ${actor.user} declared this incident and cannot approve its gates`;
  const members = roster.approvers[gate.group] ?? [];
  // A drill robot stands in for any approver, and only ever in a drill on a drill target (the verifier's rule).
  if (meta.via !== 'drill-robot' && !members.includes(actor.user)) return `${actor.user} is not an approver in group "${gate.group}" (${whereToConfigure(roster, gate.group)})`;
  if (gate.approvals.some((v) => v.by === actor.user)) return `${actor.user} has already approved gate "${gateId}"`;
  const last = gate.approvals.length + 1 >= gate.required;
  if (meta.personalVote && last && meta.via !== 'personal' && meta.via !== 'drill-robot' && !gate.approvals.some((v) => v.via === 'personal')) {
    return `gate "${gateId}" needs at least one vote signed with a personal key (the target's policy), and ${actor.user}'s is ${meta.via ?? 'not'}: approve from the CLI with your own key`;
  }
  if (argsHash !== undefined && argsHash !== gate.argsHash) {
    return `approval is for arguments ${argsHash.slice(0, 12)}…, but gate "${gateId}" now has ${gate.argsHash.slice(0, 12)}…: read the status again and approve what it shows`;
  }
  return undefined;
}

/** Where approver groups are configured, for refusals: the config key and the file the incident was declared with. */
export function whereToConfigure(roster: Roster, group: string): string {
  const members = roster.approvers[group] ?? [];
  const source = roster.approversSource;
  const file = !source || source === 'defaults' ? 'firebreak.yaml (none was in use when the incident was declared: create one, see the README Quick start)' : source;
  return `${members.length ? `members: ${members.join(', ')}` : 'the group has no members'}; configure approvers.groups.${group} in ${file}`;
}

/** A validator's verdict: a problem rejects the update with its text. */
export function refuse(problem: string | undefined): void {
  if (problem) throw new Error(problem);
}
