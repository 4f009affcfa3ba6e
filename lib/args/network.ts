/**
 * The argument rules of network.ban_ips / network.unban_ips, in one place:
 * the actions' schemas (./action-rules.ts) run them on inline addresses at the
 * front door, in the worker's pre-flight and at the activity's entry; the ban
 * activity runs them again with the lines of `addresses_file`.
 */
import { formatNetwork, networksOverlap, tryParseNetwork, type IpNetwork } from '../ip.js';
import { inputFileProblem } from './rules.js';

export const MIN_TTL_SECONDS = 60;
export const MAX_TTL_SECONDS = 30 * 24 * 3600;
/** Inline `addresses` of a ban; bulk goes through `addresses_file`. */
export const MAX_INLINE_BAN = 10_000;
/** Inline `addresses` of an unban (an undo carries up to this many; more go through `from_record`). */
export const MAX_INLINE_UNBAN = 20_000;

/** Never banned, whatever the target says: loopback and the unspecified addresses. */
const ALWAYS_PROTECTED: ReadonlyArray<[string, string]> = [
  ['127.0.0.0/8', 'loopback'],
  ['::1/128', 'loopback'],
  ['0.0.0.0/32', 'the unspecified address'],
  ['::/128', 'the unspecified address'],
];

/** The target's ban policy (config `network`). */
export interface BanPolicy {
  targetName: string;
  minPrefixV4: number;
  minPrefixV6: number;
  neverBan: readonly string[];
}

export interface AddressEntry {
  text: string;
  /** Index in `addresses`, or line number in `file`. */
  at: number;
  file?: string;
}

export interface ParsedNetworks {
  /** Canonical CIDR → network, deduplicated, in input order. */
  byCanonical: Map<string, IpNetwork>;
  /** The canonical CIDRs, same order. */
  canonical: string[];
}

/** Where an entry came from, for messages: `addresses[3]` or `/path/file:17`. */
function where(e: AddressEntry): string {
  return e.file === undefined ? `addresses[${e.at}]` : `${e.file}:${e.at}`;
}

function show(text: string): string {
  return JSON.stringify(text.length > 48 ? `${text.slice(0, 48)}…` : text);
}

/** Any argument value, quoted and shortened for a message. */
export function showValue(value: unknown): string {
  if (typeof value === 'string') return show(value);
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 48 ? `${json.slice(0, 48)}…` : json;
}

/** The inline `addresses` as entries; shape problems are added to `problems`. */
export function inlineEntries(args: Record<string, unknown>, maxInline: number, problems: string[]): AddressEntry[] {
  const entries: AddressEntry[] = [];
  const inline = args.addresses;
  if (inline === undefined) return entries;
  if (!Array.isArray(inline)) problems.push('addresses must be a list of strings');
  else if (inline.length > maxInline) problems.push(`addresses has ${inline.length} entries, at most ${maxInline} inline: use addresses_file for bulk`);
  else {
    inline.forEach((value: unknown, i) => {
      if (typeof value !== 'string') problems.push(`addresses[${i}] is not a string`);
      else entries.push({ text: value.trim(), at: i });
    });
  }
  return entries;
}

/** `addresses_file` when its name is acceptable (the file itself is on the worker, in its inputs folder). */
export function addressFileArg(args: Record<string, unknown>, problems: string[]): string | undefined {
  const file = args.addresses_file;
  const problem = inputFileProblem('addresses_file', file);
  if (problem) problems.push(problem);
  return problem || typeof file !== 'string' ? undefined : file;
}

/** The lines of an address file as entries (comments after `#` and blank lines ignored). */
export function fileEntries(file: string, text: string, maxEntries: number, problems: string[]): AddressEntry[] {
  const entries: AddressEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i] as string;
    const hash = line.indexOf('#');
    const body = (hash < 0 ? line : line.slice(0, hash)).trim();
    if (!body) continue;
    if (entries.length >= maxEntries) {
      problems.push(`addresses_file ${file} has more than ${maxEntries} entries`);
      break;
    }
    entries.push({ text: body, at: i + 1, file });
  }
  return entries;
}

