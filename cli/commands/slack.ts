import type { Command } from 'commander';
import { UsageError } from '../../lib/errors.js';
import type { Runner } from '../context.js';

export function registerSlack(program: Command, run: Runner): void {
  program
    .command('slack')
    .description('serve the Slack app (/incident) until SIGINT/SIGTERM; needs the slack section of the config')
    .option('--port <n>', 'port (default slack.port, 3000; 0: any free port)')
    .option('--host <ip>', 'address to bind (default slack.host, 127.0.0.1)')
    .action(
      run(async (ctx, o: { port?: string; host?: string }) => {
        const port = o.port === undefined ? undefined : Number(o.port);
        if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new UsageError(`--port expects a port number, got "${o.port}"`);
        const config = ctx.config;
        const [{ createLogger }, { startSlackServer }] = await Promise.all([import('../../lib/logger.js'), import('../../slack/server.js')]);
        const logger = createLogger({ level: config.log.level });
        const server = await startSlackServer({ config, logger, port, host: o.host });
        ctx.out({ ok: true, url: server.url, port: server.port }, `slack front door listening on ${server.url} (Request URL for the slash command, interactivity and events)`);
        await new Promise<void>((resolve) => {
          process.once('SIGINT', () => resolve());
          process.once('SIGTERM', () => resolve());
        });
        await server.close();
        logger.info('slack front door stopped');
      }),
    );
}
