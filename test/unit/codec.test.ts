import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect } from 'vitest';
import type { Payload } from '@temporalio/common';
import { AesGcmCodec, PayloadDecryptionError, codecFromConfig, keyFingerprint, parseKey } from '../../lib/codec.js';
import type { Config } from '../../lib/config.js';
import { ConfigError } from '../../lib/errors.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

const KEY_A = Buffer.alloc(32, 0xa1);
const KEY_B = Buffer.alloc(32, 0xb2);

function jsonPayload(value: unknown): Payload {
  return { metadata: { encoding: enc.encode('json/plain'), 'x-extra': enc.encode('keep me') }, data: enc.encode(JSON.stringify(value)) };
}

function codec(current = 'a', keys: Record<string, Buffer> = { a: KEY_A, b: KEY_B }): AesGcmCodec {
  return new AesGcmCodec({ keys: new Map(Object.entries(keys)), currentKeyId: current });
}

function meta(p: Payload, key: string): string | undefined {
  const v = p.metadata?.[key];
  return v ? dec.decode(v) : undefined;
}

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(haystack).includes(Buffer.from(needle));
}

/** Copy a payload, changing its data or metadata, to simulate tampering. */
function tamper(p: Payload, change: (data: Uint8Array, metadata: Record<string, Uint8Array>) => void): Payload {
  const data = new Uint8Array(p.data as Uint8Array);
  const metadata = { ...(p.metadata ?? {}) };
  change(data, metadata);
  return { metadata, data };
}

