/**
 * Heartbeats for an activity scheduled with a heartbeat timeout, until it heartbeats itself.
 * Without them a worker killed mid-step holds the step until its start-to-close timeout
 * (two minutes for read-only, two hours for a redeploy) before Temporal gives it to another
 * worker; with them the attempt is known lost within the heartbeat timeout.
 *
 * Once the activity sends a heartbeat of its own, its beats are its liveness again (a bulk
 * step that stops making progress is noticed as before) and this stops. Until then the beat
 * carries the previous attempt's details, so the progress a retry resumes from is kept. An
 * activity that hangs with its event loop alive is still ended by its start-to-close timeout.
 */
import type { Context } from '@temporalio/activity';
import type { ActivityInterceptors } from '@temporalio/worker';

/** How often within the heartbeat timeout the beat is sent (the SDK throttles what reaches the server). */
const BEATS_PER_TIMEOUT = 4;
const MIN_INTERVAL_MS = 500;

export function keepAlive(ctx: Context): ActivityInterceptors {
  return {
    inbound: {
      async execute(input, next) {
        const timeout = ctx.info.heartbeatTimeoutMs;
        if (!timeout) return next(input);
        const send = ctx.heartbeat;
        const previous: unknown = ctx.info.heartbeatDetails;
        const timer = setInterval(() => send(previous), Math.max(MIN_INTERVAL_MS, Math.floor(timeout / BEATS_PER_TIMEOUT)));
        // `heartbeat` is an own property of the context (and what the module-level `heartbeat()` calls).
        Object.defineProperty(ctx, 'heartbeat', {
          configurable: true,
          writable: true,
          value: (details?: unknown) => {
            clearInterval(timer);
            send(details);
          },
        });
        try {
          return await next(input);
        } finally {
          clearInterval(timer);
        }
      },
    },
  };
}
