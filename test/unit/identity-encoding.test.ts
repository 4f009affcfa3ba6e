import { describe, expect, it } from 'vitest';
import { decodeBase64, encodeBase64 } from '../../lib/identity/base64.js';
import { parseInstant, parseStrictInstant } from '../../lib/identity/time.js';

describe('base64 (sandbox-safe, strict)', () => {
  it('agrees with Buffer for every length up to 40, both variants', () => {
    for (let n = 0; n <= 40; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 97 + n * 31) & 0xff);
      const std = Buffer.from(bytes).toString('base64');
      const url = Buffer.from(bytes).toString('base64url');
      expect(encodeBase64(bytes)).toBe(std);
      expect(encodeBase64(bytes, 'url')).toBe(url);
      expect(decodeBase64(std)).toEqual(bytes);
      expect(decodeBase64(url, 'url')).toEqual(bytes);
    }
  });

  it('accepts one spelling per byte string', () => {
    expect(decodeBase64('AA==')).toEqual(new Uint8Array([0]));
    expect(decodeBase64('AB==')).toBeUndefined(); // non-zero unused bits: also "AA=="
    expect(decodeBase64('AAB=')).toBeUndefined();
    expect(decodeBase64('AAB', 'url')).toBeUndefined();
    expect(decodeBase64('AA')).toBeUndefined(); // standard needs padding
    expect(decodeBase64('AA==', 'url')).toBeUndefined(); // url has none
    expect(decodeBase64('A', 'url')).toBeUndefined();
    expect(decodeBase64('A===')).toBeUndefined();
    expect(decodeBase64('-_8=')).toBeUndefined();
    expect(decodeBase64('+/8', 'url')).toBeUndefined();
    expect(decodeBase64('AA AA==')).toBeUndefined();
    expect(decodeBase64('=AAA')).toBeUndefined();
  });
});

describe('ISO instants (no clock)', () => {
  it('strict: exactly what toISOString writes', () => {
    expect(parseStrictInstant('2025-03-04T10:00:00.000Z')).toBe(Date.UTC(2025, 2, 4, 10));
    for (const t of ['2025-03-04T10:00:00Z', '2025-03-04T10:00:00.000+00:00', '2025-13-01T00:00:00.000Z', '2025-02-29T00:00:00.000Z', '0099-01-01T00:00:00.000Z']) {
      expect(parseStrictInstant(t), t).toBeUndefined();
    }
  });

  it('lenient: seconds and fraction optional, Z or an offset; impossible dates refused', () => {
    expect(parseInstant('2025-03-04T10:00Z')).toBe(Date.UTC(2025, 2, 4, 10));
    expect(parseInstant('2025-03-04T10:00:00.5Z')).toBe(Date.UTC(2025, 2, 4, 10, 0, 0, 500));
    expect(parseInstant('2025-03-04T10:00:00.123456789Z')).toBe(Date.UTC(2025, 2, 4, 10, 0, 0, 123));
    expect(parseInstant('2025-03-04T11:30:00+01:30')).toBe(Date.UTC(2025, 2, 4, 10));
    expect(parseInstant('2025-03-04T08:00:00-02:00')).toBe(Date.UTC(2025, 2, 4, 10));
    for (const t of ['2025-03-04', '2025-03-04T10:00:00', '2025-04-31T00:00Z', '2025-03-04T24:00Z', '2025-03-04T10:60Z', '2025-03-04T10:00+24:00', 'now']) {
      expect(parseInstant(t), t).toBeUndefined();
    }
  });
});
