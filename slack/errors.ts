/** What a person in Slack is told about an error: typed errors say what is wrong; anything else points at the log. */
import { ConfigError, OperationError, UsageError } from '../lib/errors.js';

export function userMessage(err: unknown): { message: string; expected: boolean } {
  if (err instanceof ConfigError) return { message: err.problems.join('; '), expected: true };
  if (err instanceof UsageError || err instanceof OperationError) return { message: err.message, expected: true };
  return { message: 'Firebreak failed on its side; the log line with this ref has the details', expected: false };
}
