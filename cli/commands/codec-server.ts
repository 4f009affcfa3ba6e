import type { Command } from 'commander';
import { OperationError, UsageError } from '../../lib/errors.js';
import type { Runner } from '../context.js';

const collect = (v: string, prev: string[]) => [...prev, v];

export function registerCodecServer(program: Command, run: Runner): void {
  program
    .command('codec-server')
    .description('serve /encode and /decode so the Temporal web UI and CLI can show encrypted payloads')
    .option('--port <n>', 'port', '8888')
    .option('--host <ip>', 'address to bind', '127.0.0.1')
    .option('--cors-origin <url>', 'allowed browser origin (repeatable)', collect, [])
    .option('--auth-token-env <name>', 'require Authorization: Bearer <value of this env var>')
    .action(
      run(async (ctx, o: { port: string; host: string; corsOrigin: string[]; authTokenEnv?: string }) => {
        const [{ codecFromConfig }, { createCodecServer, startCodecServer }, { createLogger }] = await Promise.all([
          import('../../lib/codec.js'),
          import('../../lib/codec-server.js'),
          import('../../lib/logger.js'),
        ]);
        const codec = codecFromConfig(ctx.config);
        if (!codec) throw new OperationError('no encryption keys configured (config: encryption)');
        let authToken: string | undefined;
        if (o.authTokenEnv) {
          authToken = process.env[o.authTokenEnv];
          if (!authToken) throw new UsageError(`environment variable ${o.authTokenEnv} is empty`);
        }
        const logger = createLogger({ level: ctx.config.log.level });
        const origins = o.corsOrigin.length ? o.corsOrigin : ['http://localhost:8233', 'http://127.0.0.1:8233'];
        const server = createCodecServer({ codec, corsOrigins: origins, authToken, logger });
        const started = await startCodecServer(server, Number(o.port), o.host);
        logger.info({ url: started.url, origins, keyIds: codec.keyIds }, 'codec server ready');
        if (!authToken) {
          // Loopback only (startCodecServer refuses more without a token), but every local process can still decode.
          logger.warn({ url: started.url }, 'codec server has no auth token: any process on this machine can decode payloads; set --auth-token-env');
        }
        await new Promise<void>((resolve) => {
          process.once('SIGINT', () => resolve());
          process.once('SIGTERM', () => resolve());
        });
        await started.close();
      }),
    );
}
