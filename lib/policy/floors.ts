/**
 * A target's gate floors applied to a runbook: a runbook can raise a gate, never drop it
 * below what the target's policy demands. An incident a service declared in its own name
 * needs one more distinct human at every gate. Pure (the workflow applies it).
 */
import type { RunbookDoc, StepSpec } from '../runbook/types.js';
import type { GateFloor } from './types.js';

/** How long a gate the policy adds waits before escalating. */
const FLOOR_ESCALATE_MS = 15 * 60_000;

export function applyFloors(doc: RunbookDoc, floors: GateFloor[], extraHuman: boolean): RunbookDoc {
  const floorFor = (action: string): GateFloor | undefined =>
    floors.filter((f) => f.actions.includes(action)).reduce<GateFloor | undefined>((a, f) => (!a || f.count > a.count ? f : a), undefined);
  const bump = extraHuman ? 1 : 0;
  const step = (spec: StepSpec): StepSpec => {
    const floor = floorFor(spec.action);
    const approval = spec.approval ?? (floor && { count: floor.count, group: floor.group, escalateAfterMs: FLOOR_ESCALATE_MS });
    if (!approval) return spec;
    return { ...spec, approval: { ...approval, count: Math.max(approval.count, floor?.count ?? 0) + bump } };
  };
  const phases = Object.fromEntries(Object.entries(doc.phases).map(([name, specs]) => [name, specs.map(step)])) as RunbookDoc['phases'];
  const r = doc.resolve.approval;
  const rf = floorFor('resolve');
  const resolve = { approval: { ...r, count: Math.max(r.count, rf?.count ?? 0) + bump} };
  return { ...doc, phases, resolve };
}
