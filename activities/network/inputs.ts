/** Arguments of the network family: addresses inline or in a file on this worker, checked before anything changes. */
import { readFile, stat } from 'node:fs/promises';
import type { TargetConfig } from '../../lib/config.js';
import { addressFileArg, banTtl, fileEntries, inlineEntries, MAX_INLINE_BAN, parseEntries, type AddressEntry, type ParsedNetworks } from '../../lib/args/network.js';
import { badInput } from '../support/failures.js';

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

/** Inline entries and/or the lines of `addresses_file` on this worker. */
export async function collectEntries(args: Record<string, unknown>, maxInline: number, problems: string[]): Promise<AddressEntry[]> {
  const entries = inlineEntries(args, maxInline, problems);
  const file = addressFileArg(args, problems);
  if (file === undefined) return entries;
  const text = await readAddressFile(file, problems);
  return text === undefined ? entries : [...entries, ...fileEntries(file, text, MAX_FILE_ENTRIES, problems)];
}

async function readAddressFile(file: string, problems: string[]): Promise<string | undefined> {
  try {
    const st = await stat(file);
    if (!st.isFile()) {
      problems.push(`addresses_file ${file} is not a regular file`);
      return undefined;
    }
    if (st.size > MAX_FILE_BYTES) {
      problems.push(`addresses_file ${file} is ${st.size} bytes, at most ${MAX_FILE_BYTES}`);
      return undefined;
    }
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    problems.push(code === 'ENOENT' ? `addresses_file ${file} does not exist on this worker` : `addresses_file ${file} cannot be read (${code})`);
    return undefined;
  }
}

/**
 * Every argument of a ban checked with this worker's target config and files:
 * the one validator of network.ban_ips (the ban itself and the incident's
 * up-front validation both call it).
 */
export async function checkBanInput(target: TargetConfig, targetName: string, args: Record<string, unknown>): Promise<{ problems: string[]; ttl: number; parsed: ParsedNetworks }> {
  const problems: string[] = [];
  const ttl = banTtl(args, target.network.banTtlSeconds, problems);
  if (args.reason !== undefined && typeof args.reason !== 'string') problems.push('reason must be a string');
  const entries = await collectEntries(args, MAX_INLINE_BAN, problems);
  const parsed = parseEntries(entries, problems, { policy: { targetName, ...target.network } });
  if (!problems.length && !parsed.canonical.length) problems.push('no addresses to ban (give addresses or addresses_file)');
  return { problems, ttl, parsed };
}
