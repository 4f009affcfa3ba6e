import pino, { type Logger, type LoggerOptions } from 'pino';

/** Keys whose values are never logged, at any depth we know of. */
export const REDACT_PATHS = [
  'password',
  'secret',
  'token',
  'apiKey',
  'authorization',
  'privateKey',
  'secretKey',
  '*.password',
  '*.secret',
  '*.token',
  '*.apiKey',
  '*.authorization',
  '*.privateKey',
  '*.secretKey',
  '*.cookie',
  '*.*.password',
  '*.*.secret',
  '*.*.token',
  'headers.authorization',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'args.password',
  'args.value',
];

export interface LoggerSetup {
  level?: string;
  /** Pretty output; defaults to stderr being a TTY. */
  pretty?: boolean;
  /** Destination stream (tests capture logs through this). */
  destination?: pino.DestinationStream;
  name?: string;
}

/** One root logger per process; children carry incident/step bindings. */
export function createLogger(setup: LoggerSetup = {}): Logger {
  const options: LoggerOptions = {
    name: setup.name ?? 'firebreak',
    level: setup.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (setup.destination) return pino(options, setup.destination);
  const pretty = setup.pretty ?? Boolean(process.stderr.isTTY);
  if (pretty) {
    return pino({
      ...options,
      transport: { target: 'pino-pretty', options: { destination: 2, colorize: true, ignore: 'pid,hostname', translateTime: 'HH:MM:ss.l' } },
    });
  }
  return pino(options, pino.destination({ fd: 2, sync: false }));
}

export type { Logger };
