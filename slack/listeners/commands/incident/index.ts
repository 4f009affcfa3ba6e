/** The `/incident` subcommands, in the order help lists them, and reading the command text. */
import { UsageError } from '../../../../lib/errors.js';
import { abort } from './abort.js';
import { approve } from './approve.js';
import { declare } from './declare.js';
import { help } from './help.js';
import { list } from './list.js';
import { lockdown } from './lockdown.js';
import { note } from './note.js';
import { resolve } from './resolve.js';
import { retry } from './retry.js';
import { status } from './status.js';
import type { Subcommand } from './types.js';

export const SUBCOMMANDS: readonly Subcommand[] = [help, declare, status, list, approve, abort, resolve, note, retry, lockdown];

/** The longest command text read (a note's limit); longer is refused before anything else. */
export const MAX_TEXT = 4000;

/** The subcommand and its words; throws UsageError naming what is wrong. */
export function parseText(text: unknown, command: string): { sub: Subcommand; words: string[] } {
  if (typeof text !== 'string') throw new UsageError(`no command text: try ${command} help`);
  if (text.length > MAX_TEXT) throw new UsageError(`command text is limited to ${MAX_TEXT} characters (got ${text.length}); nothing was done`);
  const [name = 'help', ...words] = text.trim().split(/\s+/).filter(Boolean);
  const sub = SUBCOMMANDS.find((s) => s.name === name.toLowerCase());
  if (!sub) throw new UsageError(`unknown subcommand "${name.slice(0, 40)}": try ${command} help`);
  return { sub, words };
}