describe('AesGcmCodec', () => {
  it('round trips metadata and data exactly', async () => {
    const c = codec();
    const originals = [jsonPayload({ ip: '10.0.0.1', reason: 'credential stuffing' }), { metadata: { encoding: enc.encode('binary/null') } }];
    const encoded = await c.encode(originals);
    const decoded = await c.decode(encoded);
    expect(decoded[0]).toEqual(originals[0]);
    expect(decoded[1]?.metadata).toEqual(originals[1]?.metadata);
    expect(decoded[1]?.data?.length ?? 0).toBe(0);
  });

  it('writes the documented metadata and iv || ciphertext || tag layout', async () => {
    const original = jsonPayload('x');
    const [e] = await codec().encode([original]);
    expect(meta(e!, 'encoding')).toBe('binary/encrypted');
    expect(meta(e!, 'encryption-key-id')).toBe('a');
    expect(meta(e!, 'encryption-cipher')).toBe('AES256-GCM');
    expect(Object.keys(e!.metadata ?? {}).sort()).toEqual(['encoding', 'encryption-cipher', 'encryption-key-id']);
    // 12-byte IV + 16-byte tag around a ciphertext as long as the serialized original.
    expect(e!.data!.length).toBeGreaterThan(12 + 16 + original.data!.length);
  });

  it('uses a fresh IV per payload and leaks no plaintext', async () => {
    const c = codec();
    const secret = 'hunter2-super-secret-password';
    const p = jsonPayload({ secret });
    const [e1, e2] = await c.encode([p, p]);
    const [e3] = await c.encode([p]);
    expect(Buffer.from(e1!.data!).equals(Buffer.from(e2!.data!))).toBe(false);
    expect(Buffer.from(e1!.data!).equals(Buffer.from(e3!.data!))).toBe(false);
    expect(Buffer.from(e1!.data!.subarray(0, 12)).equals(Buffer.from(e2!.data!.subarray(0, 12)))).toBe(false);
    for (const e of [e1!, e2!, e3!]) {
      expect(contains(e.data!, enc.encode(secret))).toBe(false);
      expect(contains(e.data!, enc.encode('json/plain'))).toBe(false);
      expect(contains(e.data!, enc.encode('keep me'))).toBe(false);
    }
  });

  it('handles an empty batch', async () => {
    expect(await codec().encode([])).toEqual([]);
    expect(await codec().decode([])).toEqual([]);
  });

  it('decodes with old keys after rotation and encrypts new payloads with the new key', async () => {
    const p = jsonPayload({ n: 1 });
    const [old] = await codec('a').encode([p]);
    const rotated = codec('b');
    expect(rotated.currentKeyId).toBe('b');
    expect(await rotated.decode([old!])).toEqual([p]);
    const [fresh] = await rotated.encode([p]);
    expect(meta(fresh!, 'encryption-key-id')).toBe('b');
    // A process that dropped the old key can no longer read old payloads.
    await expect(codec('b', { b: KEY_B }).decode([old!])).rejects.toThrow(PayloadDecryptionError);
  });

  it('rejects an unknown key id with a message naming it and no key material', async () => {
    const [e] = await codec('a').encode([jsonPayload(1)]);
    const other = codec('z', { z: KEY_B });
    const err = await other.decode([e!]).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(PayloadDecryptionError);
    expect((err as PayloadDecryptionError).keyId).toBe('a');
    expect((err as Error).message).toContain('"a"');
    expect((err as Error).message).not.toContain(KEY_A.toString('hex'));
    expect((err as Error).message).not.toContain(KEY_A.toString('base64'));
  });

  it('fails authentication when ciphertext, tag, or IV is altered', async () => {
    const c = codec();
    const [e] = await c.encode([jsonPayload({ a: 1 })]);
    const cases = [
      tamper(e!, (d) => void (d[20] = d[20]! ^ 1)), // ciphertext
      tamper(e!, (d) => void (d[d.length - 1] = d[d.length - 1]! ^ 1)), // tag
      tamper(e!, (d) => void (d[0] = d[0]! ^ 1)), // IV
    ];
    for (const bad of cases) {
      await expect(c.decode([bad])).rejects.toThrow(/key id "a".*authentication failed/);
    }
  });

  it('fails authentication when the key id header is swapped, even to an id with the same key', async () => {
    // Same key material under two ids: only the AAD binding catches the swap.
    const c = codec('a', { a: KEY_A, alias: KEY_A, b: KEY_B });
    const [e] = await c.encode([jsonPayload(1)]);
    for (const id of ['alias', 'b']) {
      const swapped = tamper(e!, (_d, m) => void (m['encryption-key-id'] = enc.encode(id)));
      const err = await c.decode([swapped]).catch((x: unknown) => x);
      expect(err).toBeInstanceOf(PayloadDecryptionError);
      expect((err as Error).message).toContain(`"${id}"`);
      expect((err as Error).message).toMatch(/authentication failed/);
    }
  });

  it('rejects truncated data, a missing key id, and a foreign cipher', async () => {
    const c = codec();
    const [e] = await c.encode([jsonPayload(1)]);
    await expect(c.decode([tamper(e!, () => {}), { ...e!, data: e!.data!.subarray(0, 20) }])).rejects.toThrow(/truncated/);
    await expect(c.decode([tamper(e!, (_d, m) => void delete m['encryption-key-id'])])).rejects.toThrow(/names no encryption-key-id/);
    await expect(c.decode([tamper(e!, (_d, m) => void (m['encryption-cipher'] = enc.encode('AES128-CBC')))])).rejects.toThrow(
      /unsupported cipher/,
    );
  });

  it('passes unencrypted payloads through unchanged', async () => {
    const c = codec();
    const plain = jsonPayload({ hello: 'world' });
    const noMeta: Payload = { data: enc.encode('raw') };
    const [e] = await c.encode([jsonPayload(2)]);
    const out = await c.decode([plain, noMeta, e!]);
    expect(out[0]).toBe(plain);
    expect(out[1]).toBe(noMeta);
    expect(out[2]).toEqual(jsonPayload(2));
  });

  it('validates keys and the current id at construction', () => {
    expect(() => codec('a', { a: Buffer.alloc(16) })).toThrow(ConfigError);
    expect(() => codec('missing')).toThrow(/current key "missing"/);
  });

  it('keeps a private copy of the keys', async () => {
    const key = Buffer.from(KEY_A);
    const c = codec('a', { a: key });
    const [e] = await c.encode([jsonPayload(3)]);
    key.fill(0);
    expect(await c.decode([e!])).toEqual([jsonPayload(3)]);
  });
});

