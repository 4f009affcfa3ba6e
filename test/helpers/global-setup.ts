/**
 * Vitest global setup: one Temporal dev server for the whole run, plus a
 * fail-fast check that the real Redis and PostgreSQL the tests use are up.
 * Tests read the address with `inject('temporalAddress')`; child processes
 * get FIREBREAK_TEST_TEMPORAL_ADDRESS.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startDevServer, type DevServer } from '../../lib/dev-server.js';
import { writeWorkflowBundle } from '../../worker/bundle.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    /** Workflow bundle built once for the run; workers load it instead of running webpack. */
    workflowBundle: string;
  }
}

const SERVICES = [
  { name: 'Redis', host: '127.0.0.1', port: 6379, hint: 'start it (e.g. `redis-server --daemonize yes`)' },
  { name: 'PostgreSQL', host: '127.0.0.1', port: 5432, hint: 'start it (e.g. `service postgresql start`) and allow user postgres without a password from 127.0.0.1' },
] as const;

function canConnect(host: string, port: number, timeoutMs = 2_000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (problem?: string) => {
      socket.destroy();
      resolve(problem);
    };
    socket.setTimeout(timeoutMs, () => done(`no answer within ${timeoutMs} ms`));
    socket.once('connect', () => done());
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Real services only: a test run that silently skips them proves nothing.
  const problems = (
    await Promise.all(
      SERVICES.map(async (s) => {
        const problem = await canConnect(s.host, s.port);
        return problem ? `${s.name} at ${s.host}:${s.port} does not answer (${problem}): ${s.hint}` : undefined;
      }),
    )
  ).filter((p): p is string => p !== undefined);
  if (problems.length) throw new Error(`test services are missing:\n  ${problems.join('\n  ')}`);

  // A file db rather than in-memory: closer to how `firebreak dev` runs, and
  // its directory is ours to remove afterwards.
  const dir = mkdtempSync(join(tmpdir(), 'firebreak-test-temporal-'));
  let server: DevServer;
  let bundle: string;
  try {
    [server, bundle] = await Promise.all([
      startDevServer({ uiPort: false, dbFile: join(dir, 'temporal.db'), logLevel: 'error' }),
      writeWorkflowBundle(join(dir, 'workflow-bundle.js')),
    ]);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  project.provide('temporalAddress', server.address);
  project.provide('workflowBundle', bundle);
  process.env.FIREBREAK_TEST_TEMPORAL_ADDRESS = server.address;

  return async () => {
    await server.stop();
    delete process.env.FIREBREAK_TEST_TEMPORAL_ADDRESS;
    rmSync(dir, { recursive: true, force: true });
  };
}
