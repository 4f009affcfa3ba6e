/**
 * Drill schedules: Temporal Schedules whose action starts DrillWorkflow with names only
 * (runbook, target, params, schedule id). Checked here at the front door — a drill target,
 * the worker's runbook, valid parameters — and again by the worker when a drill fires.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleDescription, type ScheduleSpec } from '@temporalio/client';
import { getTarget, type Config } from '../config.js';
import { drillReportsDir, latestReport } from '../drill-reports.js';
import { incidentDir } from '../documents/files.js';
import { scheduledDrillRefusal } from '../config-drills.js';
import { OperationError, UsageError } from '../errors.js';
import { approvalProblems } from '../runbook/approvals.js';
import { coerceParams, loadRunbook } from '../runbook/loader.js';
import { parseDuration } from '../runbook/schema.js';
import { SA } from '../search-attributes.js';
import { DRILL_WORKFLOW, type DrillInput, type DrillReport } from '../../workflows/drill-definitions.js';
import type { Actor } from '../../workflows/definitions.js';

export const SCHEDULE_PREFIX = 'drill-';

export interface ScheduleRequest {
  runbook: string;
  target: string;
  cron?: string;
  every?: string;
  timezone?: string;
  params?: Record<string, string | string[] | number | boolean>;
  /** How far back missed runs are still taken (after an outage), e.g. 1h. */
  catchupWindow?: string;
  pauseOnFailure?: boolean;
  note?: string;
  id?: string;
  actor: Actor;
}

export interface DrillScheduleInfo {
  id: string;
  runbook: string;
  target: string;
  spec: string;
  paused: boolean;
  note?: string;
  nextRun?: string;
  lastRun?: { at: string; workflowId: string; result: string };
  missed: number;
  skipped: number;
  pauseOnFailure: boolean;
}

/** The drill as it would be started: the target may run robot drills, the runbook is the worker's, the parameters valid. */
export function drillInput(config: Readonly<Config>, req: { runbook: string; target: string; params?: ScheduleRequest['params']; scheduleId?: string; actor: Actor }): DrillInput {
  const target = getTarget(config, req.target);
  const refusal = scheduledDrillRefusal(target, req.target);
  if (refusal) throw new UsageError(refusal);
  if (!/^[a-z0-9-]+$/.test(req.runbook)) throw new UsageError(`runbook "${req.runbook}": a drill runs one of the worker's runbooks, by name (see \`firebreak runbook list\`)`);
  const snapshot = loadRunbook(config.runbooksDir, req.runbook);
  const gates = approvalProblems(snapshot.doc, config.approvers.groups, config.source);
  if (gates.length) throw new UsageError(gates.join('; '));
  coerceParams(snapshot.doc, req.params ?? {});
  if (config.drills.robots.length < 2) throw new UsageError(`drills.robots lists ${config.drills.robots.length} robot(s): a drill needs one to declare and another to approve (${config.source})`);
  return { runbook: req.runbook, target: req.target, params: req.params ?? {}, ...(req.scheduleId && { scheduleId: req.scheduleId }), requestedBy: req.actor };
}

function specOf(req: ScheduleRequest): { spec: ScheduleSpec; text: string } {
  if (Boolean(req.cron) === Boolean(req.every)) throw new UsageError('give exactly one of --cron "<expression>" or --every <duration>');
  if (req.timezone !== undefined) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: req.timezone });
    } catch {
      throw new UsageError(`--timezone: "${req.timezone}" is not an IANA time zone (e.g. Europe/Berlin)`);
    }
  }
  const tz = req.timezone ? { timezone: req.timezone } : {};
  if (req.cron) {
    if (req.cron.trim().split(/\s+/).length !== 5) throw new UsageError(`--cron: "${req.cron}" must have five fields (minute hour day-of-month month day-of-week)`);
    return { spec: { cronExpressions: [req.cron.trim()], ...tz }, text: `cron ${req.cron.trim()}${req.timezone ? ` (${req.timezone})` : ''}` };
  }
  const ms = parseDuration(req.every ?? '');
  if (ms === undefined || ms < 60_000) throw new UsageError(`--every: "${req.every}" is not a duration of at least 1m (e.g. 24h, 6h, 30m)`);
  return { spec: { intervals: [{ every: ms }], ...tz }, text: `every ${req.every}` };
}

