/**
 * Workflow interceptors (sandbox code) that end a refused start, query or signal cleanly.
 *
 * With encryption configured the worker's codec turns every payload it cannot accept into a
 * refusal marker, and the payload converter (lib/data-converters.cjs) throws on one. For an
 * update that is enough: the SDK rejects an update whose arguments do not decode, before it is
 * accepted. A start, query or signal decodes its arguments outside any handler, where a throw
 * fails the workflow task — retried for ever, so a keyless client could leave a running
 * incident nobody can steer. So before the SDK decodes them, their refused arguments are
 * dropped and the refusal moves into a header; the inbound interceptors then fail the
 * workflow (start), fail the query, or drop the signal.
 */
import type { Payload } from '@temporalio/common';
import { log, type Headers, type WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { refusal, refusedReason } from './data-converters.cjs';

/** Header carrying the refusal marker of a job whose arguments were dropped. */
export const REFUSED_HEADER = 'firebreak-refused';

/** The first refusal marker among `payloads`, if any. */
function refusedIn(payloads: Payload[] | null | undefined): Payload | undefined {
  return payloads?.find((p) => refusedReason(p) !== undefined);
}

/** Drop `job`'s refused arguments and keep the marker in its headers. */
function moveToHeader(job: { headers?: Record<string, Payload> | null }, marker: Payload): void {
  job.headers = { ...job.headers, [REFUSED_HEADER]: marker };
}

function refusedHeader(headers: Headers): string | undefined {
  const marker = headers[REFUSED_HEADER];
  return marker ? (refusedReason(marker) ?? 'plaintext') : undefined;
}

export const interceptors: WorkflowInterceptorsFactory = () => ({
  internals: [
    {
      activate(input, next) {
        for (const job of input.activation.jobs ?? []) {
          const start = job.initializeWorkflow;
          const startMarker = start && refusedIn(start.arguments);
          if (start && startMarker) {
            start.arguments = [];
            moveToHeader(start, startMarker);
          }
          const query = job.queryWorkflow;
          const queryMarker = query && refusedIn(query.arguments);
          if (query && queryMarker) {
            query.arguments = [];
            moveToHeader(query, queryMarker);
          }
          const signal = job.signalWorkflow;
          const signalMarker = signal && refusedIn(signal.input);
          if (signal && signalMarker) {
            signal.input = [];
            moveToHeader(signal, signalMarker);
          }
        }
        next(input);
      },
    },
  ],
  inbound: [
    {
      // Async, so a refusal is a rejected promise the SDK turns into a failed workflow / query.
      async execute(input, next) {
        const reason = refusedHeader(input.headers);
        if (reason !== undefined) throw refusal(reason);
        return next(input);
      },
      async handleQuery(input, next) {
        const reason = refusedHeader(input.headers);
        if (reason !== undefined) throw refusal(reason);
        return next(input);
      },
      async handleSignal(input, next) {
        const reason = refusedHeader(input.headers);
        if (reason === undefined) return next(input);
        log.warn('signal refused: its payload is not encrypted with this deployment key', { signal: input.signalName, reason });
      },
    },
  ],
});
