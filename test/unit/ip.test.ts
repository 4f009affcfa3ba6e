/** lib/ip.ts: strict parsing, canonical forms, host-bit errors, overlaps, covering networks. */
import { describe, expect, it } from 'vitest';
import {
  canonicalNetwork,
  compareNetworks,
  coveringNetworks,
  formatAddress,
  IpParseError,
  networkContains,
  networksOverlap,
  parseAddress,
  parseNetwork,
  tryParseNetwork,
} from '../../lib/ip.js';

describe('canonical forms', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7/32'],
    ['203.0.113.7/32', '203.0.113.7/32'],
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['255.255.255.255', '255.255.255.255/32'],
    ['2001:DB8::1', '2001:db8::1/128'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1/128'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1/128'], // first of two equal runs
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1/128'], // a single zero group is not compressed
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1/128'], // the longest run wins
    ['::', '::/128'],
    ['::1', '::1/128'],
    ['1::', '1::/128'],
    ['::/0', '::/0'],
    ['2001:db8::/32', '2001:db8::/32'],
    ['2001:db8:abcd:12::/64', '2001:db8:abcd:12::/64'],
    ['fe80::1:2:3:4', 'fe80::1:2:3:4/128'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8/128'],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304/128'],
  ])('%s → %s', (text, canonical) => {
    expect(canonicalNetwork(text)).toBe(canonical);
  });

  it('treats IPv4-mapped IPv6 as IPv4, in both notations, with prefixes ≥ 96 shifted', () => {
    expect(canonicalNetwork('::ffff:1.2.3.4')).toBe('1.2.3.4/32');
    expect(canonicalNetwork('::FFFF:0102:0304')).toBe('1.2.3.4/32');
    expect(canonicalNetwork('::ffff:1.2.3.4/128')).toBe('1.2.3.4/32');
    expect(canonicalNetwork('::ffff:10.1.0.0/112')).toBe('10.1.0.0/16');
    expect(canonicalNetwork('::ffff:0:0/96')).toBe('0.0.0.0/0');
    expect(parseAddress('::ffff:203.0.113.7')).toEqual({ version: 4, value: 0xcb007107n });
    // Below /96 the network is wider than the mapped space: it stays IPv6.
    expect(canonicalNetwork('::fffe:0:0/95')).toBe('::fffe:0:0/95');
    expect(() => canonicalNetwork('::ffff:0:0/95')).toThrow('did you mean ::fffe:0:0/95?');
  });

  it('formats addresses', () => {
    expect(formatAddress(parseAddress('2001:db8::'))).toBe('2001:db8::');
    expect(formatAddress(parseAddress('10.20.30.40'))).toBe('10.20.30.40');
  });
});

describe('refusals', () => {
  it.each([
    ['', /empty/],
    ['1.2.3', /needs 4 dot-separated parts/],
    ['1.2.3.4.5', /needs 4/],
    ['256.1.1.1', /256 is over 255/],
    ['01.2.3.4', /leading zero/],
    ['1.2.3.-4', /unexpected characters/],
    ['1.2.3.4/33', /longer than 32 bits/],
    ['2001:db8::/129', /longer than 128 bits/],
    ['1.2.3.4/', /not a number of bits/],
    ['1.2.3.4/-1', /not a number of bits/],
    ['1.2.3.4/1000', /not a number of bits/],
    ['1.2.3.4/8/8', /not a number of bits/],
    ['::gg', /unexpected characters/],
    ['1::2::3', /may appear only once/],
    ['1:::2', /empty group/],
    [':1::2', /empty group/],
    ['1:2:3:4:5:6:7', /needs 8 groups/],
    ['1:2:3:4:5:6:7:8:9', /needs 8 groups/],
    ['1:2:3:4:5:6:7::8', /too many groups/],
    ['12345::', /not 1-4 hex digits/],
    ['1.2.3.4::', /not 1-4 hex digits/],
    ['::1.2.3', /embedded IPv4 part/],
    ['fe80::1%eth0', /zone ids/],
    ['1.2.3.4; rm -rf /', /unexpected characters/],
    ['1.2.3.4\n deny all', /unexpected characters/],
    [' 1.2.3.4', /unexpected characters/],
    ['x'.repeat(200), /too long/],
    ['localhost', /unexpected characters/],
  ])('%j is refused', (text, why) => {
    expect(() => parseNetwork(text)).toThrow(IpParseError);
    expect(() => parseNetwork(text)).toThrow(why);
  });

  it('host bits set are an error naming the network meant', () => {
    expect(() => parseNetwork('10.1.2.3/8')).toThrow('"10.1.2.3/8" has host bits set (did you mean 10.0.0.0/8?)');
    expect(() => parseNetwork('2001:db8::1/32')).toThrow('did you mean 2001:db8::/32?');
    expect(() => parseNetwork('::ffff:10.1.2.3/104')).toThrow('did you mean 10.0.0.0/8?');
    expect(canonicalNetwork('10.0.0.0/8')).toBe('10.0.0.0/8');
    expect(parseNetwork('10.1.2.3/8', { maskHostBits: true })).toEqual({ version: 4, base: 0x0a000000n, prefix: 8 });
  });

  it('tryParseNetwork returns the reason instead of throwing', () => {
    expect(tryParseNetwork('1.2.3')).toEqual({ error: expect.stringContaining('"1.2.3" is not an IPv4 address') });
    expect(tryParseNetwork('1.2.3.4')).toEqual({ network: { version: 4, base: 0x01020304n, prefix: 32 } });
  });

  it('quotes control characters and truncates long input in messages', () => {
    const r = tryParseNetwork('1.2.3.4\ndeny all;');
    expect('error' in r && r.error).toContain('"1.2.3.4\\ndeny all;"');
    const long = tryParseNetwork(`1.2.3.4${' '.repeat(100)}`);
    expect('error' in long && long.error.length).toBeLessThan(120);
  });
});

