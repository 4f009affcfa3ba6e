import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { Runner } from '../context.js';

export function registerDev(program: Command, run: Runner): void {
  program
    .command('dev')
    .description('local stack in the foreground: Temporal dev server (SQLite in the data folder), its web UI, and a worker; Ctrl-C stops all')
    .option('--port <n>', 'Temporal gRPC port', '7233')
    .option('--ui-port <n>', 'web UI port', '8233')
    .option('--no-worker', 'only the server')
    .action(
      run(async (ctx, o: { port: string; uiPort: string; worker: boolean }) => {
        const config = ctx.config;
        const [{ startDevServer }, { createLogger }] = await Promise.all([import('../../lib/dev-server.js'), import('../../lib/logger.js')]);
        const logger = createLogger({ level: config.log.level });
        mkdirSync(config.dataDir, { recursive: true });
        const dbFile = join(config.dataDir, 'temporal.sqlite');
        const server = await startDevServer({ port: Number(o.port), uiPort: Number(o.uiPort), dbFile, logFile: join(config.dataDir, 'temporal-server.log') });
        logger.info({ address: server.address, ui: server.uiUrl, dbFile }, 'Temporal dev server ready');
        if (server.address !== config.temporal.address) {
          logger.warn({ configured: config.temporal.address }, 'config points at another Temporal address; set FIREBREAK_TEMPORAL_ADDRESS to use this server');
        }
        // Loaded here, not at the top: the worker (native bridge, activities) would slow every other command.
        const { createWorker } = await import('../../worker/create.js');
        const fw = o.worker ? await createWorker({ config: { ...config, temporal: { ...config.temporal, address: server.address } }, logger }) : undefined;
        let stopping = false;
        const stop = () => {
          if (stopping) return;
          stopping = true;
          logger.info('stopping');
          fw?.shutdown();
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        if (fw) {
          logger.info({ taskQueue: config.temporal.taskQueue }, 'worker ready; Ctrl-C stops everything');
          await fw.run();
          await fw.close();
        } else {
          await new Promise<void>((resolve) => {
            process.once('SIGINT', () => resolve());
            process.once('SIGTERM', () => resolve());
          });
        }
        await server.stop();
        logger.info('stopped');
      }),
    );
}
