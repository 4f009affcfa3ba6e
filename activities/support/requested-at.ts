/** The moment an action was requested (`requestedAt`, set once by the workflow), as the epoch every retry shares. */
import type { ActionInput } from '../../workflows/definitions.js';
import { badInput } from './failures.js';

/** `input.requestedAt` in whole epoch seconds; not a timestamp is bad input. */
export function requestedAtSeconds(input: Pick<ActionInput, 'requestedAt'>): number {
  const ms = Date.parse(input.requestedAt);
  if (!Number.isFinite(ms)) throw badInput(`requestedAt is not a timestamp: "${input.requestedAt}"`);
  return Math.floor(ms / 1000);
}