export async function createDrillSchedule(client: Client, config: Readonly<Config>, req: ScheduleRequest): Promise<DrillScheduleInfo> {
  const id = req.id ?? `${SCHEDULE_PREFIX}${req.runbook}-${req.target}-${randomBytes(3).toString('hex')}`;
  if (!/^[A-Za-z0-9._-]{1,120}$/.test(id)) throw new UsageError(`schedule id "${id}": letters, digits, . _ - (at most 120)`);
  const { spec, text } = specOf(req);
  const catchup = req.catchupWindow === undefined ? 60 * 60_000 : parseDuration(req.catchupWindow);
  if (catchup === undefined || catchup < 10_000) throw new UsageError(`--catchup-window: "${req.catchupWindow}" is not a duration of at least 10s`);
  const input = drillInput(config, { ...req, scheduleId: id });
  await client.schedule.create({
    scheduleId: id,
    spec,
    action: {
      type: 'startWorkflow',
      workflowType: DRILL_WORKFLOW,
      workflowId: `firebreak-drill-${id}`,
      taskQueue: config.temporal.taskQueue,
      args: [input],
      typedSearchAttributes: [
        { key: SA.mode, value: 'drill' },
        { key: SA.runbook, value: req.runbook },
      ],
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: catchup, pauseOnFailure: Boolean(req.pauseOnFailure) },
    state: { note: req.note ?? `drill of ${req.runbook} on ${req.target} (${text}), created by ${req.actor.user}`, paused: false },
    memo: { firebreakDrill: { runbook: req.runbook, target: req.target, spec: text } },
  }).catch((err: unknown) => {
    if ((err as Error).name === 'ScheduleAlreadyRunning') throw new OperationError(`a schedule ${id} already exists`);
    throw err;
  });
  return describeDrillSchedule(client, config, id);
}

function isDrillSchedule(d: ScheduleDescription, taskQueue: string): boolean {
  return d.action.type === 'startWorkflow' && d.action.workflowType === DRILL_WORKFLOW && d.action.taskQueue === taskQueue;
}

export async function describeDrillSchedule(client: Client, config: Readonly<Config>, id: string): Promise<DrillScheduleInfo> {
  let d: ScheduleDescription;
  try {
    d = await client.schedule.getHandle(id).describe();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw new OperationError(`no drill schedule ${id}`);
    throw err;
  }
  if (!isDrillSchedule(d, config.temporal.taskQueue)) throw new OperationError(`schedule ${id} is not a drill schedule of this deployment (task queue ${config.temporal.taskQueue})`);
  const input = (d.action.type === 'startWorkflow' ? d.action.args?.[0] : undefined) as DrillInput | undefined;
  const memo = (d.memo?.firebreakDrill ?? {}) as { spec?: string };
  const last = d.info.recentActions.at(-1);
  let lastRun: DrillScheduleInfo['lastRun'];
  if (last) {
    const wf = await client.workflow.getHandle(last.action.workflow.workflowId, undefined, { firstExecutionRunId: last.action.workflow.firstExecutionRunId }).describe().catch(() => undefined);
    lastRun = { at: last.takenAt.toISOString(), workflowId: last.action.workflow.workflowId, result: wf ? wf.status.name.toLowerCase() : 'unknown' };
  }
  return {
    id,
    runbook: input?.runbook ?? '?',
    target: input?.target ?? '?',
    spec: memo.spec ?? '?',
    paused: d.state.paused,
    ...(d.state.note && { note: d.state.note }),
    ...(d.info.nextActionTimes[0] && !d.state.paused && { nextRun: d.info.nextActionTimes[0].toISOString() }),
    ...(lastRun && { lastRun }),
    missed: d.info.numActionsMissedCatchupWindow,
    skipped: d.info.numActionsSkippedOverlap,
    pauseOnFailure: d.policies.pauseOnFailure,
  };
}

