/**
 * The refusing codec and the shared converters: what is not encrypted with this deployment's
 * keys becomes a marker (never an exception in the codec), the payload converter refuses a
 * marker with a typed failure, and the failure converter moves messages into a payload.
 */
import { ApplicationFailure, type Payload } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { AesGcmCodec } from '../../lib/codec.js';
import { ENCODING_REFUSED, PLAINTEXT_REFUSED, failureConverter, payloadConverter, refusedReason } from '../../lib/data-converters.cjs';
import { claimedUser } from '../../worker/refusal-log.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const KEY_A = Buffer.alloc(32, 0xa1);
const KEY_B = Buffer.alloc(32, 0xb2);

const ring = (id: string, key: Buffer) => ({ keys: new Map([[id, key]]), currentKeyId: id });
const plain = (value: unknown): Payload => ({ metadata: { encoding: enc.encode('json/plain') }, data: enc.encode(JSON.stringify(value)) });

describe('a refusing codec', () => {
  it('turns a plaintext payload into a marker without its bytes, and says so', async () => {
    const told: Array<[string, string | undefined, string | undefined]> = [];
    const codec = new AesGcmCodec(ring('a', KEY_A), {
      refuse: true,
      onRefused: (reason, ctx, payload) => told.push([reason, ctx?.type === 'workflow' ? ctx.workflowId : undefined, claimedUser(payload)]),
    });
    const [marker] = await codec.decode([plain({ gate: 'lockdown', actor: { user: 'carol' } })], { type: 'workflow', namespace: 'default', workflowId: 'firebreak-INC-x' });
    expect(dec.decode(marker!.metadata!.encoding)).toBe(ENCODING_REFUSED);
    expect(marker!.data?.length ?? 0).toBe(0);
    expect(refusedReason(marker)).toBe('plaintext');
    // The worker logs who the sender claimed to be (quoted, bounded), never the rest.
    expect(told).toEqual([['plaintext', 'firebreak-INC-x', '"carol"']]);
    expect(claimedUser(plain({ actor: { user: 'x'.repeat(500) } }))).toBe(JSON.stringify('x'.repeat(64)));
    expect(claimedUser({ metadata: { encoding: enc.encode('binary/plain') }, data: enc.encode('{"actor":{"user":"a"}}') })).toBeUndefined();
    expect(claimedUser(plain('not an object'))).toBeUndefined();
  });

  it('turns a payload it cannot decrypt into a marker naming the key id, instead of throwing', async () => {
    const [foreign] = await new AesGcmCodec(ring('b', KEY_B)).encode([plain('secret')]);
    const [marker] = await new AesGcmCodec(ring('a', KEY_A), { refuse: true }).decode([foreign!]);
    expect(refusedReason(marker)).toMatch(/unknown encryption key id "b"/);
    // Forged ciphertext under a known key id.
    const [mine] = await new AesGcmCodec(ring('a', KEY_A)).encode([plain('x')]);
    const forged = { ...mine!, data: new Uint8Array(mine!.data!.length).fill(7) };
    const [refused] = await new AesGcmCodec(ring('a', KEY_A), { refuse: true }).decode([forged]);
    expect(refusedReason(refused)).toMatch(/authentication failed/);
  });

  it('still decrypts its own payloads', async () => {
    const codec = new AesGcmCodec(ring('a', KEY_A), { refuse: true });
    const [back] = await codec.decode(await codec.encode([plain({ ok: 1 })]));
    expect(payloadConverter.fromPayload(back!)).toEqual({ ok: 1 });
  });

  it('passes plaintext through when not refusing (the codec server shows what is stored)', async () => {
    const [same] = await new AesGcmCodec(ring('a', KEY_A)).decode([plain('x')]);
    expect(payloadConverter.fromPayload(same!)).toBe('x');
  });
});

describe('the shared converters', () => {
  it('the payload converter refuses a marker with a typed, non-retryable failure', async () => {
    const [marker] = await new AesGcmCodec(ring('a', KEY_A), { refuse: true }).decode([plain('x')]);
    let thrown: unknown;
    try {
      payloadConverter.fromPayload(marker!);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ApplicationFailure);
    expect(thrown).toMatchObject({ type: PLAINTEXT_REFUSED, nonRetryable: true, message: expect.stringMatching(/^payload refused: it is not encrypted/) });
  });

  it('never produces a marker itself, and converts ordinary values as the default converter does', () => {
    for (const v of [undefined, new Uint8Array([1, 2]), { a: [1, 'b'] }]) {
      const p = payloadConverter.toPayload(v);
      expect(refusedReason(p)).toBeUndefined();
      expect(payloadConverter.fromPayload(p)).toEqual(v);
    }
  });

  it('the failure converter moves message and stack trace into an encoded payload, and back', () => {
    const failure = failureConverter.errorToFailure(ApplicationFailure.create({ type: 'T', message: 'cannot read /etc/canary' }), payloadConverter);
    expect(failure.message).toBe('Encoded failure');
    expect(failure.stackTrace).toBe('');
    expect(dec.decode(failure.encodedAttributes!.data!)).toContain('/etc/canary');
    expect(failureConverter.failureToError(failure, payloadConverter).message).toBe('cannot read /etc/canary');
  });
});