describe('overlap and containment', () => {
  const n = (t: string) => parseNetwork(t);
  it.each([
    ['10.0.0.0/8', '10.1.2.3', true],
    ['10.1.2.3', '10.0.0.0/8', true],
    ['10.0.0.0/8', '11.0.0.0/8', false],
    ['10.0.0.0/16', '10.0.255.255', true],
    ['10.0.0.0/16', '10.1.0.0', false],
    ['0.0.0.0/0', '203.0.113.7', true],
    ['2001:db8::/32', '2001:db8:1::/48', true],
    ['2001:db8::/32', '2001:db9::/32', false],
    ['::/0', '::1', true],
    ['::1', '127.0.0.1', false],
    // IPv4 and the IPv4-mapped IPv6 space are the same addresses.
    ['::fffe:0:0/95', '127.0.0.1', true],
    ['::/64', '127.0.0.0/8', true],
    ['2001:db8::/32', '127.0.0.0/8', false],
  ])('%s and %s overlap: %s', (a, b, want) => {
    expect(networksOverlap(n(a), n(b))).toBe(want);
    expect(networksOverlap(n(b), n(a))).toBe(want);
  });

  it('containment is directional', () => {
    expect(networkContains(n('10.0.0.0/8'), n('10.9.0.0/16'))).toBe(true);
    expect(networkContains(n('10.9.0.0/16'), n('10.0.0.0/8'))).toBe(false);
    expect(networkContains(n('10.9.0.0/16'), n('10.9.0.0/16'))).toBe(true);
  });

  it('sorts IPv4 before IPv6, by address, broader first', () => {
    const list = ['2001:db8::/32', '10.0.0.0/8', '9.9.9.9', '10.0.0.0/16', '::1'].map(n).sort(compareNetworks);
    expect(list.map((x) => canonicalNetwork(`${formatAddress({ version: x.version, value: x.base })}/${x.prefix}`))).toEqual([
      '9.9.9.9/32',
      '10.0.0.0/8',
      '10.0.0.0/16',
      '::1/128',
      '2001:db8::/32',
    ]);
  });
});

describe('coveringNetworks', () => {
  it('lists every network from the minimum prefix to the address itself, broadest first (IPv4)', () => {
    expect(coveringNetworks('203.0.113.7', 30, 48)).toEqual(['203.0.113.4/30', '203.0.113.6/31', '203.0.113.7/32']);
    const all = coveringNetworks('203.0.113.7', 16, 48);
    expect(all).toHaveLength(17);
    expect(all[0]).toBe('203.0.0.0/16');
    expect(all[8]).toBe('203.0.113.0/24');
    expect(all[16]).toBe('203.0.113.7/32');
  });

  it('IPv6 in RFC 5952 form, 81 networks from /48', () => {
    const all = coveringNetworks('2001:DB8:0:0:1::5', 16, 48);
    expect(all).toHaveLength(81);
    expect(all[0]).toBe('2001:db8::/48');
    expect(all[16]).toBe('2001:db8::/64');
    expect(all[80]).toBe('2001:db8::1:0:0:5/128');
    expect(coveringNetworks('::1', 16, 127)).toEqual(['::/127', '::1/128']);
  });

  it('IPv4-mapped clients are looked up as IPv4 (what a dual-stack socket reports)', () => {
    expect(coveringNetworks('::ffff:203.0.113.7', 31, 48)).toEqual(['203.0.113.6/31', '203.0.113.7/32']);
  });

  it('every covering network matches the keys a ban would write', () => {
    const banned = canonicalNetwork('198.51.100.0/24');
    expect(coveringNetworks('198.51.100.77', 16, 48)).toContain(banned);
    expect(coveringNetworks('198.51.101.77', 16, 48)).not.toContain(banned);
  });

  it('refuses a network or garbage, clamps odd minimums', () => {
    expect(() => coveringNetworks('10.0.0.0/8', 16, 48)).toThrow(IpParseError);
    expect(() => coveringNetworks('nope', 16, 48)).toThrow(IpParseError);
    expect(coveringNetworks('1.2.3.4', 99, 48)).toEqual(['1.2.3.4/32']);
    expect(coveringNetworks('1.2.3.4', -5, 48)).toHaveLength(33);
  });
});
