/** The worker's log line for each payload its codec refused (a refused update leaves no history). */
import type { Payload, SerializationContext } from '@temporalio/common';
import type { Logger } from '../lib/logger.js';

const MAX_SHOWN = 64;

/** `actor.user` of a refused JSON payload, if it names one: what the sender claimed, bounded. */
export function claimedUser(payload: Payload): string | undefined {
  const encoding = payload.metadata?.encoding;
  if (!encoding || Buffer.from(encoding).toString() !== 'json/plain' || !payload.data || payload.data.length > 256 * 1024) return undefined;
  try {
    const user = (JSON.parse(Buffer.from(payload.data).toString('utf8')) as { actor?: { user?: unknown } } | null)?.actor?.user;
    return typeof user === 'string' ? JSON.stringify(user.slice(0, MAX_SHOWN)) : undefined;
  } catch {
    return undefined;
  }
}

export function logRefusal(logger: Logger): (reason: string, context: SerializationContext | undefined, payload: Payload) => void {
  return (reason, context, payload) => {
    logger.warn(
      { reason, workflowId: context?.workflowId, context: context?.type, claimedUser: claimedUser(payload) },
      'refused a payload that is not encrypted with this deployment key',
    );
  };
}
