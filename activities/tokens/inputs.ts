/** Arguments of the tokens family, read once the action's schema accepted them; what only the worker can judge (a jtis_file's lines) is judged here. */
import { createHash, type Hash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { JTI } from '../../lib/args/rules.js';
import type { ArgsOf } from '../../lib/args/schemas.js';
import { badInput } from '../support/failures.js';
import { openInputFile } from '../support/input-file.js';
import { activityContext, lastHeartbeat } from '../support/context.js';

/** Bounds the worker's memory (about 100 bytes per id). */
const FILE_MAX = 5_000_000;

const BLANK = /^\s*$/;

function describeInvalid(what: string, count: number, where: string[], rule: string): string {
  return `${what}: ${count} invalid ${count === 1 ? 'entry' : 'entries'} (${rule}) at ${where.join(', ')}${count > where.length ? ', …' : ''}; nothing was changed`;
}

/** The user ids, deduplicated (their format and count are the schema's, checked at the activity's entry). */
export function parseUserIds(userIds: readonly string[] | undefined): string[] {
  return [...new Set(userIds ?? [])];
}

export interface JtiList {
  /** As listed: a duplicate is simply written twice (deduplicating a million ids costs more than the SETs it saves). */
  ids: string[];
  /** Identifies the input (inline ids + file bytes): a resume only trusts progress recorded for the same input. */
  fingerprint: string;
}

class InvalidCollector {
  count = 0;
  readonly where: string[] = [];
  add(location: string): void {
    this.count += 1;
    if (this.where.length < 5) this.where.push(location);
  }
}

async function readJtiFile(inputsDir: string, path: string, hash: Hash, onLine: (line: string, lineNo: number) => void, onChunk: () => void): Promise<void> {
  const opened = await openInputFile(inputsDir, 'jtis_file', path);
  if ('problem' in opened) throw badInput(opened.problem);
  // latin1: one char per byte, so the hash sees the file's bytes and any non-ASCII byte fails validation.
  const stream = opened.handle.createReadStream({ encoding: 'latin1', highWaterMark: 1 << 20 });
  let carry = '';
  let lineNo = 0;
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      hash.update(chunk, 'latin1');
      const text = carry + chunk;
      let start = 0;
      let nl = text.indexOf('\n', start);
      while (nl !== -1) {
        lineNo += 1;
        onLine(text.slice(start, nl), lineNo);
        start = nl + 1;
        nl = text.indexOf('\n', start);
      }
      carry = text.slice(start);
      onChunk();
    }
  } catch (err) {
    if (err instanceof ApplicationFailure) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'read error';
    throw badInput(`jtis_file: cannot read ${path} on the worker: ${code}`);
  } finally {
    stream.destroy();
    await opened.handle.close().catch(() => undefined);
  }
  if (carry !== '') onLine(carry, lineNo + 1);
}

/**
 * `jtis` and/or the lines of `jtis_file` in this worker's inputs folder, with the input's
 * fingerprint. The inline ids and the arguments' shape are the schema's; the
 * file's lines are only known here, so they are judged here.
 */
export async function parseJtis(args: ArgsOf<'tokens.revoke'>, inputsDir: string): Promise<JtiList> {
  const inline = args.jtis ?? [];
  const file = args.jtis_file;
  const hash = createHash('sha256');
  const ids: string[] = [];
  const invalid = new InvalidCollector();
  for (const v of inline) {
    hash.update(`${v}\n`);
    ids.push(v);
  }
  hash.update('\0');
  if (file !== undefined) {
    await readJtiFile(inputsDir, file, hash, (raw, lineNo) => {
      const line = raw.charCodeAt(raw.length - 1) === 13 ? raw.slice(0, -1) : raw; // CRLF
      if (!JTI.test(line)) {
        if (!BLANK.test(line)) invalid.add(`line ${lineNo}`);
        return;
      }
      if (ids.length >= FILE_MAX) throw badInput(`jtis_file: more than ${FILE_MAX} ids; split it over several steps`);
      ids.push(line);
    }, () => activityContext()?.heartbeat(lastHeartbeat())); // alive while reading; what observers see is unchanged
    if (invalid.count) throw badInput(describeInvalid('jtis_file', invalid.count, invalid.where, '1–255 printable ASCII characters, no whitespace'));
    if (ids.length === 0) throw badInput('scope jti: no jtis given (the list and the file are empty)');
  }
  return { ids, fingerprint: hash.digest('hex').slice(0, 16) };
}

