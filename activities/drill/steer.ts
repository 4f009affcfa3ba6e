/**
 * The drill's hands on its incident: a look at its status, and robot decisions sent as the
 * same signed updates a person's front door sends, through the worker's Temporal client.
 */
import type { Client } from '@temporalio/client';
import { createHash } from 'node:crypto';
import { signDecision } from '../../lib/incidents/sign.js';
import { abortUpdate, approveUpdate, resolveUpdate, statusQuery, type IncidentStatus } from '../../workflows/definitions.js';
import type { Decision, Observation } from '../../workflows/drill-definitions.js';
import { heartbeat } from '../support/context.js';
import type { RobotPrincipals } from './robots.js';

export function observe(s: IncidentStatus): Observation {
  const starts = new Map<string, number>();
  for (const t of s.timeline) if (t.kind === 'step' && t.step && t.message.startsWith(`${t.step} started`)) starts.set(t.step, (starts.get(t.step) ?? 0) + 1);
  const gates = s.gates
    .filter((g) => g.state === 'open')
    .map((g) => ({ id: g.id, argsHash: g.argsHash, needed: g.required - g.approvals.length, voters: g.approvals.map((v) => v.by) }));
  const steps = s.steps.map((x) => ({
    id: x.id,
    phase: x.phase,
    action: x.action,
    state: x.state,
    attempts: starts.get(x.id) ?? (x.startedAt ? 1 : 0),
    ...(x.startedAt !== undefined && { startedAt: x.startedAt }),
    ...(x.endedAt !== undefined && { endedAt: x.endedAt }),
    ...(x.error !== undefined && { error: x.error }),
    ...(x.summary !== undefined && { summary: x.summary }),
  }));
  const completedAt = s.timeline.find((t) => t.kind === 'completed')?.at;
  const fingerprint = createHash('sha256')
    .update(JSON.stringify([s.state, s.phase, steps.map((x) => [x.id, x.state]), gates]))
    .digest('hex')
    .slice(0, 16);
  return { state: s.state, phase: s.phase, steps, gates, declaredAt: s.declaredAt, ...(completedAt && { completedAt }), fingerprint };
}

export function createSteer(client: () => Client, robots: RobotPrincipals) {
  return {
    /** The incident as it is, or as soon as it changes from `since` (at most `waitMs` later). */
    async drillObserve(req: { workflowId: string; since: string; waitMs: number }): Promise<Observation> {
      const handle = client().workflow.getHandle(req.workflowId);
      const until = Date.now() + req.waitMs;
      for (;;) {
        const o = observe(await handle.query(statusQuery));
        if (o.fingerprint !== req.since || Date.now() >= until || ['completed', 'aborted', 'rejected'].includes(o.state)) return o;
        heartbeat('watching the drill incident');
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    /** A robot's decision. A retry after it was taken finds the vote already there and sends nothing. */
    async drillDecide(d: Decision): Promise<void> {
      const handle = client().workflow.getHandle(d.workflowId);
      const robot = await robots.principal(d.robot);
      if (d.kind === 'abort') {
        const s = await handle.query(statusQuery);
        if (['aborting', 'aborted', 'rolling-back', 'completed', 'rejected'].includes(s.state)) return;
        const who = await signDecision(robot, d.incidentId, { kind: 'abort', reason: d.reason ?? 'drill stopped' });
        await handle.executeUpdate(abortUpdate, { args: [{ reason: d.reason ?? 'drill stopped', ...who }] });
        return;
      }
      const s = await handle.query(statusQuery);
      const gate = s.gates.find((g) => g.id === d.gate && g.state === 'open' && g.argsHash === d.argsHash);
      if (!gate || gate.approvals.some((v) => v.by === d.robot)) return;
      const who = await signDecision(robot, d.incidentId, { kind: d.kind, gate: gate.id, argsHash: gate.argsHash });
      if (d.kind === 'resolve') await handle.executeUpdate(resolveUpdate, { args: [{ comment: 'drill robot all-clear', ...who }] });
      else await handle.executeUpdate(approveUpdate, { args: [{ gate: gate.id, argsHash: gate.argsHash, comment: 'drill robot', ...who }] });
    },
  };
}
