/** Arguments of the tokens family, read once the action's schema accepted them; what only the worker can judge (a jtis_file's lines) is judged here. */
import { createHash, type Hash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type { ArgsOf } from '../../lib/args/schemas.js';
import { badInput } from '../support/failures.js';
import { openInputFile } from '../support/input-file.js';
import { activityContext, lastHeartbeat } from '../support/context.js';
import { JtiListBuilder, type JtiList } from './jti-list.js';

/** Bounds the worker's memory (the ids' bytes plus 4 per id, see jti-list.ts). */
const FILE_MAX = 5_000_000;

function describeInvalid(what: string, count: number, where: string[], rule: string): string {
  return `${what}: ${count} invalid ${count === 1 ? 'entry' : 'entries'} (${rule}) at ${where.join(', ')}${count > where.length ? ', …' : ''}; nothing was changed`;
}

/** The user ids, deduplicated (their format and count are the schema's, checked at the activity's entry). */
export function parseUserIds(userIds: readonly string[] | undefined): string[] {
  return [...new Set(userIds ?? [])];
}

class InvalidCollector {
  count = 0;
  readonly where: string[] = [];
  add(location: string): void {
    this.count += 1;
    if (this.where.length < 5) this.where.push(location);
  }
}

/** Read in pieces of this size, heartbeating between them. */
const READ_PIECE = 16 << 20;
/** The most bytes FILE_MAX ids of 255 characters take with CRLF line ends. */
const FILE_MAX_BYTES = FILE_MAX * 257;

const isBlankByte = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0; // JS \s in latin1

/** The file's bytes, appended after the ids already in `list` and hashed as read; returns where they end. */
async function readJtiFile(inputsDir: string, path: string, hash: Hash, list: JtiListBuilder): Promise<number> {
  const opened = await openInputFile(inputsDir, 'jtis_file', path);
  if ('problem' in opened) throw badInput(opened.problem);
  const { handle, size } = opened;
  const tooBig = (): ApplicationFailure => badInput(`jtis_file: larger than ${FILE_MAX} ids can fill (${FILE_MAX_BYTES} bytes); split it over several steps`);
  try {
    if (size > FILE_MAX_BYTES) throw tooBig();
    let end = list.length;
    // +1: a last line without '\n' gets one in place.
    let buf = list.ensure(end + size + 1, end);
    for (;;) {
      if (end + 1 >= buf.length) buf = list.ensure(buf.length + READ_PIECE, end); // the file grew while read
      const { bytesRead } = await handle.read(buf, end, Math.min(READ_PIECE, buf.length - 1 - end), null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(end, end + bytesRead));
      end += bytesRead;
      if (end - list.length > FILE_MAX_BYTES) throw tooBig();
      activityContext()?.heartbeat(lastHeartbeat()); // alive while reading; what observers see is unchanged
    }
    return end;
  } catch (err) {
    if (err instanceof ApplicationFailure) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'read error';
    throw badInput(`jtis_file: cannot read ${path} on the worker: ${code}`);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * Judge the file's lines in [from, end) of the list's buffer and compact the valid ones in
 * place (one CR before the '\n' dropped, blank lines skipped), as the JTI rule would judge
 * each line as a string: 1–255 bytes in 0x21–0x7e.
 */
function takeJtiLines(list: JtiListBuilder, from: number, end: number, invalid: InvalidCollector): void {
  const buf = list.buffer;
  let lineNo = 0;
  // One pass, no closure over the loop's variables (this runs per byte of a file of millions of lines).
  for (let lineStart = from; lineStart < end; ) {
    let stop = buf.indexOf(0x0a, lineStart);
    if (stop === -1 || stop > end) stop = end;
    lineNo += 1;
    const idEnd = stop > lineStart && buf[stop - 1] === 0x0d ? stop - 1 : stop;
    let printable = true;
    for (let i = lineStart; i < idEnd; i += 1) {
      const c = buf[i] as number;
      if (c < 0x21 || c > 0x7e) {
        printable = false;
        break;
      }
    }
    const length = idEnd - lineStart;
    if (printable && length >= 1 && length <= 255) {
      if (list.count >= FILE_MAX) throw badInput(`jtis_file: more than ${FILE_MAX} ids; split it over several steps`);
      const at = list.length;
      if (at !== lineStart) buf.copyWithin(at, lineStart, idEnd);
      list.endId(at + length);
    } else {
      let blank = true;
      for (let i = lineStart; i < idEnd && blank; i += 1) blank = isBlankByte(buf[i] as number);
      if (!blank) invalid.add(`line ${lineNo}`);
    }
    lineStart = stop + 1;
  }
}

/**
 * `jtis` and/or the lines of `jtis_file` in this worker's inputs folder, with the input's
 * fingerprint. The inline ids and the arguments' shape are the schema's; the
 * file's lines are only known here, so they are judged here. A duplicate is simply
 * written twice (deduplicating a million ids costs more than the SETs it saves).
 */
export async function parseJtis(args: ArgsOf<'tokens.revoke'>, inputsDir: string): Promise<JtiList> {
  const inline = args.jtis ?? [];
  const file = args.jtis_file;
  const hash = createHash('sha256');
  const list = new JtiListBuilder(inline.reduce((n, v) => n + v.length + 1, 0), inline.length);
  for (const v of inline) {
    hash.update(`${v}\n`);
    list.push(v);
  }
  hash.update('\0');
  if (file !== undefined) {
    const from = list.length;
    const end = await readJtiFile(inputsDir, file, hash, list);
    const invalid = new InvalidCollector();
    takeJtiLines(list, from, end, invalid);
    if (invalid.count) throw badInput(describeInvalid('jtis_file', invalid.count, invalid.where, '1–255 printable ASCII characters, no whitespace'));
    if (list.count === 0) throw badInput('scope jti: no jtis given (the list and the file are empty)');
  }
  return list.build(hash.digest('hex').slice(0, 16));
}
