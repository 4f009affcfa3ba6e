/**
 * The drill report: built from what the drill observed, compared with the previous report
 * of the same schedule, rendered as Markdown. Pure (the activity reads and writes files).
 */
import { ACTIONS, type ActionSpec } from './actions.js';
import type { DrillOutcome, DrillReport, Regression, ReportRequest, StepReport } from '../workflows/drill-definitions.js';

const ms = (a?: string, b?: string): number | undefined => (a && b ? Math.max(0, Date.parse(b) - Date.parse(a)) : undefined);

/** Changed effects no undo takes back: they stay on the drill target. */
function irreversibleOf(req: ReportRequest): DrillReport['irreversible'] {
  return req.observation.steps
    .filter((s) => s.state === 'succeeded' || s.state === 'overridden')
    .filter((s) => {
      const spec = (ACTIONS as Record<string, ActionSpec | undefined>)[s.action];
      return spec !== undefined && spec.mutates && !spec.reversible;
    })
    .map((s) => ({ step: s.id, action: s.action, ...(s.summary !== undefined && { summary: s.summary }) }));
}

export function buildReport(req: ReportRequest, previous?: DrillReport): DrillReport {
  const { observation: obs, incident } = req;
  const steps: StepReport[] = obs.steps.map((s) => ({
    id: s.id,
    phase: s.phase,
    action: s.action,
    outcome: s.state,
    attempts: s.attempts,
    ...(ms(s.startedAt, s.endedAt) !== undefined && { durationMs: ms(s.startedAt, s.endedAt) }),
    ...(s.error !== undefined && { error: s.error }),
  }));
  const contained = obs.steps.filter((s) => s.phase === 'containment' && s.endedAt).map((s) => s.endedAt as string).sort().at(-1);
  const failures = [...req.failures];
  for (const s of steps) if (s.outcome === 'failed' && !failures.some((f) => f.includes(s.id))) failures.push(`step ${s.id} failed: ${s.error ?? 'no reason given'}`);
  const outcome: DrillOutcome = req.stop ? 'aborted' : failures.length ? 'failed' : 'passed';
  const report: DrillReport = {
    v: 1,
    incidentId: incident.incidentId,
    ...(req.drill.scheduleId !== undefined && { scheduleId: req.drill.scheduleId }),
    runbook: incident.runbook.doc.name,
    runbookSha256: incident.runbook.sha256,
    target: incident.target,
    outcome,
    failures,
    startedAt: req.startedAt,
    endedAt: req.endedAt,
    incidentState: obs.state,
    steps,
    ...(contained && { timeToContainmentMs: ms(incident.declaredAt, contained) }),
    ...(req.restoredAt && { timeToRestoreMs: ms(incident.declaredAt, req.restoredAt) }),
    postConditions: req.postConditions,
    irreversible: irreversibleOf(req),
    ...(req.stop && { stop: req.stop }),
  };
  if (previous) report.regression = regression(report, previous);
  return report;
}

/** What got worse since `prev`: slower containment or restore, steps and checks that newly fail. */
export function regression(now: DrillReport, prev: DrillReport): Regression {
  const delta = (a?: number, b?: number) => (a !== undefined && b !== undefined ? a - b : undefined);
  const passedBefore = new Set(prev.steps.filter((s) => s.outcome !== 'failed').map((s) => s.id));
  const heldBefore = new Set(prev.postConditions.filter((c) => c.ok).map((c) => `${c.when}/${c.system}/${c.check}`));
  const before = new Map(prev.steps.map((s) => [s.id, s.durationMs]));
  const slower = now.steps.flatMap((s) => {
    const was = before.get(s.id);
    if (was === undefined || s.durationMs === undefined) return [];
    const d = s.durationMs - was;
    return d > 1_000 && d > was / 4 ? [{ step: s.id, deltaMs: d }] : [];
  });
  const containment = delta(now.timeToContainmentMs, prev.timeToContainmentMs);
  const restore = delta(now.timeToRestoreMs, prev.timeToRestoreMs);
  return {
    previousIncidentId: prev.incidentId,
    previousOutcome: prev.outcome,
    ...(containment !== undefined && { containmentDeltaMs: containment }),
    ...(restore !== undefined && { restoreDeltaMs: restore }),
    newlyFailing: now.steps.filter((s) => s.outcome === 'failed' && passedBefore.has(s.id)).map((s) => s.id),
    newlyFailingChecks: now.postConditions.filter((c) => !c.ok && heldBefore.has(`${c.when}/${c.system}/${c.check}`)).map((c) => `${c.system}: ${c.check}`),
    slower,
  };
}

const secs = (v?: number): string => (v === undefined ? '—' : `${(v / 1000).toFixed(1)} s`);
const signed = (v?: number): string => (v === undefined ? '—' : `${v >= 0 ? '+' : '−'}${(Math.abs(v) / 1000).toFixed(1)} s`);
const cell = (v: string): string => v.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

export function reportMarkdown(r: DrillReport): string {
  const lines = [
    `# Drill ${r.incidentId}: ${r.outcome.toUpperCase()}`,
    '',
    `- Runbook: \`${r.runbook}\` (sha256 ${r.runbookSha256.slice(0, 12)}…) on drill target \`${r.target}\`${r.scheduleId ? `, schedule \`${r.scheduleId}\`` : ''}`,
    `- Ran ${r.startedAt} to ${r.endedAt}; the incident ended ${r.incidentState}`,
    `- Time to containment: ${secs(r.timeToContainmentMs)}; time to full restore: ${secs(r.timeToRestoreMs)}`,
    ...(r.stop ? [`- Stopped (${r.stop.reason}): ${r.stop.detail}`] : []),
    '',
  ];
  if (r.failures.length) lines.push('## Why it did not pass', '', ...r.failures.map((f) => `- ${f}`), '');
  lines.push('## Steps', '', '| step | phase | action | outcome | attempts | duration |', '| --- | --- | --- | --- | --- | --- |');
  for (const s of r.steps) lines.push(`| ${cell(s.id)} | ${s.phase} | ${s.action} | ${s.outcome}${s.error ? `: ${cell(s.error)}` : ''} | ${s.attempts} | ${secs(s.durationMs)} |`);
  lines.push('', '## Post-conditions (checked from outside)', '');
  if (!r.postConditions.length) lines.push('none applied to what this runbook did');
  for (const c of r.postConditions) lines.push(`- ${c.ok ? 'held' : '**FAILED**'} (${c.system}, after ${c.when === 'containment' ? 'containment' : 'the all-clear'}): ${c.check} — ${c.detail}`);
  lines.push('', '## Left on the drill target (not undone)', '');
  lines.push(...(r.irreversible.length ? r.irreversible.map((e) => `- ${e.step} (${e.action})${e.summary ? `: ${e.summary}` : ''}`) : ['nothing']));
  lines.push('', '## Against the previous drill', '');
  const g = r.regression;
  if (!g) lines.push('no previous drill of this schedule');
  else {
    lines.push(
      `- Previous: ${g.previousIncidentId} (${g.previousOutcome})`,
      `- Containment ${signed(g.containmentDeltaMs)}; restore ${signed(g.restoreDeltaMs)}`,
      `- Newly failing steps: ${g.newlyFailing.join(', ') || 'none'}`,
      `- Newly failing post-conditions: ${g.newlyFailingChecks.join('; ') || 'none'}`,
      `- Slower steps: ${g.slower.map((s) => `${s.step} ${signed(s.deltaMs)}`).join(', ') || 'none'}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
