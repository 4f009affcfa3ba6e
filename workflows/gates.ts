/**
 * Approval gates: the two-person rule lives here, inside the workflow, so every
 * front door (CLI, Slack, API) obeys the same checks.
 */
import type { Actor, GateStatus, IncidentInput } from './definitions.js';

/** Why a vote is refused, or undefined when it is acceptable. */
export function voteProblem(input: IncidentInput, gate: GateStatus | undefined, gateId: string, actor: Actor, argsHash?: string): string | undefined {
  if (!gate) return `no gate "${gateId}" is open on this incident`;
  if (gate.state !== 'open') return `gate "${gateId}" is ${gate.state}, not open`;
  if (actor.user === input.declaredBy.user) {
    return `two-person rule: ${actor.user} declared this incident and cannot approve its gates`;
  }
  const members = input.approvers[gate.group] ?? [];
  if (!members.includes(actor.user)) return `${actor.user} is not an approver in group "${gate.group}" (${whereToConfigure(input, gate.group)})`;
  if (gate.approvals.some((v) => v.by === actor.user)) return `${actor.user} has already approved gate "${gateId}"`;
  if (argsHash !== undefined && argsHash !== gate.argsHash) {
    return `approval is for arguments ${argsHash.slice(0, 12)}…, but gate "${gateId}" now has ${gate.argsHash.slice(0, 12)}…: read the status again and approve what it shows`;
  }
  return undefined;
}

/** Where approver groups are configured, for refusals: the config key and the file the incident was declared with. */
export function whereToConfigure(input: IncidentInput, group: string): string {
  const members = input.approvers[group] ?? [];
  const source = input.approversSource;
  const file = !source || source === 'defaults' ? 'firebreak.yaml (none was in use when the incident was declared: create one, see the README Quick start)' : source;
  return `${members.length ? `members: ${members.join(', ')}` : 'the group has no members'}; configure approvers.groups.${group} in ${file}`;
}

/** Who may abort or add notes: the declarer or anyone in an approver group. */
export function isParticipant(input: IncidentInput, actor: Actor): boolean {
  if (actor.user === input.declaredBy.user) return true;
  return Object.values(input.approvers).some((members) => members.includes(actor.user));
}

export function addVote(gate: GateStatus, actor: Actor, at: string): void {
  gate.approvals.push({ by: actor.user, host: actor.host, at });
  if (gate.approvals.length >= gate.required) gate.state = 'approved';
}
