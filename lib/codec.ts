/**
 * AES-256-GCM payload codec: Temporal only ever stores ciphertext for workflow inputs,
 * results, signals and memos; workers, clients and the codec server hold the keys.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
// @temporalio/proto is CommonJS without named ESM exports: take its module.exports.
import proto from '@temporalio/proto';
import { readSecret } from './config.js';
import type { Config } from './config.js';
import { ConfigError, OperationError } from './errors.js';

const ProtoPayload = proto.temporal.api.common.v1.Payload;

/** `encoding` metadata value marking a payload this codec encrypted. */
export const ENCODING_ENCRYPTED = 'binary/encrypted';
/** Metadata key naming the key a payload was encrypted with. */
export const METADATA_KEY_ID = 'encryption-key-id';
/** Metadata key naming the cipher. */
export const METADATA_CIPHER = 'encryption-cipher';
/** The only cipher this codec writes or reads. */
export const CIPHER_NAME = 'AES256-GCM';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** A payload could not be decrypted (unknown key, unsupported cipher, or failed authentication). */
export class PayloadDecryptionError extends OperationError {
  override name = 'PayloadDecryptionError';
  constructor(
    message: string,
    /** Key id named by the payload, if it named one. */
    readonly keyId?: string,
  ) {
    super(message);
  }
}

/** Options for {@link AesGcmCodec}. */
export interface AesGcmCodecOptions {
  /** Every key that may decrypt, by id; each exactly 32 bytes. */
  keys: Map<string, Buffer>;
  /** Id of the key that encrypts new payloads; must be in `keys`. */
  currentKeyId: string;
}

/**
 * Encrypts each payload whole (metadata included, so the original `encoding` is hidden too)
 * with AES-256-GCM under the current key; decrypts with whichever key the payload names,
 * so old keys keep decrypting history after rotation.
 */
export class AesGcmCodec implements PayloadCodec {
  /** Id of the key used for new payloads. */
  readonly currentKeyId: string;
  readonly #keys: Map<string, Buffer>;

  constructor(opts: AesGcmCodecOptions) {
    const keys = new Map<string, Buffer>();
    for (const [id, key] of opts.keys) {
      if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) {
        throw new ConfigError([`encryption: key "${id}" must be exactly ${KEY_BYTES} bytes`]);
      }
      // Private copy: callers zeroing or reusing their buffer must not change ours.
      keys.set(id, Buffer.from(key));
    }
    if (!keys.has(opts.currentKeyId)) {
      throw new ConfigError([`encryption: current key "${opts.currentKeyId}" is not one of the keys`]);
    }
    this.currentKeyId = opts.currentKeyId;
    this.#keys = keys;
  }

  /** Ids of every key this codec can decrypt with. */
  get keyIds(): string[] {
    return [...this.#keys.keys()];
  }

  /** Encrypt every payload under the current key. */
  async encode(payloads: Payload[]): Promise<Payload[]> {
    const keyId = this.currentKeyId;
    const key = this.#keys.get(keyId) as Buffer;
    const aad = utf8.encode(keyId);
    return payloads.map((payload) => {
      const plaintext = ProtoPayload.encode(payload).finish();
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(aad);
      const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      const data = Buffer.concat([iv, ciphertext, cipher.getAuthTag()]);
      return {
        metadata: {
          encoding: utf8.encode(ENCODING_ENCRYPTED),
          [METADATA_KEY_ID]: utf8.encode(keyId),
          [METADATA_CIPHER]: utf8.encode(CIPHER_NAME),
        },
        data: new Uint8Array(data),
      };
    });
  }

  /** Decrypt payloads this codec encrypted; pass every other payload through unchanged. */
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.#decodeOne(payload));
  }

  #decodeOne(payload: Payload): Payload {
    const metadata = payload.metadata ?? {};
    if (text(metadata.encoding) !== ENCODING_ENCRYPTED) return payload;

    const rawKeyId = metadata[METADATA_KEY_ID];
    if (!rawKeyId || rawKeyId.length === 0) {
      throw new PayloadDecryptionError(`cannot decrypt payload: it names no ${METADATA_KEY_ID}`);
    }
    const keyId = text(rawKeyId) ?? '';
    const shown = showId(keyId);
    const cipherName = text(metadata[METADATA_CIPHER]);
    if (cipherName !== undefined && cipherName !== CIPHER_NAME) {
      throw new PayloadDecryptionError(
        `cannot decrypt payload with key id ${shown}: unsupported cipher ${showId(cipherName)} (expected ${CIPHER_NAME})`,
        keyId,
      );
    }
    const key = this.#keys.get(keyId);
    if (!key) {
      throw new PayloadDecryptionError(
        `cannot decrypt payload: unknown encryption key id ${shown} (this process has: ${this.keyIds.join(', ')})`,
        keyId,
      );
    }
    const data = payload.data ?? new Uint8Array(0);
    if (data.length < IV_BYTES + TAG_BYTES) {
      throw new PayloadDecryptionError(`cannot decrypt payload with key id ${shown}: data is truncated`, keyId);
    }

    let plaintext: Buffer;
    try {
      const iv = data.subarray(0, IV_BYTES);
      const tag = data.subarray(data.length - TAG_BYTES);
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(rawKeyId);
      decipher.setAuthTag(tag);
      plaintext = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new PayloadDecryptionError(
        `cannot decrypt payload with key id ${shown}: authentication failed (wrong key, or the payload or its key id was altered)`,
        keyId,
      );
    }

    let inner: ReturnType<typeof ProtoPayload.decode>;
    try {
      inner = ProtoPayload.decode(plaintext);
    } catch {
      throw new PayloadDecryptionError(`cannot decrypt payload with key id ${shown}: decrypted bytes are not a Payload`, keyId);
    }
    // Plain Uint8Arrays rather than protobufjs Buffers sliced from the plaintext.
    const out: Payload = {
      metadata: Object.fromEntries(Object.entries(inner.metadata ?? {}).map(([k, v]) => [k, new Uint8Array(v)])),
      data: new Uint8Array(inner.data ?? new Uint8Array(0)),
    };
    if (inner.externalPayloads && inner.externalPayloads.length > 0) out.externalPayloads = inner.externalPayloads;
    return out;
  }
}

function text(bytes: Uint8Array | null | undefined): string | undefined {
  return bytes ? utf8Decoder.decode(bytes) : undefined;
}

/** Quote an id taken from a payload for a message: it is untrusted, so bound and escape it. */
function showId(id: string): string {
  return JSON.stringify(id.length > 64 ? `${id.slice(0, 64)}…` : id);
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

/** Build the codec from `config.encryption`, reading every key; undefined when encryption is not configured. */
export function codecFromConfig(config: Readonly<Config>, env: NodeJS.ProcessEnv = process.env): AesGcmCodec | undefined {
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
  return new AesGcmCodec({ keys, currentKeyId: enc.current });
}

/** First 12 hex digits of the key's SHA-256: lets logs tell keys apart without revealing them. */
export function keyFingerprint(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}
