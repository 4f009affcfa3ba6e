/**
 * The edge process of one nginx host (`firebreak edge <name>`): an activity-only worker on the
 * edge's own task queue (Temporal's worker-specific task queue pattern), running the one
 * activity that makes this host's deny file the ban set the workflow sends it.
 */
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createEdgeActivities } from '../activities/edge/index.js';
import type { Config, EdgeConfig } from '../lib/config.js';
import { ConfigError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { connectionOptions, dataConverter } from '../lib/temporal-connection.js';
import type { FirebreakWorker } from './create.js';
import { logRefusal } from './refusal-log.js';
import { installRuntime } from './runtime.js';

/** The edge of that name in config, or a ConfigError listing the configured ones. */
export function edgeNamed(config: Readonly<Config>, name: string): EdgeConfig {
  const edge = config.edges.find((e) => e.name === name);
  if (!edge) {
    const known = config.edges.map((e) => e.name);
    throw new ConfigError([`config: edges: no edge named "${name}" (${known.length ? `configured: ${known.join(', ')}` : 'none configured'}) (${config.source})`]);
  }
  return edge;
}

export async function createEdgeWorker(opts: {
  config: Readonly<Config>;
  logger: Logger;
  name: string;
  /** Share a connection (several edges in one test process); closed by the caller then. */
  connection?: NativeConnection;
  overrides?: Partial<WorkerOptions>;
}): Promise<FirebreakWorker & { edge: EdgeConfig }> {
  const { config } = opts;
  const edge = edgeNamed(config, opts.name);
  const logger = opts.logger.child({ edge: edge.name });
  installRuntime(opts.logger);
  const own = opts.connection ? undefined : await NativeConnection.connect(connectionOptions(config));
  const connection = opts.connection ?? own;
  if (!connection) throw new Error('no Temporal connection');
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: edge.taskQueue,
    activities: createEdgeActivities({ edge, logger }),
    dataConverter: dataConverter(config, { onRefused: logRefusal(logger) }),
    // One sync at a time is all a host does (the activity serializes them anyway).
    maxConcurrentActivityTaskExecutions: 4,
    shutdownGraceTime: '10s',
    ...opts.overrides,
  });
  let running: Promise<void> | undefined;
  return {
    edge,
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
      await own?.close();
    },
  };
}