export function banTtl(args: Record<string, unknown>, defaultTtl: number | undefined, problems: string[]): number {
  const ttlArg = args.ttl_seconds ?? defaultTtl;
  if (ttlArg === undefined) return Number.NaN;
  const ttl = typeof ttlArg === 'number' && Number.isInteger(ttlArg) ? ttlArg : Number.NaN;
  if (!(ttl >= MIN_TTL_SECONDS && ttl <= MAX_TTL_SECONDS)) {
    problems.push(`ttl_seconds must be a whole number of seconds from ${MIN_TTL_SECONDS} to ${MAX_TTL_SECONDS} (30 days), got ${showValue(ttlArg)}`);
  }
  return ttl;
}

/** Networks no ban may overlap: the built-in ones and the target's `network.neverBan`. */
function protectedNetworks(policy: BanPolicy | undefined, problems: string[]): Array<{ net: IpNetwork; label: string }> {
  const out = ALWAYS_PROTECTED.map(([cidr, label]) => {
    const r = tryParseNetwork(cidr);
    if ('error' in r) throw new Error(`built-in protected network ${cidr}: ${r.error}`);
    return { net: r.network, label: `${cidr} (${label})` };
  });
  for (const text of policy?.neverBan ?? []) {
    // Host bits in the protection list protect the whole network: never less than written.
    const r = tryParseNetwork(text.trim(), { maskHostBits: true });
    if ('error' in r) problems.push(`target "${policy?.targetName}" network.neverBan has an invalid entry, so nothing can be banned safely until it is fixed: ${r.error}`);
    else out.push({ net: r.network, label: `${formatNetwork(r.network)} (target network.neverBan)` });
  }
  return out;
}

/** Judge each entry: `onBad` gets the entry and why it cannot be banned (or parsed); the good ones are returned deduplicated. */
function judgeEntries(entries: AddressEntry[], protect: Array<{ net: IpNetwork; label: string }>, policy: BanPolicy | undefined, onBad: (e: AddressEntry, why: string) => void): ParsedNetworks {
  const seen = new Map<string, IpNetwork>();
  for (const e of entries) {
    // A file's lines are never quoted back: the file may not hold what its name says (a key file, say).
    const fromFile = e.file !== undefined;
    const r = tryParseNetwork(e.text);
    if ('error' in r) {
      onBad(e, fromFile ? 'not an IP address or CIDR network (the line is not shown)' : r.error);
      continue;
    }
    const net = r.network;
    const canonical = formatNetwork(net);
    const subject = fromFile ? `an IPv${net.version} /${net.prefix} network` : canonical;
    let why: string | undefined;
    const min = policy ? (net.version === 4 ? policy.minPrefixV4 : policy.minPrefixV6) : undefined;
    if (min !== undefined && net.prefix < min) {
      why = `${subject} is broader than /${min}, the broadest IPv${net.version} ban allowed on target "${policy?.targetName}" (network.minPrefixV${net.version})`;
    } else {
      const hit = protect.find((p) => networksOverlap(p.net, net));
      if (hit) why = `${subject} overlaps ${hit.label}, which is never banned`;
    }
    if (why) onBad(e, why);
    else if (!seen.has(canonical)) seen.set(canonical, net);
  }
  return { byCanonical: seen, canonical: [...seen.keys()] };
}

/** Parse and deduplicate; without a policy only syntax and the built-in protected networks are checked. */
export function parseEntries(entries: AddressEntry[], problems: string[], ban?: { policy?: BanPolicy }): ParsedNetworks {
  const protect = ban ? protectedNetworks(ban.policy, problems) : [];
  return judgeEntries(entries, protect, ban?.policy, (e, why) => problems.push(`${where(e)}: ${why}`));
}

/** One problem of an entry, with where it is: `addresses[3]` → ['addresses', 3]; a file line → ['addresses_file']. */
export interface EntryIssue {
  path: Array<string | number>;
  message: string;
}

/** parseEntries' problems with the argument path of each; a config problem (network.neverBan) has an empty path. */
export function entryIssues(entries: AddressEntry[], ban?: { policy?: BanPolicy }): EntryIssue[] {
  const config: string[] = [];
  const protect = ban ? protectedNetworks(ban.policy, config) : [];
  const out: EntryIssue[] = config.map((message) => ({ path: [], message }));
  judgeEntries(entries, protect, ban?.policy, (e, why) => out.push({ path: e.file === undefined ? ['addresses', e.at] : ['addresses_file'], message: `${where(e)}: ${why}` }));
  return out;
}
