/**
 * DrillWorkflow on the time-skipping server: the incident runs for real as its child (stubbed
 * actions), robots sign their decisions and send them as updates; the drill's outside checks,
 * health and previous report are injected. Report contents, regression, stop condition, budget.
 */
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReport } from '../../lib/drill-report.js';
import { signDeclaration } from '../../lib/incidents/sign.js';
import { createSteer, observe } from '../../activities/drill/steer.js';
import { statusQuery } from '../../workflows/definitions.js';
import { DRILL_FAILED, DRILL_WORKFLOW, type DrillInput, type DrillReport, type PostCondition, type ReportRequest } from '../../workflows/drill-definitions.js';
import { actor, incidentInput, MINUTE, principal, runbook, startEngine, stopEngine, withDrillWorker } from './engine-harness.js';

beforeAll(startEngine, 120_000);
afterAll(stopEngine);

const RB = runbook(
  [
    'detection:',
    '  - id: look',
    '    action: lockdown.status',
    'containment:',
    '  - id: lockdown',
    '    action: lockdown.enable',
    '    with: { reason: drill }',
    '    approval: { count: 1, group: responders }',
    '  - id: revoke',
    '    action: tokens.revoke',
    '    with: { scope: all }',
    'postmortem:',
    '  - id: timeline',
    '    action: report.timeline',
  ],
  ['resolve:', '  approval: { count: 1, group: responders }'],
);

interface Knobs {
  runbook?: string;
  checks?: (when: 'containment' | 'restore') => PostCondition[];
  health?: () => { ok: boolean; problem?: string };
  previous?: DrillReport;
  budgetMs?: number;
  pollMs?: number;
  /** The drill looks only once the incident has ended (a slow worker, a fast incident). */
  lateObserve?: boolean;
}

const held = (when: 'containment' | 'restore'): PostCondition[] => [{ when, system: 'app', check: when === 'containment' ? 'the app answers 503 under lockdown' : 'the app answers as before', ok: true, detail: 'answered' }];

/** The drill activities as the worker has them, with the outside world injected. */
function drillActivities(k: Knobs, seen: { reports: DrillReport[]; decisions: string[] }) {
  return (taskQueue: string) => {
    let n = 0;
    return {
      drillPrepare: async (d: DrillInput) => {
        const input = { ...incidentInput({ runbook: k.runbook ?? RB, mode: 'drill' }, `INC-T-${taskQueue}-${++n}`), declaredBy: actor('robot-1'), target: d.target };
        const declaration = await signDeclaration(principal('robot-1'), input);
        return { input: { ...input, declaration }, settings: { approveAfterMs: 30_000, timeBudgetMs: k.budgetMs ?? 60 * MINUTE, healthEveryMs: MINUTE, pollMs: k.pollMs ?? 1_000, declarer: 'robot-1', approvers: ['robot-2'] } };
      },
      drillBaseline: async () => ({ takenAt: new Date().toISOString() }),
      drillHealth: async () => (k.health ? k.health() : { ok: true }),
      drillCheck: async (req: { when: 'containment' | 'restore' }) => (k.checks ?? held)(req.when),
      drillReport: async (req: ReportRequest) => {
        const r = buildReport(req, k.previous);
        seen.reports.push(r);
        return r;
      },
      drillPublish: async () => ({}),
      ...steerWith(seen, k),
    };
  };
}

let envClient: () => Client;
function steerWith(seen: { decisions: string[] }, k: Knobs) {
  const steer = createSteer(() => envClient(), { names: () => ['robot-1', 'robot-2'], principal: async (name: string) => principal(name) });
  return {
    drillObserve: async (req: { workflowId: string }) => {
      const look = async () => observe(await envClient().workflow.getHandle(req.workflowId).query(statusQuery));
      let o = await look();
      while (k.lateObserve && o.state !== 'completed') {
        await new Promise((r) => setTimeout(r, 100));
        o = await look();
      }
      return o;
    },
    drillDecide: async (d: Parameters<typeof steer.drillDecide>[0]) => {
      seen.decisions.push(`${d.kind}:${d.gate ?? d.reason ?? ''}:${d.robot}`);
      return steer.drillDecide(d);
    },
  };
}

async function runDrill(k: Knobs): Promise<{ report: DrillReport; failed?: ApplicationFailure; decisions: string[]; calls: string[] }> {
  const seen = { reports: [] as DrillReport[], decisions: [] as string[] };
  return withDrillWorker({ drillTarget: true }, drillActivities(k, seen), async ({ env, taskQueue, calls }) => {
    envClient = () => env.client;
    const input: DrillInput = { runbook: 't', target: 'local', params: {}, scheduleId: 'nightly', requestedBy: actor('scheduler') };
    const handle = await env.client.workflow.start(DRILL_WORKFLOW, { taskQueue, workflowId: `drill-${taskQueue}`, args: [input] });
    try {
      const report = (await handle.result()) as DrillReport;
      return { report, decisions: seen.decisions, calls: calls.map((c) => `${c.activity}:${c.step}`) };
    } catch (err) {
      if (!(err instanceof WorkflowFailedError) || !(err.cause instanceof ApplicationFailure)) throw err;
      return { report: seen.reports.at(-1) as DrillReport, failed: err.cause, decisions: seen.decisions, calls: calls.map((c) => `${c.activity}:${c.step}`) };
    }
  });
}

