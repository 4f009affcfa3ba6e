/** Route the Temporal SDK's own logs (TypeScript and Rust core) into our pino logger. */
import { Runtime, makeTelemetryFilterString, type LogLevel, type LogMetadata } from '@temporalio/worker';
import type { Logger } from '../lib/logger.js';

let installed = false;

/** A workflow's log line about a refused decision (workflows/incident/identity.ts), with what it claimed. */
export type RefusalListener = (meta: LogMetadata, message: string) => void;
const refusalListeners = new Set<RefusalListener>();

/** Hear every refused decision a workflow of this process logs (replays log nothing); returns the unsubscribe. */
export function onDecisionRefused(listener: RefusalListener): () => void {
  refusalListeners.add(listener);
  return () => refusalListeners.delete(listener);
}

export function installRuntime(logger: Logger): void {
  if (installed) return;
  installed = true;
  const log = logger.child({ component: 'temporal' });
  const emit = (level: LogLevel, message: string, meta?: LogMetadata) => {
    const lvl = level.toLowerCase() as 'trace' | 'debug' | 'info' | 'warn' | 'error';
    log[lvl](meta ?? {}, message);
    if (message.startsWith('decision refused')) for (const l of refusalListeners) l(meta ?? {}, message);
  };
  Runtime.install({
    logger: {
      log: emit,
      trace: (m, meta) => emit('TRACE', m, meta),
      debug: (m, meta) => emit('DEBUG', m, meta),
      info: (m, meta) => emit('INFO', m, meta),
      warn: (m, meta) => emit('WARN', m, meta),
      error: (m, meta) => emit('ERROR', m, meta),
    },
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} } },
  });
}