describe('parseKey', () => {
  const key = randomBytes(32);

  it('accepts base64 and hex of 32 bytes', () => {
    expect(parseKey(key.toString('base64')).equals(key)).toBe(true);
    expect(parseKey(key.toString('hex')).equals(key)).toBe(true);
    expect(parseKey(key.toString('hex').toUpperCase()).equals(key)).toBe(true);
    expect(parseKey(`  ${key.toString('base64')}\n`).equals(key)).toBe(true);
    expect(parseKey(key.toString('base64url')).equals(key)).toBe(true);
  });

  it('rejects wrong lengths and junk, naming the key id but not the value', () => {
    const bad = [
      randomBytes(16).toString('base64'),
      randomBytes(31).toString('hex'),
      randomBytes(33).toString('hex'),
      randomBytes(48).toString('base64'),
      'z'.repeat(64),
      `${key.toString('base64').slice(0, 43)}!`,
      '',
    ];
    for (const value of bad) {
      let err: unknown;
      try {
        parseKey(value, 'prod-2024');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toContain('"prod-2024"');
      if (value) expect((err as Error).message).not.toContain(value);
    }
  });
});

describe('keyFingerprint', () => {
  it('is 12 hex digits, stable, and differs between keys', () => {
    expect(keyFingerprint(KEY_A)).toMatch(/^[0-9a-f]{12}$/);
    expect(keyFingerprint(KEY_A)).toBe(keyFingerprint(Buffer.from(KEY_A)));
    expect(keyFingerprint(KEY_A)).not.toBe(keyFingerprint(KEY_B));
    expect(KEY_A.toString('hex')).not.toContain(keyFingerprint(KEY_A));
  });
});

describe('codecFromConfig', () => {
  const base = { encryption: undefined } as unknown as Config;

  it('returns undefined without encryption config', () => {
    expect(codecFromConfig(base, {})).toBeUndefined();
  });

  it('reads every key from the given env and file secrets', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'firebreak-codec-'));
    try {
      const file = join(dir, 'key-c');
      const keyC = randomBytes(32);
      writeFileSync(file, `${keyC.toString('hex')}\n`);
      const config = {
        ...base,
        encryption: {
          current: 'new',
          keys: [
            { id: 'old', secret: { env: 'FB_KEY_OLD' } },
            { id: 'new', secret: { env: 'FB_KEY_NEW' } },
            { id: 'file', secret: { file } },
          ],
        },
      } as Config;
      const env = { FB_KEY_OLD: KEY_A.toString('base64'), FB_KEY_NEW: KEY_B.toString('hex') };
      const c = codecFromConfig(config, env)!;
      expect(c).toBeInstanceOf(AesGcmCodec);
      expect(c.currentKeyId).toBe('new');
      expect(c.keyIds.sort()).toEqual(['file', 'new', 'old']);

      // Same key material as a hand-built codec: each decrypts the other's output.
      const [fromOld] = await codec('old', { old: KEY_A }).encode([jsonPayload('o')]);
      const [fromFile] = await codec('file', { file: keyC }).encode([jsonPayload('f')]);
      expect(await c.decode([fromOld!, fromFile!])).toEqual([jsonPayload('o'), jsonPayload('f')]);
      const [mine] = await c.encode([jsonPayload('n')]);
      expect(meta(mine!, 'encryption-key-id')).toBe('new');
      expect(await codec('new', { new: KEY_B }).decode([mine!])).toEqual([jsonPayload('n')]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports missing and malformed keys together, without values', () => {
    const config = {
      ...base,
      encryption: {
        current: 'a',
        keys: [
          { id: 'a', secret: { env: 'FB_KEY_A' } },
          { id: 'b', secret: { env: 'FB_KEY_B' } },
        ],
      },
    } as Config;
    let err: unknown;
    try {
      codecFromConfig(config, { FB_KEY_B: 'not-a-key-value' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toHaveLength(2);
    expect((err as Error).message).toContain('FB_KEY_A');
    expect((err as Error).message).toContain('"b"');
    expect((err as Error).message).not.toContain('not-a-key-value');
  });
});
