/**
 * Replaying archived histories against the workflow code of this checkout (`audit verify
 * --replay`): a history that no longer replays means the code changed without a patch, or
 * the history is not what ran.
 */
import { Worker } from '@temporalio/worker';
import type { Config } from '../lib/config.js';
import { historyFromText } from '../lib/history/decode.js';
import { dataConverter } from '../lib/temporal-connection.js';
import { refusePlaintextPath, workflowsPath } from './paths.js';

export interface ReplayOutcome {
  workflowId: string;
  runId: string;
  ok: boolean;
  error?: string;
}

export async function replayArchived(config: Readonly<Config>, archives: ReadonlyArray<{ workflowId: string; runId: string; history: string }>, bundlePath?: string): Promise<ReplayOutcome[]> {
  const options = {
    ...(bundlePath ? { workflowBundle: { codePath: bundlePath } } : { workflowsPath: workflowsPath(), interceptors: { workflowModules: [refusePlaintextPath()] } }),
    dataConverter: dataConverter(config),
  };
  const out: ReplayOutcome[] = [];
  for (const a of archives) {
    try {
      await Worker.runReplayHistory(options, historyFromText(a.history), a.workflowId);
      out.push({ workflowId: a.workflowId, runId: a.runId, ok: true });
    } catch (err) {
      out.push({ workflowId: a.workflowId, runId: a.runId, ok: false, error: (err as Error).message.split('\n')[0] ?? 'replay failed' });
    }
  }
  return out;
}
