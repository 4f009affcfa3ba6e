/** Pre-build the workflow bundle once (production, tests) so workers skip webpack at start-up. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { convertersPath } from '../lib/temporal-connection.js';
import { refusePlaintextPath, workflowsPath } from './paths.js';

export async function writeWorkflowBundle(path: string): Promise<string> {
  // A bundle carries its converters and interceptors: the worker's own options do not reach it.
  const { code } = await bundleWorkflowCode({
    workflowsPath: workflowsPath(),
    workflowInterceptorModules: [refusePlaintextPath()],
    payloadConverterPath: convertersPath(),
    failureConverterPath: convertersPath(),
    logger: quietLogger,
  });
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, code);
  return path;
}

const noop = () => undefined;
const quietLogger = { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: noop };
