import type { Command } from 'commander';
import type { Runner } from '../context.js';

export function registerWorker(program: Command, run: Runner): void {
  program
    .command('worker')
    .description('run a Firebreak worker until SIGINT/SIGTERM (graceful shutdown)')
    .option('--bundle <file>', 'pre-built workflow bundle (npm run build) instead of bundling at start')
    .action(
      run(async (ctx, o: { bundle?: string }) => {
        const config = ctx.config;
        const { createLogger } = await import('../../lib/logger.js');
        const logger = createLogger({ level: config.log.level });
        // Loaded here, not at the top: the worker (native bridge, activities) would slow every other command.
        const { createWorker } = await import('../../worker/create.js');
        const fw = await createWorker({ config, logger, bundlePath: o.bundle ?? process.env.FIREBREAK_WORKFLOW_BUNDLE });
        const stop = () => fw.shutdown();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        logger.info({ address: config.temporal.address, namespace: config.temporal.namespace, taskQueue: config.temporal.taskQueue, user: config.user }, 'worker ready');
        await fw.run();
        await fw.close();
        logger.info('worker stopped');
      }),
    );
}
