import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { PROJECT_ROOT } from './config.js';

/** Thrown when a Temporal binary cannot be found anywhere we look. */
export class TemporalBinaryNotFound extends Error {
  override name = 'TemporalBinaryNotFound';
  readonly exitCode = 2;
}

const EXE = process.platform === 'win32' ? '.exe' : '';

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name + EXE);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** Where to look; the defaults are for real use, the overrides for tests. */
export interface FindBinaryOptions {
  /** Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Whose `.tools/temporal/bin` to fall back to; default PROJECT_ROOT. */
  projectRoot?: string;
}

function find(envVar: string, name: string, { env = process.env, projectRoot = PROJECT_ROOT }: FindBinaryOptions): string {
  const fromEnv = env[envVar];
  if (fromEnv) {
    // An explicit setting that is wrong should be reported, not silently replaced.
    if (isExecutableFile(fromEnv)) return fromEnv;
    throw new TemporalBinaryNotFound(`${envVar}=${fromEnv} is not an executable file; fix it, or unset it and run \`npm run setup\``);
  }
  const found = onPath(name, env);
  if (found) return found;
  const local = join(projectRoot, '.tools', 'temporal', 'bin', name + EXE);
  if (isExecutableFile(local)) return local;
  throw new TemporalBinaryNotFound(`${name} binary not found (looked at ${envVar}, PATH and ${local}): run \`npm run setup\`, or set ${envVar}`);
}

/**
 * Path of the Temporal CLI (`temporal`, which runs `server start-dev`):
 * `TEMPORAL_CLI_PATH`, else `temporal` on PATH, else `.tools/temporal/bin/temporal`
 * (installed by `npm run setup`). Never downloads anything.
 * @throws TemporalBinaryNotFound (exitCode 2)
 */
export function findTemporalCli(opts: FindBinaryOptions = {}): string {
  return find('TEMPORAL_CLI_PATH', 'temporal', opts);
}

/**
 * Path of the time-skipping test server: `TEMPORAL_TEST_SERVER_PATH`, else
 * `temporal-test-server` on PATH, else `.tools/temporal/bin/temporal-test-server`.
 * Pass it to `TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path } } })`.
 * @throws TemporalBinaryNotFound (exitCode 2)
 */
export function findTestServer(opts: FindBinaryOptions = {}): string {
  return find('TEMPORAL_TEST_SERVER_PATH', 'temporal-test-server', opts);
}
