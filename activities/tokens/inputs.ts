/** Arguments of the tokens family, parsed and validated before anything is written. */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { isAbsolute } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { FOREIGN_ARGS, INLINE_MAX, JTI, USER_ID } from '../../lib/args/rules.js';
import { badInput } from '../support/failures.js';
import { activityContext, lastHeartbeat } from '../support/context.js';

/** Bounds the worker's memory (about 100 bytes per id). */
const FILE_MAX = 5_000_000;

const BLANK = /^\s*$/;

export type Scope = 'jti' | 'user' | 'all';

export function optionalString(args: Record<string, unknown>, name: string, max: number): string | undefined {
  const v = args[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > max) throw badInput(`${name} must be a string of at most ${max} characters`);
  return v;
}

function stringList(args: Record<string, unknown>, name: string): unknown[] | undefined {
  const v = args[name];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw badInput(`${name} must be a list of strings`);
  if (v.length > INLINE_MAX) throw badInput(`${name}: ${v.length} entries, at most ${INLINE_MAX} inline (put more in a file)`);
  return v as unknown[];
}

function describeInvalid(what: string, count: number, where: string[], rule: string): string {
  return `${what}: ${count} invalid ${count === 1 ? 'entry' : 'entries'} (${rule}) at ${where.join(', ')}${count > where.length ? ', …' : ''}; nothing was changed`;
}

/** `scope`, with the arguments of the other scopes refused: given by mistake, they would silently revoke something else. */
export function parseScope(args: Record<string, unknown>): Scope {
  const scope = args.scope;
  if (scope !== 'jti' && scope !== 'user' && scope !== 'all') throw badInput(`scope must be one of jti, user, all (got ${JSON.stringify(scope) ?? 'nothing'})`);
  const stray = FOREIGN_ARGS[scope].filter((k) => args[k] !== undefined);
  if (stray.length) throw badInput(`scope ${scope} does not take ${stray.join(', ')}`);
  return scope;
}

/** User ids: Django's are integers, custom user models may use other keys; always a safe charset. */
export function parseUserIds(args: Record<string, unknown>, name = 'user_ids'): string[] {
  const list = stringList(args, name);
  if (!list || list.length === 0) throw badInput(`${name} is required and must not be empty`);
  const where: string[] = [];
  let bad = 0;
  list.forEach((v, i) => {
    if (typeof v !== 'string' || !USER_ID.test(v)) {
      bad += 1;
      if (where.length < 5) where.push(`${name}[${i}]`);
    }
  });
  if (bad) throw badInput(describeInvalid(name, bad, where, '1–128 characters of A-Z a-z 0-9 _ . @ : -'));
  return [...new Set(list as string[])];
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

async function readJtiFile(path: string, hash: Hash, onLine: (line: string, lineNo: number) => void, onChunk: () => void): Promise<void> {
  // latin1: one char per byte, so the hash sees the file's bytes and any non-ASCII byte fails validation.
  const stream = createReadStream(path, { encoding: 'latin1', highWaterMark: 1 << 20 });
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
  }
  if (carry !== '') onLine(carry, lineNo + 1);
}

/** `jtis` and/or the lines of `jtis_file` on this worker, every one valid, with the input's fingerprint. */
export async function parseJtis(args: Record<string, unknown>): Promise<JtiList> {
  const inline = stringList(args, 'jtis');
  const file = optionalString(args, 'jtis_file', 4096);
  if (inline === undefined && file === undefined) throw badInput('scope jti needs jtis or jtis_file');
  if (file !== undefined && !isAbsolute(file)) throw badInput(`jtis_file must be an absolute path on the worker, got "${file}"`);
  const hash = createHash('sha256');
  const ids: string[] = [];
  const invalid = new InvalidCollector();
  (inline ?? []).forEach((v, i) => {
    if (typeof v !== 'string' || !JTI.test(v)) return invalid.add(`jtis[${i}]`);
    hash.update(`${v}\n`);
    ids.push(v);
  });
  hash.update('\0');
  if (file !== undefined) {
    await readJtiFile(file, hash, (raw, lineNo) => {
      const line = raw.charCodeAt(raw.length - 1) === 13 ? raw.slice(0, -1) : raw; // CRLF
      if (!JTI.test(line)) {
        if (!BLANK.test(line)) invalid.add(`line ${lineNo}`);
        return;
      }
      if (ids.length >= FILE_MAX) throw badInput(`jtis_file: more than ${FILE_MAX} ids; split it over several steps`);
      ids.push(line);
    }, () => activityContext()?.heartbeat(lastHeartbeat())); // alive while reading; what observers see is unchanged
  }
  if (invalid.count) throw badInput(describeInvalid(file === undefined ? 'jtis' : 'jtis/jtis_file', invalid.count, invalid.where, '1–255 printable ASCII characters, no whitespace'));
  if (ids.length === 0) throw badInput('scope jti: no jtis given (the list and the file are empty)');
  return { ids, fingerprint: hash.digest('hex').slice(0, 16) };
}

