/** The declare modal's input from the app's config: the worker's runbooks, the targets, and the chosen runbook. */
import type { Config } from '../lib/config.js';
import { UsageError } from '../lib/errors.js';
import { listRunbooks, loadRunbook, RunbookError, UnknownRunbookError } from '../lib/runbook/loader.js';
import type { RunbookDoc } from '../lib/runbook/types.js';
import type { DeclareInitial, DeclareModalInput } from './blocks/declare-modal.js';

const RUNBOOK_NAME = /^[a-z0-9-]{1,100}$/;

/** One of the worker's runbooks by name (never a file: Slack declares only those). */
export function declareRunbook(config: Readonly<Config>, name: string): RunbookDoc {
  if (!RUNBOOK_NAME.test(name)) throw new UsageError(`"${name.slice(0, 100)}" is not a runbook name (lower-case letters, digits and -)`);
  try {
    return loadRunbook(config.runbooksDir, name).doc;
  } catch (err) {
    if (err instanceof UnknownRunbookError || err instanceof RunbookError) throw new UsageError(err.message);
    throw err;
  }
}

export function declareFormInput(config: Readonly<Config>, o: { runbook?: RunbookDoc; channel?: string; initial?: DeclareInitial } = {}): DeclareModalInput {
  return {
    runbooks: listRunbooks(config.runbooksDir)
      .filter((r) => r.valid)
      .map((r) => ({ name: r.name, title: r.title })),
    targets: Object.keys(config.targets),
    defaultTarget: config.defaultTarget,
    ...(o.runbook && { runbook: o.runbook }),
    ...(o.channel !== undefined && { channel: o.channel }),
    ...(o.initial && { initial: o.initial }),
  };
}
