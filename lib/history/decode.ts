/**
 * A workflow history as Temporal gives it, and decoded for reading: every payload
 * decrypted (when a codec is configured) and converted to its value, then the whole text
 * redacted — the incident's sensitive parameter values, tokens, credentials in URLs. The raw
 * form is what `audit verify` replays; the decoded one is what people read.
 */
import { defaultPayloadConverter, type Payload, type PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import { REDACTED, redactText, redactValues } from '../redact.js';

const { temporal } = proto;
export type History = proto.temporal.api.history.v1.IHistory;

/** The history as JSON text (proto3 JSON: bytes base64, enums by name) and back. */
export function historyToText(h: History): string {
  return JSON.stringify(temporal.api.history.v1.History.toObject(temporal.api.history.v1.History.fromObject(h), { longs: String, enums: String, bytes: String }));
}

export function historyFromText(text: string): proto.temporal.api.history.v1.History {
  return temporal.api.history.v1.History.fromObject(JSON.parse(text) as Record<string, unknown>);
}

function isPayload(v: unknown): v is Payload {
  return typeof v === 'object' && v !== null && 'metadata' in v && 'data' in v && (v as Payload).data instanceof Uint8Array;
}

/** Every payload's value in place of the payload; what cannot be decoded says why. */
export async function decodeHistory(h: History, codec: PayloadCodec | undefined): Promise<unknown> {
  const walk = async (v: unknown): Promise<unknown> => {
    if (isPayload(v)) {
      try {
        const [p] = codec ? await codec.decode([v]) : [v];
        return defaultPayloadConverter.fromPayload(p as Payload);
      } catch (err) {
        return { undecodable: (err as Error).message };
      }
    }
    if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
    if (Array.isArray(v)) return Promise.all(v.map(walk));
    if (v && typeof v === 'object') {
      if (typeof (v as { toNumber?: unknown }).toNumber === 'function') return (v as { toString(): string }).toString();
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) out[k] = await walk(x);
      return out;
    }
    return v;
  };
  return walk(h);
}

const SECRET_NAME = /passw(?:or)?d|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential|sessionid|signing/i;

/** The decoded history with `secrets` and secret-looking strings replaced, value by value (the JSON stays JSON). */
export function redactDecoded(decoded: unknown, secrets: readonly string[]): unknown {
  const known = secrets.filter((s) => s.length >= 4);
  const walk = (v: unknown, key: string): unknown => {
    if (typeof v === 'string') return SECRET_NAME.test(key) && v !== '' ? REDACTED : redactText(redactValues(v, known));
    if (Array.isArray(v)) return v.map((x) => walk(x, key));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k)]));
    return v;
  };
  return walk(decoded, '');
}
