import type { Command } from 'commander';
import type { Runner } from '../context.js';

export function registerEdge(program: Command, run: Runner): void {
  program
    .command('edge')
    .description("run the edge process of one nginx host (edges: in config) until SIGINT/SIGTERM: it keeps this host's deny file equal to the target's bans")
    .argument('<name>', 'the edge, as named in edges: in config')
    .action(
      run(async (ctx, name: string) => {
        const config = ctx.config;
        const { createLogger } = await import('../../lib/logger.js');
        const logger = createLogger({ level: config.log.level });
        // Loaded here, not at the top: the native bridge would slow every other command.
        const { createEdgeWorker } = await import('../../worker/edge.js');
        const fw = await createEdgeWorker({ config, logger, name });
        const stop = () => fw.shutdown();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        logger.info({ edge: fw.edge.name, taskQueue: fw.edge.taskQueue, target: fw.edge.target, denyFile: fw.edge.denyFile, address: config.temporal.address }, 'edge ready');
        await fw.run();
        await fw.close();
        logger.info({ edge: fw.edge.name }, 'edge stopped');
      }),
    );
}
