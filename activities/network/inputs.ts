/** Arguments of the network family: addresses inline (the schema's) or in a file on this worker (judged here), before anything changes. */
import type { TargetConfig } from '../../lib/config.js';
import { addressFileArg, fileEntries, inlineEntries, MAX_INLINE_BAN, parseEntries, type AddressEntry, type ParsedNetworks } from '../../lib/args/network.js';
import type { ArgsOf } from '../../lib/args/schemas.js';
import { badInput } from '../support/failures.js';
import { openInputFile } from '../support/input-file.js';

const MAX_FILE_BYTES = 64 * 1024 * 1024;
const MAX_FILE_ENTRIES = 1_000_000;
const PROBLEMS_SHOWN = 5;

/** The one refusal of a network action: every problem counted, the first few named; nothing was changed. */
export function refuse(action: string, problems: string[]): ReturnType<typeof badInput> {
  const shown = problems.slice(0, PROBLEMS_SHOWN).join('; ');
  const more = problems.length > PROBLEMS_SHOWN ? `; and ${problems.length - PROBLEMS_SHOWN} more` : '';
  const what = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  return badInput(`${action} refused, nothing was changed: ${what}: ${shown}${more}`, { problems: problems.slice(0, 100), count: problems.length });
}

/**
 * The inline entries and the lines of `addresses_file` on this worker. The
 * inline list's shape is the schema's (checked at the activity's entry and in
 * the pre-flight); only the file's problems are added to `problems`.
 */
async function collectEntries(inputsDir: string, args: ArgsOf<'network.ban_ips'>, problems: string[]): Promise<AddressEntry[]> {
  const entries = inlineEntries(args, MAX_INLINE_BAN, []);
  const file = addressFileArg(args, problems);
  if (file === undefined) return entries;
  const text = await readAddressFile(inputsDir, file, problems);
  return text === undefined ? entries : [...entries, ...fileEntries(file, text, MAX_FILE_ENTRIES, problems)];
}

async function readAddressFile(inputsDir: string, file: string, problems: string[]): Promise<string | undefined> {
  const opened = await openInputFile(inputsDir, 'addresses_file', file);
  if ('problem' in opened) {
    problems.push(opened.problem);
    return undefined;
  }
  try {
    if (opened.size > MAX_FILE_BYTES) {
      problems.push(`addresses_file ${file} is ${opened.size} bytes, at most ${MAX_FILE_BYTES}`);
      return undefined;
    }
    return await opened.handle.readFile('utf8');
  } catch (err) {
    problems.push(`addresses_file ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    return undefined;
  } finally {
    await opened.handle.close();
  }
}

/**
 * A ban's addresses judged with this worker's target config and files: the
 * ban itself and the incident's up-front validation both call it, for what
 * the action's schema cannot see (the lines of `addresses_file`, an empty
 * file). The schema judged the rest (ttl, reason, the inline list) beforehand.
 */
export async function checkBanInput(target: TargetConfig, targetName: string, args: ArgsOf<'network.ban_ips'>, inputsDir: string): Promise<{ problems: string[]; ttl: number; parsed: ParsedNetworks }> {
  const problems: string[] = [];
  const ttl = args.ttl_seconds ?? target.network.banTtlSeconds;
  const entries = await collectEntries(inputsDir, args, problems);
  const parsed = parseEntries(entries, problems, { policy: { targetName, ...target.network } });
  if (!problems.length && !parsed.canonical.length) problems.push('no addresses to ban (give addresses or addresses_file)');
  return { problems, ttl, parsed };
}
