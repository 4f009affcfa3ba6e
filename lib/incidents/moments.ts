/** Times people give a front door, checked before anything is asked of Temporal. */
import { UsageError } from '../errors.js';

/** A moment that has happened (awareness): refused before anything is asked of Temporal when it is not. */
export function pastMoment(flag: string, value: string, now = Date.now()): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new UsageError(`${flag} expects an ISO time, got "${value}"`);
  if (ms > now + 5 * 60_000) throw new UsageError(`${flag} ${value} is in the future: give the moment the team became aware`);
  return value;
}
