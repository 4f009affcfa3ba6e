/** Publishing a rotated value to the target's sinks, and reading it back where a sink can be read. */
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes, type ActionInput } from '../../workflows/definitions.js';
import type { ActivityDeps } from '../deps.js';
import { githubSecretNameProblem } from '../sinks/github.js';
import { sinksFor, type SecretSink } from '../sinks/types.js';
import { heartbeat } from '../support/context.js';
import { badInput, targetUnavailable, verificationFailed } from '../support/failures.js';
import { fingerprint, type Hush } from './values.js';

/** The target's sinks, refusing a name one of them would refuse only after others were written. */
export function publishableSinks(deps: ActivityDeps, input: ActionInput, name: string): SecretSink[] {
  const sinks = sinksFor(deps, input.target);
  const problem = sinks.some((s) => s.kind === 'github') ? githubSecretNameProblem(name) : undefined;
  if (problem) throw badInput(`secret_name ${name} cannot be published to GitHub: ${problem}`);
  return sinks;
}

/** Publish to every sink in order, then read back the ones that can be read. */
export async function publish(sinks: SecretSink[], name: string, value: string): Promise<Record<string, string>> {
  for (const sink of sinks) {
    heartbeat(`publish ${sink.describe()}`);
    try {
      await sink.put(name, value);
    } catch (err) {
      const message = `publishing ${name} to ${sink.describe()} failed: ${err instanceof Error ? err.message : String(err)}`;
      if (err instanceof ApplicationFailure) throw ApplicationFailure.create({ type: err.type ?? FailureTypes.TargetUnavailable, message, nonRetryable: err.nonRetryable ?? false });
      throw targetUnavailable(sink.describe(), new Error(message));
    }
  }
  const out: Record<string, string> = {};
  for (const sink of sinks) {
    if (!sink.get) {
      out[sink.describe()] = 'written (this sink cannot be read back)';
      continue;
    }
    const held = await sink.get(name);
    if (held !== value) {
      throw verificationFailed(`${sink.describe()} holds ${held === undefined ? 'no value' : `a different value (fingerprint ${fingerprint(held)})`} for ${name} after writing (expected fingerprint ${fingerprint(value)})`);
    }
    out[sink.describe()] = 'read back: matches';
  }
  return out;
}

/** After an earlier attempt completed: what each sink holds now, compared by fingerprint with the recorded value. */
export async function readBackRecorded(sinks: SecretSink[], name: string, recorded: string, hush: Hush): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const sink of sinks) {
    const held = sink.get ? await sink.get(name) : undefined;
    hush.add(held);
    out[sink.describe()] = !sink.get ? 'written (this sink cannot be read back)' : held !== undefined && fingerprint(held) === recorded ? 'read back: matches' : 'holds another value now (rotated again since?)';
  }
  return out;
}
