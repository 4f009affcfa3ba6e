import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { ED25519_TORSION_SUBGROUP, ed25519 } from '@noble/curves/ed25519';
import { sha512 } from '@noble/hashes/sha2';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils';
import { describe, expect, it } from 'vitest';
import { isStrictPublicKey, publicKeyOf, signEd25519, verifyEd25519 } from '../../lib/identity/ed25519.js';

// RFC 8032 section 7.1, TEST 1–3 (secret key, public key, message, signature).
const RFC8032 = [
  {
    name: 'TEST 1 (empty message)',
    secret: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    public: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    name: 'TEST 2 (one byte)',
    secret: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    public: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    name: 'TEST 3 (two bytes)',
    secret: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    public: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature: '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
];

const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function le(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

function leNumber(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] as number);
  return n;
}

const cat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(parts.flatMap((p) => [...p]));

describe('Ed25519: RFC 8032 test vectors', () => {
  for (const v of RFC8032) {
    it(`${v.name}: public key, signature and verification`, () => {
      const seed = hexToBytes(v.secret);
      const message = hexToBytes(v.message);
      expect(bytesToHex(publicKeyOf(seed))).toBe(v.public);
      expect(bytesToHex(signEd25519(message, seed))).toBe(v.signature);
      expect(verifyEd25519(hexToBytes(v.signature), message, hexToBytes(v.public))).toBe(true);
    });
  }

  it('agrees with Node (OpenSSL) on a signature made here', () => {
    const seed = hexToBytes(RFC8032[2]!.secret);
    const message = utf8ToBytes('cross-check');
    const spki = cat(hexToBytes('302a300506032b6570032100'), publicKeyOf(seed));
    const key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    expect(nodeVerify(null, message, key, signEd25519(message, seed))).toBe(true);
  });
});

describe('Ed25519: strict verification', () => {
  const v = RFC8032[1]!;
  const pk = hexToBytes(v.public);
  const msg = hexToBytes(v.message);
  const sig = hexToBytes(v.signature);

  it('refuses a mutated message, signature or key', () => {
    expect(verifyEd25519(sig, new Uint8Array([0x73]), pk)).toBe(false);
    expect(verifyEd25519(sig, new Uint8Array([0x72, 0x00]), pk)).toBe(false);
    for (const i of [0, 31, 32, 63]) {
      const bad = sig.slice();
      bad[i] = (bad[i] as number) ^ 0x01;
      expect(verifyEd25519(bad, msg, pk)).toBe(false);
    }
    expect(verifyEd25519(sig, msg, hexToBytes(RFC8032[0]!.public))).toBe(false);
  });

  it('refuses wrong lengths without throwing', () => {
    expect(verifyEd25519(sig.subarray(0, 63), msg, pk)).toBe(false);
    expect(verifyEd25519(cat(sig, new Uint8Array(1)), msg, pk)).toBe(false);
    expect(verifyEd25519(sig, msg, pk.subarray(0, 31))).toBe(false);
  });

  it('refuses a non-canonical S (S + L), which lax verifiers take as the same signature', () => {
    const s = leNumber(sig.subarray(32));
    const malleated = cat(sig.subarray(0, 32), le(s + L));
    expect(verifyEd25519(malleated, msg, pk)).toBe(false);
    expect(verifyEd25519(cat(sig.subarray(0, 32), le(L)), msg, pk)).toBe(false);
  });

  it('refuses every small-order public key, and the any-message forgery they allow', () => {
    for (const hex of ED25519_TORSION_SUBGROUP) expect(isStrictPublicKey(hexToBytes(hex))).toBe(false);
    // Identity key, R = identity, S = 0: [S]B = R + [k]A holds for every message.
    const identity = hexToBytes(ED25519_TORSION_SUBGROUP[0]!);
    const forged = cat(identity, new Uint8Array(32));
    const message = utf8ToBytes('lockdown ON');
    expect(ed25519.verify(forged, message, identity)).toBe(true); // what a ZIP-215 verifier accepts
    expect(verifyEd25519(forged, message, identity)).toBe(false);
  });

  it('refuses a small-order R, which the cofactored equation alone accepts', () => {
    const seed = hexToBytes(RFC8032[0]!.secret);
    const A = publicKeyOf(seed);
    const a = ed25519.utils.getExtendedPublicKey(seed).scalar;
    const R = hexToBytes(ED25519_TORSION_SUBGROUP[1]!);
    const message = utf8ToBytes('second form');
    const k = leNumber(sha512(cat(R, A, message))) % L;
    const odd = cat(R, le((k * a) % L));
    expect(ed25519.verify(odd, message, A, { zip215: false })).toBe(true);
    expect(verifyEd25519(odd, message, A)).toBe(false);
  });

  it('refuses non-canonical point encodings (y ≥ p, negative zero)', () => {
    // y = 3 is a curve point of large order; y + p encodes it a second way.
    const canonical = le(3n);
    const twin = le(3n + P);
    expect(isStrictPublicKey(canonical)).toBe(true);
    expect(() => ed25519.Point.fromBytes(twin, true)).not.toThrow(); // ZIP-215 decodes it
    expect(isStrictPublicKey(twin)).toBe(false);
    const negativeZero = le(1n);
    negativeZero[31] = 0x80;
    expect(isStrictPublicKey(negativeZero)).toBe(false);
    // A signature whose R is the twin encoding.
    expect(verifyEd25519(cat(twin, new Uint8Array(32)), msg, pk)).toBe(false);
  });

  it('refuses a key that is not a curve point', () => {
    // y = 2 has no x on the curve.
    expect(isStrictPublicKey(le(2n))).toBe(false);
    expect(verifyEd25519(sig, msg, le(2n))).toBe(false);
  });
});
