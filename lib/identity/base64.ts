/**
 * Strict base64 (RFC 4648) without Buffer or atob, so it runs in the workflow sandbox.
 * Decoding accepts one spelling per byte string: padding as the variant says, and the
 * unused low bits of the last character zero, so a key or signature has one text form.
 */
const STANDARD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const URL_SAFE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

export type Base64Variant = 'standard' | 'url';

/** `standard`: `+/` with `=` padding (keys, as OpenSSH prints them); `url`: `-_` without padding (signatures, nonces). */
export function encodeBase64(bytes: Uint8Array, variant: Base64Variant = 'standard'): string {
  const alphabet = variant === 'url' ? URL_SAFE : STANDARD;
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const b0 = bytes[i] as number;
    const b1 = i + 1 < bytes.length ? (bytes[i + 1] as number) : 0;
    const b2 = i + 2 < bytes.length ? (bytes[i + 2] as number) : 0;
    const n = (b0 << 16) | (b1 << 8) | b2;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += i + 1 < bytes.length ? alphabet[(n >> 6) & 63] : variant === 'url' ? '' : '=';
    out += i + 2 < bytes.length ? alphabet[n & 63] : variant === 'url' ? '' : '=';
  }
  return out;
}

/** The bytes of a canonical base64 text, or undefined for anything else. */
export function decodeBase64(text: string, variant: Base64Variant = 'standard'): Uint8Array | undefined {
  const alphabet = variant === 'url' ? URL_SAFE : STANDARD;
  let body = text;
  if (variant === 'standard') {
    if (text.length % 4 !== 0) return undefined;
    if (text.endsWith('==')) body = text.slice(0, -2);
    else if (text.endsWith('=')) body = text.slice(0, -1);
  }
  if (body.length % 4 === 1) return undefined;
  const values: number[] = [];
  for (const ch of body) {
    const v = alphabet.indexOf(ch);
    if (v < 0) return undefined;
    values.push(v);
  }
  const out = new Uint8Array(Math.floor((values.length * 6) / 8));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (const v of values) {
    acc = ((acc << 6) | v) & 0xffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  // Leftover bits must be zero: otherwise two texts would decode to the same bytes.
  if (bits > 0 && (acc & ((1 << bits) - 1)) !== 0) return undefined;
  return out;
}