export async function listDrillSchedules(client: Client, config: Readonly<Config>): Promise<DrillScheduleInfo[]> {
  const out: DrillScheduleInfo[] = [];
  for await (const s of client.schedule.list()) {
    if (s.action?.type !== 'startWorkflow' || s.action.workflowType !== DRILL_WORKFLOW) continue;
    const info = await describeDrillSchedule(client, config, s.scheduleId).catch(() => undefined);
    if (info) out.push(info);
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

export async function pauseDrillSchedule(client: Client, config: Readonly<Config>, id: string, paused: boolean, note?: string): Promise<DrillScheduleInfo> {
  await describeDrillSchedule(client, config, id);
  const h = client.schedule.getHandle(id);
  await (paused ? h.pause(note) : h.unpause(note));
  return describeDrillSchedule(client, config, id);
}

/** Fire a schedule now (its overlap policy applies: a drill still running is not doubled). */
export async function triggerDrillSchedule(client: Client, config: Readonly<Config>, id: string): Promise<void> {
  await describeDrillSchedule(client, config, id);
  await client.schedule.getHandle(id).trigger(ScheduleOverlapPolicy.SKIP);
}

export async function deleteDrillSchedule(client: Client, config: Readonly<Config>, id: string): Promise<void> {
  await describeDrillSchedule(client, config, id);
  await client.schedule.getHandle(id).delete();
}

/** One drill, now (`drill run`): the same workflow a schedule starts, with no schedule. */
export async function runDrill(client: Client, config: Readonly<Config>, req: { runbook: string; target: string; params?: ScheduleRequest['params']; actor: Actor }): Promise<{ workflowId: string }> {
  const input = drillInput(config, req);
  const workflowId = `firebreak-drill-run-${randomBytes(5).toString('hex')}`;
  await client.workflow.start(DRILL_WORKFLOW, {
    workflowId,
    taskQueue: config.temporal.taskQueue,
    args: [input],
    typedSearchAttributes: [
      { key: SA.mode, value: 'drill' },
      { key: SA.runbook, value: req.runbook },
    ],
  });
  return { workflowId };
}


/** A drill's report: by incident id, or the newest of a schedule. */
export async function readDrillReport(config: Readonly<Config>, id: string): Promise<DrillReport> {
  if (!/^[A-Za-z0-9._-]{1,200}$/.test(id)) throw new UsageError(`"${id}" is neither a schedule id nor an incident id`);
  if (id.startsWith('INC-')) {
    const text = await readFile(join(incidentDir(config.dataDir, id), 'drill-report.json'), 'utf8').catch(() => undefined);
    if (!text) throw new OperationError(`no drill report for incident ${id} in ${config.dataDir}`);
    return JSON.parse(text) as DrillReport;
  }
  const r = await latestReport(join(drillReportsDir(config), id));
  if (!r) throw new OperationError(`no drill report for schedule ${id} in ${drillReportsDir(config)}`);
  return r;
}

/** A drill's outcome once it ends: its report (a failed drill carries it in its failure), or why there is none. */
export async function drillResult(client: Client, workflowId: string): Promise<{ report?: DrillReport; error?: string }> {
  try {
    return { report: (await client.workflow.getHandle(workflowId).result()) as DrillReport };
  } catch (err) {
    const cause = (err as { cause?: { details?: unknown[]; message?: string } }).cause;
    const report = cause?.details?.[0] as DrillReport | undefined;
    return report?.v === 1 ? { report } : { error: cause?.message ?? (err as Error).message };
  }
}
