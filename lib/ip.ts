/**
 * IP addresses and networks, strictly parsed and printed canonically. Pure (no
 * I/O), shared by the ban activities and the middleware of protected apps.
 *
 * Canonical form: always with a prefix, host bits zero (a CIDR with host bits
 * set is an error, never silently masked), IPv4 dotted decimal, IPv6 RFC 5952
 * (lower case, longest run of two or more zero groups as `::`). IPv4-mapped
 * IPv6 (`::ffff:1.2.3.4`, or a network of prefix ≥ 96 inside `::ffff:0:0/96`)
 * is IPv4, because that is how the kernel and nginx see such a client.
 */

export type IpVersion = 4 | 6;

/** A network: `base` has its host bits zero. A single address is a /32 or /128. */
export interface IpNetwork {
  readonly version: IpVersion;
  readonly base: bigint;
  readonly prefix: number;
}

export interface IpAddress {
  readonly version: IpVersion;
  readonly value: bigint;
}

/** Thrown for text that is not an address or network; the message says why and quotes the input. */
export class IpParseError extends Error {
  override name = 'IpParseError';
}

/** Longest text accepted (`ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128` is 49). */
export const MAX_NETWORK_TEXT = 64;

const BITS: Record<IpVersion, number> = { 4: 32, 6: 128 };
const MAPPED_PREFIX = 0xffffn << 32n; // ::ffff:0:0/96
const V4_PART = /^(0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9a-f]{1,4}$/;

/** Bits in an address of this version (32 or 128). */
export function addressBits(version: IpVersion): number {
  return BITS[version];
}

function quote(text: string): string {
  return JSON.stringify(text.length > 48 ? `${text.slice(0, 48)}…` : text);
}

const V4_FAST = /^(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})$/;

function parseV4(text: string): bigint | string {
  // Fast path for the common, well-formed case (bulk bans parse 100k of these).
  const m = V4_FAST.exec(text);
  if (m) {
    const a = Number(m[1]);
    const b = Number(m[2]);
    const c = Number(m[3]);
    const d = Number(m[4]);
    if (a <= 255 && b <= 255 && c <= 255 && d <= 255) return BigInt(((a * 256 + b) * 256 + c) * 256 + d);
  }
  const parts = text.split('.');
  if (parts.length !== 4) return `${quote(text)} is not an IPv4 address (needs 4 dot-separated parts, has ${parts.length})`;
  for (const part of parts) {
    if (!/^[0-9]+$/.test(part)) return `${quote(text)} is not an IPv4 address (part ${quote(part)} is not a decimal number)`;
    if (!V4_PART.test(part)) return `${quote(text)} is ambiguous: IPv4 part ${quote(part)} has a leading zero (octal?)`;
    if (Number(part) > 255) return `${quote(text)} is not an IPv4 address (part ${part} is over 255)`;
  }
  return `${quote(text)} is not an IPv4 address`;
}

function parseV6(text: string): bigint | string {
  const bad = (why: string) => `${quote(text)} is not an IPv6 address (${why})`;
  const lower = text.toLowerCase();
  const halves = lower.split('::');
  if (halves.length > 2) return bad('"::" may appear only once');
  const groupsOf = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const head = groupsOf(halves[0] as string);
  const tail = halves.length === 2 ? groupsOf(halves[1] as string) : [];
  const words: bigint[] = [];
  // An embedded IPv4 address may only be the very last part.
  const lastGroups = halves.length === 2 ? tail : head;
  const last = lastGroups[lastGroups.length - 1];
  let v4: bigint | undefined;
  if (last !== undefined && last.includes('.')) {
    const parsed = parseV4(last);
    if (typeof parsed === 'string') return bad(`embedded IPv4 part ${quote(last)} is invalid`);
    v4 = parsed;
    lastGroups.pop();
  }
  for (const g of [...head, ...tail]) {
    if (!HEX_GROUP.test(g)) return bad(g === '' ? 'empty group' : `group ${quote(g)} is not 1-4 hex digits`);
  }
  const explicit = head.length + tail.length + (v4 === undefined ? 0 : 2);
  if (halves.length === 2) {
    if (explicit > 7) return bad('too many groups for "::"');
  } else if (explicit !== 8) {
    return bad(`needs 8 groups, has ${explicit}`);
  }
  for (const g of head) words.push(BigInt(`0x${g}`));
  for (let i = explicit; i < 8; i += 1) words.push(0n);
  for (const g of tail) words.push(BigInt(`0x${g}`));
  let value = 0n;
  for (const w of words) value = (value << 16n) | w;
  if (v4 !== undefined) value = (value << 32n) | v4;
  return value;
}

