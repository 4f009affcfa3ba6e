/**
 * The declare modal's input from the app's config: the worker's runbooks, the targets, and the
 * chosen runbook. Runbooks are parsed and validated once per version of the folder (names,
 * sizes, modification times), not on every `/incident declare`: 50 declares at once each
 * parsing every YAML file kept the event loop from acking the others.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../lib/config.js';
import { UsageError } from '../lib/errors.js';
import { listRunbooks, loadRunbook, RunbookError, UnknownRunbookError } from '../lib/runbook/loader.js';
import type { RunbookDoc } from '../lib/runbook/types.js';
import type { DeclareInitial, DeclareModalInput } from './blocks/declare-modal.js';

const RUNBOOK_NAME = /^[a-z0-9-]{1,100}$/;

/** What the runbooks folder holds now, cheaply: each file's name, size and mtime (empty when there is no folder). */
function folderStamp(dir: string): string {
  let files: string[];
  try {
    files = readdirSync(dir).sort();
  } catch {
    return '';
  }
  return files
    .map((f) => {
      try {
        const st = statSync(join(dir, f));
        return `${f}\0${st.size}\0${st.mtimeMs}`;
      } catch {
        return `${f}\0gone`;
      }
    })
    .join('\n');
}

/** Results computed from the folder, kept while its stamp stays the same. */
const cache = new Map<string, { stamp: string; value: unknown }>();

function cached<T>(dir: string, key: string, compute: () => T): T {
  const stamp = folderStamp(dir);
  const k = `${dir}\0${key}`;
  const hit = cache.get(k);
  if (hit && hit.stamp === stamp) return hit.value as T;
  const value = compute();
  if (cache.size > 1_000) cache.clear();
  cache.set(k, { stamp, value });
  return value;
}

/** One of the worker's runbooks by name (never a file: Slack declares only those). */
export function declareRunbook(config: Readonly<Config>, name: string): RunbookDoc {
  if (!RUNBOOK_NAME.test(name)) throw new UsageError(`"${name.slice(0, 100)}" is not a runbook name (lower-case letters, digits and -)`);
  const loaded = cached(config.runbooksDir, `runbook:${name}`, (): { doc: RunbookDoc } | { problem: string } => {
    try {
      return { doc: loadRunbook(config.runbooksDir, name).doc };
    } catch (err) {
      if (err instanceof UnknownRunbookError || err instanceof RunbookError) return { problem: err.message };
      throw err;
    }
  });
  if ('problem' in loaded) throw new UsageError(loaded.problem);
  return loaded.doc;
}

function validRunbooks(dir: string): Array<{ name: string; title: string }> {
  return cached(dir, 'list', () =>
    listRunbooks(dir)
      .filter((r) => r.valid)
      .map((r) => ({ name: r.name, title: r.title })),
  );
}

export function declareFormInput(config: Readonly<Config>, o: { runbook?: RunbookDoc; channel?: string; initial?: DeclareInitial } = {}): DeclareModalInput {
  return {
    runbooks: validRunbooks(config.runbooksDir),
    targets: Object.keys(config.targets),
    defaultTarget: config.defaultTarget,
    ...(o.runbook && { runbook: o.runbook }),
    ...(o.channel !== undefined && { channel: o.channel }),
    ...(o.initial && { initial: o.initial }),
  };
}
