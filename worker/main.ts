/** `firebreak worker` and `node worker/main.ts`: run a worker until SIGINT/SIGTERM. */
import { getConfig } from '../lib/config.js';
import { createLogger } from '../lib/logger.js';
import { createWorker } from './create.js';

export async function runWorker(opts: { bundlePath?: string } = {}): Promise<void> {
  const config = getConfig();
  const logger = createLogger({ level: config.log.level });
  const fw = await createWorker({ config, logger, bundlePath: opts.bundlePath ?? process.env.FIREBREAK_WORKFLOW_BUNDLE });
  const stop = () => fw.shutdown();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  logger.info({ taskQueue: config.temporal.taskQueue, address: config.temporal.address, namespace: config.temporal.namespace }, 'worker started');
  await fw.run();
  await fw.close();
  logger.info('worker stopped');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runWorker().catch((err: unknown) => {
    process.stderr.write(`firebreak worker: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