/** Parse one address (no prefix). IPv4-mapped IPv6 becomes IPv4. @throws IpParseError */
export function parseAddress(text: string): IpAddress {
  const result = parseAddressText(text);
  if (typeof result === 'string') throw new IpParseError(result);
  return result;
}

function parseAddressText(text: string): IpAddress | string {
  if (text.length === 0) return 'empty address';
  if (text.length > MAX_NETWORK_TEXT) return `${quote(text)} is too long to be an address (${text.length} characters)`;
  if (text.includes('%')) return `${quote(text)} is not an IP address (zone ids like %eth0 are not allowed)`;
  if (/[^0-9a-fA-F.:]/.test(text)) return `${quote(text)} is not an IP address (unexpected characters)`;
  if (text.includes(':')) {
    const v = parseV6(text);
    if (typeof v === 'string') return v;
    if (v >> 32n === MAPPED_PREFIX >> 32n) return { version: 4, value: v & 0xffffffffn };
    return { version: 6, value: v };
  }
  const v = parseV4(text);
  return typeof v === 'string' ? v : { version: 4, value: v };
}

// Network masks by prefix length, built once: bulk bans mask 100k addresses.
const NET_MASKS: Record<IpVersion, bigint[]> = {
  4: Array.from({ length: 33 }, (_, p) => ((1n << 32n) - 1n) ^ ((1n << BigInt(32 - p)) - 1n)),
  6: Array.from({ length: 129 }, (_, p) => ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - p)) - 1n)),
};

function netMask(version: IpVersion, prefix: number): bigint {
  return NET_MASKS[version][prefix] as bigint;
}

/** The network of `prefix` bits containing `value`. */
export function networkOf(address: IpAddress, prefix: number): IpNetwork {
  return { version: address.version, base: address.value & netMask(address.version, prefix), prefix };
}

/**
 * Parse an address or CIDR into its network. A single address is a /32 or /128.
 * Host bits set is an error naming the network meant, unless `maskHostBits`.
 * @throws IpParseError
 */
export function parseNetwork(text: string, opts: { maskHostBits?: boolean } = {}): IpNetwork {
  const result = parseNetworkText(text, opts.maskHostBits ?? false);
  if (typeof result === 'string') throw new IpParseError(result);
  return result;
}

/** Like parseNetwork, without throwing: the network, or why not. */
export function tryParseNetwork(text: string, opts: { maskHostBits?: boolean } = {}): { network: IpNetwork } | { error: string } {
  const result = parseNetworkText(text, opts.maskHostBits ?? false);
  return typeof result === 'string' ? { error: result } : { network: result };
}

function parseNetworkText(text: string, maskHostBits: boolean): IpNetwork | string {
  if (text.length === 0) return 'empty entry';
  if (text.length > MAX_NETWORK_TEXT) return `${quote(text)} is too long (${text.length} characters) to be an address or CIDR`;
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const prefixText = slash < 0 ? undefined : text.slice(slash + 1);
  const addr = parseAddressText(addrText);
  if (typeof addr === 'string') return slash < 0 ? addr : `${quote(text)}: ${addr}`;
  if (prefixText === undefined) return { version: addr.version, base: addr.value, prefix: BITS[addr.version] };
  if (!/^[0-9]{1,3}$/.test(prefixText)) return `${quote(text)}: prefix ${quote(`/${prefixText}`)} is not a number of bits`;
  let prefix = Number(prefixText);
  // A mapped address was turned into IPv4; its prefix counts the 96 bits of ::ffff:0:0 too.
  const writtenAsV6 = addrText.includes(':');
  const max = writtenAsV6 ? 128 : 32;
  if (prefix > max) return `${quote(text)}: prefix /${prefix} is longer than ${max} bits (${writtenAsV6 ? 'IPv6' : 'IPv4'})`;
  let value = addr.value;
  let version = addr.version;
  if (writtenAsV6 && version === 4) {
    if (prefix >= 96) prefix -= 96;
    else {
      version = 6;
      value = MAPPED_PREFIX | addr.value;
    }
  }
  const net = { version, base: value & netMask(version, prefix), prefix };
  if (net.base !== value && !maskHostBits) {
    return `${quote(text)} has host bits set (did you mean ${formatNetwork(net)}?)`;
  }
  return net;
}

