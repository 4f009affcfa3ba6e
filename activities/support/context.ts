/** The running activity's context and heartbeats, for code that also runs outside an activity (tests, bench). */
import { Context } from '@temporalio/activity';

/** The running activity's context, or undefined when called directly. */
export function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/** Heartbeat a stage name (long steps: alive, and where it is). */
export function heartbeat(stage: string): void {
  activityContext()?.heartbeat({ stage });
}

/** Heartbeat progress details that a retry resumes from (`heartbeatDetails`). */
export function heartbeatProgress<T extends object>(details: T): void {
  activityContext()?.heartbeat(details);
}

/** The details the previous attempt last heartbeated, if any. */
export function lastHeartbeat<T>(): T | undefined {
  return activityContext()?.info.heartbeatDetails as T | undefined;
}
