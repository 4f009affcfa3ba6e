/** Small pieces every part of the tokens family uses. */
import type { TargetConfig } from '../../lib/config.js';
import type { ActionInput } from '../../workflows/definitions.js';
import type { TargetClients } from '../deps.js';
import { assertModeAllowed } from '../support/mode.js';

/** Ids per Redis pipeline (and per simplejwt slice); progress is recorded and heartbeated after each. */
export const REVOKE_CHUNK = 10_000;

/** The input's target, after the mode check. */
export function targetFor(clients: TargetClients, input: ActionInput): TargetConfig {
  const target = clients.target(input.target);
  assertModeAllowed(target, input.target, input.mode);
  return target;
}

export type PipelineResult = [Error | null, unknown][] | null;

/** The values of an ioredis pipeline or MULTI; the first failed command's error is thrown. */
export function checkPipeline(results: PipelineResult): unknown[] {
  if (!results) throw new Error('pipeline aborted');
  return results.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