describe('DrillWorkflow', () => {
  it('passes: robots approve after the delay, the all-clear lifts containment, the report has every step, timing, check and what stays', async () => {
    const { report, failed, decisions, calls } = await runDrill({});
    expect(failed).toBeUndefined();
    expect(report.outcome).toBe('passed');
    expect(decisions).toEqual([expect.stringMatching(/^approve:lockdown:robot-2$/), expect.stringMatching(/^resolve:resolve:robot-2$/)]);
    expect(calls).toEqual(expect.arrayContaining(['lockdownEnable:lockdown', 'tokensRevoke:revoke', 'lockdownDisable:lockdown.undo']));
    expect(report.steps.map((s) => [s.id, s.outcome, s.attempts])).toEqual([
      ['look', 'succeeded', 1],
      ['lockdown', 'undone', 1],
      ['revoke', 'succeeded', 1],
      ['timeline', 'succeeded', 1],
    ]);
    expect(report).toMatchObject({ scheduleId: 'nightly', runbook: 't', failures: [], incidentState: 'completed' });
    // The robot waited 30 s (workflow time) before approving the gate: containment took at least that.
    expect(report.timeToContainmentMs).toBeGreaterThanOrEqual(30_000);
    expect(report.timeToRestoreMs).toBeGreaterThan(report.timeToContainmentMs ?? Infinity);
    expect(report.postConditions.map((c) => [c.when, c.ok])).toEqual([['containment', true], ['restore', true]]);
    expect(report.irreversible).toEqual([{ step: 'revoke', action: 'tokens.revoke', summary: 'tokens.revoke done' }]);
    expect(report.regression).toBeUndefined();
  });

  it('a post-condition that fails fails the drill, says which, and the report compares with the previous drill', async () => {
    const dayAgo = Date.now() - 86_400_000;
    const previous: DrillReport = {
      v: 1, incidentId: 'INC-PREV', scheduleId: 'nightly', runbook: 't', runbookSha256: 'x', target: 'local', outcome: 'passed', failures: [], startedAt: new Date(dayAgo).toISOString(), endedAt: new Date(dayAgo + 60_000).toISOString(),
      incidentState: 'completed', steps: [{ id: 'lockdown', phase: 'containment', action: 'lockdown.enable', outcome: 'undone', attempts: 1, durationMs: 10 }], timeToContainmentMs: 1_000, timeToRestoreMs: 2_000,
      postConditions: held('containment'), irreversible: [],
    };
    const checks = (when: 'containment' | 'restore') => (when === 'containment' ? [{ ...held(when)[0]!, ok: false, detail: 'answered 200' }] : held(when));
    const { report, failed } = await runDrill({ checks, previous });
    expect(failed?.type).toBe(DRILL_FAILED);
    expect(failed?.message).toContain('post-condition failed (app, after containment): the app answers 503 under lockdown: answered 200');
    expect(report.outcome).toBe('failed');
    expect(report.regression).toMatchObject({ previousIncidentId: 'INC-PREV', previousOutcome: 'passed', newlyFailing: [], newlyFailingChecks: ['app: the app answers 503 under lockdown'] });
    expect(report.regression?.containmentDeltaMs).toBeGreaterThanOrEqual(29_000);
  });

  it('stop condition: a failing health check aborts the incident and the robot rolls containment back at once', async () => {
    let healthy = true;
    const gated = runbook(['containment:', '  - id: lockdown', '    action: lockdown.enable', '  - id: hold', '    action: secrets.manual', '    needs: [lockdown]', '    with: { items: [VENDOR_KEY] }']);
    const { report, failed, decisions, calls } = await runDrill({
      runbook: gated,
      pollMs: 20_000,
      health: () => {
        const h = healthy ? { ok: true } : { ok: false, problem: 'Redis: connection refused' };
        healthy = false;
        return h;
      },
    });
    expect(failed?.type).toBe(DRILL_FAILED);
    expect(report.outcome).toBe('aborted');
    expect(report.stop).toEqual({ reason: 'health', detail: 'a health check of drill target local failed: Redis: connection refused' });
    expect(decisions.at(-1)).toMatch(/^abort:drill stopped: a health check/);
    expect(calls).toContain('lockdownDisable:lockdown.undo');
    expect(report.incidentState).toBe('aborted');
    expect(report.steps.find((s) => s.id === 'lockdown')?.outcome).toBe('undone');
  });

  it('an incident that ends before the drill looks (nothing to lift) is still checked for containment, then restore', async () => {
    const quick = runbook(['containment:', '  - id: revoke', '    action: tokens.revoke', '    with: { scope: all }']);
    const { report, failed } = await runDrill({ runbook: quick, lateObserve: true });
    expect(failed).toBeUndefined();
    expect(report.incidentState).toBe('completed');
    expect(report.postConditions.map((c) => c.when)).toEqual(['containment', 'restore']);
    expect(report.irreversible.map((e) => e.step)).toEqual(['revoke']);
  });

  it('time budget: a drill that runs past it is aborted', async () => {
    const waiting = runbook(['containment:', '  - id: lockdown', '    action: lockdown.enable', '  - id: hold', '    action: secrets.manual', '    needs: [lockdown]', '    with: { items: [VENDOR_KEY] }']);
    const { report, failed, calls } = await runDrill({ runbook: waiting, budgetMs: 10 * MINUTE, pollMs: 2 * MINUTE });
    expect(failed?.message).toMatch(/aborted: stopped: the drill ran past its time budget of 600 s/);
    expect(report.stop?.reason).toBe('time-budget');
    expect(calls).toContain('lockdownDisable:lockdown.undo');
  });
});