function formatV4(value: bigint): string {
  const n = Number(value);
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function formatV6(value: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i -= 1) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952 4.2: the longest run of 2+ zero groups becomes "::" (the first on a tie).
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j += 1;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Canonical text of an address (RFC 5952 for IPv6). */
export function formatAddress(address: IpAddress): string {
  return address.version === 4 ? formatV4(address.value) : formatV6(address.value);
}

/** Canonical CIDR text: `203.0.113.7/32`, `2001:db8::/48`. */
export function formatNetwork(net: IpNetwork): string {
  return `${formatAddress({ version: net.version, value: net.base })}/${net.prefix}`;
}

/** Canonical CIDR of an address or CIDR text. @throws IpParseError */
export function canonicalNetwork(text: string): string {
  return formatNetwork(parseNetwork(text));
}

/** Does `outer` contain all of `inner`? (IPv4 and the IPv4-mapped IPv6 space are one.) */
export function networkContains(outer: IpNetwork, inner: IpNetwork): boolean {
  if (outer.version === inner.version) return outer.prefix <= inner.prefix && (inner.base & netMask(outer.version, outer.prefix)) === outer.base;
  // Compare in IPv6, an IPv4 network being its mapped counterpart (::ffff:a.b.c.d).
  const outerPrefix = outer.version === 4 ? outer.prefix + 96 : outer.prefix;
  const innerPrefix = inner.version === 4 ? inner.prefix + 96 : inner.prefix;
  if (outerPrefix > innerPrefix) return false;
  const outerBase = outer.version === 4 ? MAPPED_PREFIX | outer.base : outer.base;
  const innerBase = inner.version === 4 ? MAPPED_PREFIX | inner.base : inner.base;
  return (innerBase & netMask(6, outerPrefix)) === outerBase;
}

/** Do two networks share any address? Then one contains the other. */
export function networksOverlap(a: IpNetwork, b: IpNetwork): boolean {
  return networkContains(a, b) || networkContains(b, a);
}

/** Order: IPv4 before IPv6, then by address, then broader first. */
export function compareNetworks(a: IpNetwork, b: IpNetwork): number {
  if (a.version !== b.version) return a.version - b.version;
  if (a.base !== b.base) return a.base < b.base ? -1 : 1;
  return a.prefix - b.prefix;
}

/**
 * The canonical networks of every prefix length from the minimum to the full
 * length that contain `ip`, broadest first: the ban keys a middleware looks up
 * (one MGET) to decide whether a client is banned. IPv4-mapped IPv6 clients
 * are looked up as IPv4.
 *
 * `coveringNetworks('203.0.113.7', 30, 48)` →
 * `['203.0.113.4/30', '203.0.113.6/31', '203.0.113.7/32']`
 * @throws IpParseError when `ip` is not a single address
 */
export function coveringNetworks(ip: string, minPrefixV4: number, minPrefixV6: number): string[] {
  const address = parseAddress(ip);
  const bits = BITS[address.version];
  const min = Math.max(0, Math.min(bits, Math.trunc(address.version === 4 ? minPrefixV4 : minPrefixV6)));
  const out: string[] = [];
  for (let p = min; p <= bits; p += 1) out.push(formatNetwork(networkOf(address, p)));
  return out;
}
