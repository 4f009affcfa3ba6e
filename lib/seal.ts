/**
 * The one sealing primitive: AES-256-GCM under a named key, as `iv ‖ ciphertext ‖ tag`,
 * authenticating `context ‖ key id` so a sealed value opens neither under another key's
 * name nor in another context. The payload codec (context empty) and the pending secret
 * records (context = the row they belong to) both seal with it, from one keyring.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readSecret, type Config } from './config.js';
import { ConfigError } from './errors.js';

export const KEY_BYTES = 32;
export const IV_BYTES = 12;
export const TAG_BYTES = 16;

const NO_CONTEXT = new Uint8Array(0);
const utf8 = new TextEncoder();

/** Why a sealed value did not open: too short to hold an iv and a tag, or authentication failed. */
export class SealOpenError extends Error {
  override name = 'SealOpenError';
  constructor(readonly reason: 'truncated' | 'authentication') {
    super(reason === 'truncated' ? 'sealed value is truncated' : 'authentication failed');
  }
}

const bytesOf = (v: Uint8Array | string): Uint8Array => (typeof v === 'string' ? utf8.encode(v) : v);
const aadOf = (keyId: Uint8Array | string, context: Uint8Array): Buffer => Buffer.concat([context, bytesOf(keyId)]);

/** Seal `plaintext` under `key` (named `keyId`): `iv ‖ ciphertext ‖ tag`. */
export function seal(key: Buffer, keyId: Uint8Array | string, plaintext: Uint8Array | string, context: Uint8Array = NO_CONTEXT): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aadOf(keyId, context));
  const ciphertext = Buffer.concat([cipher.update(bytesOf(plaintext)), cipher.final()]);
  return Buffer.concat([iv, ciphertext, cipher.getAuthTag()]);
}

/**
 * Open what {@link seal} made with the same key, key id (as the bytes that were sealed
 * with, so an id that is not valid UTF-8 still authenticates as stored) and context.
 */
export function open(key: Buffer, keyId: Uint8Array | string, sealed: Uint8Array, context: Uint8Array = NO_CONTEXT): Buffer {
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new SealOpenError('truncated');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(aadOf(keyId, context));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new SealOpenError('authentication');
  }
}

/** Every key that may open, by id, and the one that seals new values. */
export class Keyring {
  readonly currentId: string;
  readonly #keys: Map<string, Buffer>;

  constructor(keys: ReadonlyMap<string, Buffer>, currentId: string) {
    const own = new Map<string, Buffer>();
    for (const [id, key] of keys) {
      if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) {
        throw new ConfigError([`encryption: key "${id}" must be exactly ${KEY_BYTES} bytes`]);
      }
      // Private copy: callers zeroing or reusing their buffer must not change ours.
      own.set(id, Buffer.from(key));
    }
    if (!own.has(currentId)) throw new ConfigError([`encryption: current key "${currentId}" is not one of the keys`]);
    this.currentId = currentId;
    this.#keys = own;
  }

  /** Ids of every key this ring can open with. */
  get ids(): string[] {
    return [...this.#keys.keys()];
  }

  /** The key named `id`, or undefined. */
  key(id: string): Buffer | undefined {
    return this.#keys.get(id);
  }

  /** Seal under the current key. */
  seal(plaintext: Uint8Array | string, context: Uint8Array = NO_CONTEXT): { keyId: string; sealed: Buffer } {
    return { keyId: this.currentId, sealed: seal(this.#keys.get(this.currentId) as Buffer, this.currentId, plaintext, context) };
  }
}

/**
 * Parse a 32-byte AES key written as base64 (44 characters; URL-safe and unpadded forms accepted) or hex
 * (64 characters). Surrounding whitespace is ignored. Errors name the key id, never the value.
 */
export function parseKey(textValue: string, keyId = '(unnamed)'): Buffer {
  const s = textValue.trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(s)) key = Buffer.from(s, 'hex');
  else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(s)) key = Buffer.from(s, 'base64');
  if (!key || key.length !== KEY_BYTES) {
    throw new ConfigError([
      `config: encryption key "${keyId}" must be ${KEY_BYTES} bytes written as base64 (44 characters) or hex (64 characters); got ${s.length} characters`,
    ]);
  }
  return key;
}

/** The keyring of `config.encryption`, every key read; undefined when encryption is not configured. Problems are listed together. */
export function keyringFromConfig(config: Readonly<Config>, env: NodeJS.ProcessEnv = process.env): Keyring | undefined {
  const enc = config.encryption;
  if (!enc) return undefined;
  const keys = new Map<string, Buffer>();
  const problems: string[] = [];
  for (const { id, secret } of enc.keys) {
    if (keys.has(id)) {
      problems.push(`config: encryption.keys: key id "${id}" appears more than once`);
      continue;
    }
    try {
      keys.set(id, parseKey(readSecret(secret, env), id));
    } catch (err) {
      if (err instanceof ConfigError) problems.push(...err.problems);
      else throw err;
    }
  }
  if (!problems.length && !keys.has(enc.current)) {
    problems.push(`config: encryption.current: "${enc.current}" is not one of encryption.keys`);
  }
  if (problems.length) throw new ConfigError(problems);
  return new Keyring(keys, enc.current);
}

/** First 12 hex digits of the key's SHA-256: lets logs tell keys apart without revealing them. */
export function keyFingerprint(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}
