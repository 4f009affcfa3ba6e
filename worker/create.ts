/** Build a Firebreak worker: one connection, clients built once, activities injected. */
import { warmCommandHelper } from '../activities/support/command-runner.js';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, createInspectionActivities, TargetClients } from '../activities/index.js';
import { AuditStore, createAuditActivities } from '../activities/audit/index.js';
import { createDrillActivities } from '../activities/drill/index.js';
import { slackClientFor } from '../activities/notify/index.js';
import type { Config, WorkerTuning } from '../lib/config.js';
import type { Logger } from '../lib/logger.js';
import { checkSecretRefs } from '../lib/secret-refs.js';
import { connectionOptions, dataConverter } from '../lib/temporal-connection.js';
import { refusePlaintextPath, workflowsPath } from './paths.js';
import { keepAlive } from './keep-alive.js';
import { logRefusal } from './refusal-log.js';
import { installRuntime, onDecisionRefused } from './runtime.js';

export interface FirebreakWorker {
  worker: Worker;
  /** Resolves when the worker has stopped (after shutdown()). */
  run(): Promise<void>;
  shutdown(): void;
  close(): Promise<void>;
}

export async function createWorker(opts: {
  config: Readonly<Config>;
  logger: Logger;
  /** A pre-built bundle (`npm run build`) skips webpack at start-up. */
  bundlePath?: string;
  overrides?: Partial<WorkerOptions>;
}): Promise<FirebreakWorker> {
  const { config, logger } = opts;
  installRuntime(logger);
  warnUnreadableSecrets(config, logger);
  const connection = await NativeConnection.connect(connectionOptions(config));
  const clients = new TargetClients(config);
  // nginx targets run nginx -t / reload through the command helper: boot it before the first ban.
  if (Object.values(config.targets).some((t) => t.nginx)) warmCommandHelper();
  const slack = slackClientFor(config);
  const deps = { config, logger, clients, ...(slack && { slack }) };
  const audit = new AuditStore(config, logger);
  const stopHearing = config.audit ? onDecisionRefused(recordRefusal(config, audit, logger)) : () => undefined;
  const activities = { ...createActivities(deps), ...createInspectionActivities(deps), ...createDrillActivities(deps), ...createAuditActivities(deps, audit) };
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    ...(opts.bundlePath ? { workflowBundle: { codePath: opts.bundlePath } } : { workflowsPath: workflowsPath() }),
    // A pre-built bundle already carries the workflow interceptors (worker/bundle.ts); activity ones are the worker's.
    interceptors: { activity: [keepAlive], ...(!opts.bundlePath && { workflowModules: [refusePlaintextPath()] }) },
    activities,
    dataConverter: dataConverter(config, { onRefused: logRefusal(logger) }),
    shutdownGraceTime: '10s',
    // Bulk steps report progress; let `status`/describe show it within seconds.
    maxHeartbeatThrottleInterval: '2s',
    ...tuningOptions(config.temporal.worker),
    ...opts.overrides,
  });
  let running: Promise<void> | undefined;
  return {
    worker,
    run() {
      running ??= worker.run();
      return running;
    },
    shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
    },
    async close() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running?.catch(() => undefined);
      await clients.close();
      stopHearing();
      await audit.close();
      await connection.close();
    },
  };
}

/**
 * `temporal.worker` as Worker.create options; an unset field keeps TUNING_DEFAULTS
 * (bench/storm/: measured with `npm run bench -- incident-storm`).
 */
export function tuningOptions(t: WorkerTuning | undefined): Partial<WorkerOptions> {
  const v = { ...TUNING_DEFAULTS, ...Object.fromEntries(Object.entries(t ?? {}).filter(([, x]) => x !== undefined)) };
  return {
    ...(v.maxConcurrentWorkflowTaskExecutions !== undefined && { maxConcurrentWorkflowTaskExecutions: v.maxConcurrentWorkflowTaskExecutions }),
    ...(v.maxConcurrentActivityTaskExecutions !== undefined && { maxConcurrentActivityTaskExecutions: v.maxConcurrentActivityTaskExecutions }),
    ...(v.maxCachedWorkflows !== undefined && { maxCachedWorkflows: v.maxCachedWorkflows }),
    ...(v.workflowTaskPollers !== undefined && { maxConcurrentWorkflowTaskPolls: v.workflowTaskPollers }),
    ...(v.workflowThreads !== undefined && { workflowThreadPoolSize: v.workflowThreads }),
    ...(v.activityTaskPollers !== undefined && { maxConcurrentActivityTaskPolls: v.activityTaskPollers }),
    ...(v.stickyQueueScheduleToStartTimeout !== undefined && { stickyQueueScheduleToStartTimeout: v.stickyQueueScheduleToStartTimeout }),
  };
}

/**
 * The settings a worker uses when `temporal.worker` leaves them out. Empty: the SDK's own
 * (40 workflow tasks, 100 activities, 1 workflow thread, cache sized from the heap, 10 + 10
 * pollers) measured best or equal at N = 1 and 10 on 2 cores (incident-storm); a second
 * workflow thread was slower (two VM contexts competing with the server for 2 cores).
 */
export const TUNING_DEFAULTS: Readonly<WorkerTuning> = {};

/**
 * Every target's secret references, read once at start: an unreadable one is
 * a warning naming the target and the reference (never a value), so it is
 * fixed before an incident needs it. The worker still starts: other targets,
 * and steps that need no secret, keep working.
 */
export function warnUnreadableSecrets(config: Readonly<Config>, logger: Logger): number {
  let bad = 0;
  for (const [target, t] of Object.entries(config.targets)) {
    for (const c of checkSecretRefs(t)) {
      if (c.ok) continue;
      bad += 1;
      logger.warn({ target, setting: c.path, reference: c.ref }, `target "${target}": ${c.path} (${c.ref}) cannot be read by this worker: ${c.problem ?? 'unreadable'}; steps that need it will fail`);
    }
  }
  return bad;
}

/** Refused decisions of this worker's workflows into the audit tables (best effort: the log line has them too). */
function recordRefusal(config: Readonly<Config>, audit: AuditStore, logger: Logger): Parameters<typeof onDecisionRefused>[0] {
  const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  return (meta, message) => {
    if (meta.taskQueue !== config.temporal.taskQueue) return;
    const reason = text(meta.reason) ?? message;
    audit
      .refusal({ incidentId: text(meta.incidentId), kind: text(meta.kind), claimedActor: text(meta.claimedActor) ?? text(meta.claimedResponder), claimedKey: text(meta.claimedKey), reason })
      .catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'audit: could not record a refused decision'));
  };
}
