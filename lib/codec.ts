/**
 * AES-256-GCM payload codec: Temporal only ever stores ciphertext for workflow inputs,
 * results, signals and memos; workers, clients and the codec server hold the keys.
 */
import type { Payload, PayloadCodec, SerializationContext } from '@temporalio/common';
// @temporalio/proto is CommonJS without named ESM exports: take its module.exports.
import proto from '@temporalio/proto';
import type { Config } from './config.js';
import { ENCODING_REFUSED, METADATA_REFUSED_REASON } from './data-converters.cjs';
import { OperationError } from './errors.js';
import { IV_BYTES, Keyring, SealOpenError, TAG_BYTES, keyringFromConfig, open } from './seal.js';

export { keyFingerprint, parseKey } from './seal.js';

const ProtoPayload = proto.temporal.api.common.v1.Payload;

/** `encoding` metadata value marking a payload this codec encrypted. */
export const ENCODING_ENCRYPTED = 'binary/encrypted';
/** Metadata key naming the key a payload was encrypted with. */
export const METADATA_KEY_ID = 'encryption-key-id';
/** Metadata key naming the cipher. */
export const METADATA_CIPHER = 'encryption-cipher';
/** The only cipher this codec writes or reads. */
export const CIPHER_NAME = 'AES256-GCM';

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

/** What a refusing codec does with a payload it cannot accept. */
export interface RefusalOptions {
  /**
   * Decode a payload that is not encrypted, or does not decrypt, into a refusal marker
   * (`binary/firebreak-refused`) instead of passing it through or throwing. A codec that
   * throws fails the workflow task, retried for ever: any keyless client could freeze an
   * incident. The marker reaches the payload converter, which refuses it where the request
   * can be rejected (an update) or ended cleanly (a start; see lib/refuse-plaintext.ts).
   */
  refuse?: boolean;
  /** Told of each refusal: why (`plaintext` or the decryption problem), whose payload it was, and the payload. */
  onRefused?: (reason: string, context: SerializationContext | undefined, payload: Payload) => void;
}

/**
 * Encrypts each payload whole (metadata included, so the original `encoding` is hidden too)
 * with AES-256-GCM under the current key; decrypts with whichever key the payload names,
 * so old keys keep decrypting history after rotation.
 */
export class AesGcmCodec implements PayloadCodec {
  /** Id of the key used for new payloads. */
  readonly currentKeyId: string;
  readonly #ring: Keyring;
  readonly #refusal: RefusalOptions;

  constructor(opts: AesGcmCodecOptions | Keyring, refusal: RefusalOptions = {}) {
    this.#ring = opts instanceof Keyring ? opts : new Keyring(opts.keys, opts.currentKeyId);
    this.currentKeyId = this.#ring.currentId;
    this.#refusal = refusal;
  }

  /** Whether this codec turns what it cannot accept into refusal markers. */
  get refuses(): boolean {
    return this.#refusal.refuse === true;
  }

  /** Ids of every key this codec can decrypt with. */
  get keyIds(): string[] {
    return this.#ring.ids;
  }

  /** Encrypt every payload under the current key. */
  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      // `data` is iv ‖ ciphertext ‖ tag; the key id (metadata) is authenticated with it.
      const { keyId, sealed } = this.#ring.seal(ProtoPayload.encode(payload).finish());
      return {
        metadata: {
          encoding: utf8.encode(ENCODING_ENCRYPTED),
          [METADATA_KEY_ID]: utf8.encode(keyId),
          [METADATA_CIPHER]: utf8.encode(CIPHER_NAME),
        },
        data: new Uint8Array(sealed),
      };
    });
  }

  /**
   * Decrypt payloads this codec encrypted. Any other payload passes through unchanged, and one
   * that does not decrypt throws — unless this codec refuses: then both become refusal markers.
   */
  async decode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (!this.refuses) return this.#decodeOne(payload) ?? payload;
      try {
        return this.#decodeOne(payload) ?? this.#refused('plaintext', context, payload);
      } catch (err) {
        if (!(err instanceof PayloadDecryptionError)) throw err;
        return this.#refused(err.message, context, payload);
      }
    });
  }

  /** The marker in place of a refused payload: its bytes are dropped, they are untrusted. */
  #refused(reason: string, context: SerializationContext | undefined, payload: Payload): Payload {
    this.#refusal.onRefused?.(reason, context, payload);
    return { metadata: { encoding: utf8.encode(ENCODING_REFUSED), [METADATA_REFUSED_REASON]: utf8.encode(reason) }, data: new Uint8Array(0) };
  }

  /** The decrypted payload, or undefined when it is not encrypted (by this codec's scheme). */
  #decodeOne(payload: Payload): Payload | undefined {
    const metadata = payload.metadata ?? {};
    if (text(metadata.encoding) !== ENCODING_ENCRYPTED) return undefined;

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
    const key = this.#ring.key(keyId);
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
      plaintext = open(key, rawKeyId, data);
    } catch (err) {
      if (!(err instanceof SealOpenError)) throw err;
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

/** Build the codec from `config.encryption`, reading every key; undefined when encryption is not configured. */
export function codecFromConfig(config: Readonly<Config>, env: NodeJS.ProcessEnv = process.env, refusal: RefusalOptions = {}): AesGcmCodec | undefined {
  const ring = keyringFromConfig(config, env);
  return ring && new AesGcmCodec(ring, refusal);
}
