import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils';
import { describe, expect, it } from 'vitest';
import { decodeBase64, encodeBase64 } from '../../lib/identity/base64.js';
import { publicKeyOf, signEd25519 } from '../../lib/identity/ed25519.js';
import { keyIdOf } from '../../lib/identity/registry.js';
import { parseStatement, statementBytes, STATEMENT_DOMAIN, type Statement } from '../../lib/identity/statement.js';
import { aliceApproves, keys } from '../fixtures/identity-people.js';

const text = (st: Statement): string => new TextDecoder().decode(statementBytes(st));

function problemsOf(value: unknown): string[] {
  const r = parseStatement(value);
  return r.ok ? [] : r.problems;
}

describe('statement encoding (golden)', () => {
  // Fixed seed; the bytes and the signature below must never change: verifiers in history depend on them.
  const SEED = '4428b881d5a878356699e0a4f39aadeba7da14e0f34cddbd393910c2f18709d4';
  const PUBLIC = '5qaKQspc3SuVM35JQwNH/EssvVipk4oiVAyMhIrcd3Q=';
  const KEY_ID = 'ed25519:fcf4b546e4ffd226';
  const st = aliceApproves({ extra: { reasonSha256: 'b'.repeat(64), count: 2 } });
  const BYTES =
    'firebreak-statement-v1\n' +
    '{"argsHash":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","at":"2025-03-04T10:00:00.000Z",' +
    '"extra":{"count":2,"reasonSha256":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"},"frontDoor":"cli",' +
    '"gate":"lockdown","incidentId":"INC-20250304-abc234","keyId":"ed25519:fcf4b546e4ffd226","kind":"approve",' +
    '"nonce":"AAECAwQFBgcICQoLDA0ODw","responder":"alice","v":1}';
  const SIGNATURE = '0R-sWS8x4zb7akhNl9UFBYJPMuOWZfVSU8Cve9lZgggVCM91wBhQDzzIuRdWrUt4Tti0Qyx8eHObh8dRQA-nDQ';

  it('the fixture key is the golden key', () => {
    expect(bytesToHex(keys.alice.seed)).toBe(SEED);
    expect(encodeBase64(publicKeyOf(hexToBytes(SEED)))).toBe(PUBLIC);
    expect(keyIdOf(publicKeyOf(hexToBytes(SEED)))).toBe(KEY_ID);
    expect(st.keyId).toBe(KEY_ID);
  });

  it('has exactly these bytes: domain prefix, then keys sorted at every depth', () => {
    expect(text(st)).toBe(BYTES);
    expect(text(st).startsWith(STATEMENT_DOMAIN)).toBe(true);
  });

  it('has exactly this signature, which OpenSSL verifies too', () => {
    const signature = signEd25519(statementBytes(st), hexToBytes(SEED));
    expect(encodeBase64(signature, 'url')).toBe(SIGNATURE);
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(decodeBase64(PUBLIC) as Uint8Array)]);
    const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    expect(nodeVerify(null, Buffer.from(BYTES, 'utf8'), key, Buffer.from(SIGNATURE, 'base64url'))).toBe(true);
  });

  it('does not depend on the order members were written in', () => {
    const reversed = Object.fromEntries(Object.entries(st).reverse()) as unknown as Statement;
    reversed.extra = { count: 2, reasonSha256: 'b'.repeat(64) };
    expect(text(reversed)).toBe(BYTES);
    const parsed = parseStatement(reversed);
    expect(parsed.ok && text(parsed.value)).toBe(BYTES);
  });

  it('spells unicode as RFC 8785 does: UTF-8 as is, only quote, backslash and control characters escaped', () => {
    const u = aliceApproves({ extra: { note: 'Zoë ☕ 😀 "q" \\ \n\u0001\u001f\u007f' } });
    expect(text(u)).toContain('"extra":{"note":"Zoë ☕ 😀 \\"q\\" \\\\ \\n\\u0001\\u001f\u007f"}');
    const hex = bytesToHex(statementBytes(u));
    expect(hex).toContain('5a6fc3ab'); // "Zoë"
    expect(hex).toContain('e29895'); // ☕
    expect(hex).toContain('f09f9880'); // 😀, one 4-byte sequence, not two escaped surrogates
  });
});

describe('parseStatement', () => {
  it('accepts a well-formed statement and returns a fresh copy', () => {
    const input = aliceApproves({ extra: { item: 'rotate the key', n: -3 }, attests: { slack: { team: 'T1', user: 'U1' } } });
    const r = parseStatement(input);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toEqual(input);
    expect(r.value).not.toBe(input);
    (input.extra as Record<string, string>).item = 'changed';
    expect(r.value.extra?.item).toBe('rotate the key');
  });

  it('accepts a JSON round trip and an object without prototype', () => {
    expect(parseStatement(JSON.parse(JSON.stringify(aliceApproves()))).ok).toBe(true);
    expect(parseStatement(Object.assign(Object.create(null) as object, aliceApproves())).ok).toBe(true);
  });

  it('treats undefined optional members as absent (the encoding drops them)', () => {
    const r = parseStatement({ ...aliceApproves(), step: undefined });
    expect(r.ok && 'step' in r.value).toBe(false);
  });

  it('refuses what is not a plain object', () => {
    for (const v of [null, undefined, 'x', 1, [], new Date(), new (class Statement {})()]) expect(problemsOf(v).length).toBeGreaterThan(0);
  });

  it('refuses unknown fields, at every level', () => {
    expect(problemsOf({ ...aliceApproves(), actor: 'bob' })).toEqual(['unknown field "actor"']);
    expect(problemsOf(aliceApproves({ attests: { slack: { team: 'T1', user: 'U1' }, github: 'x' } as never }))).toEqual(['attests: unknown field "github"']);
    expect(problemsOf(aliceApproves({ attests: { slack: { team: 'T1', user: 'U1', name: 'x' } as never } }))).toEqual(['attests.slack: unknown field "name"']);
  });

  it('refuses missing, null and mistyped members', () => {
    const { nonce: _n, ...withoutNonce } = aliceApproves();
    expect(problemsOf(withoutNonce)).toEqual(['nonce: missing']);
    expect(problemsOf({ ...aliceApproves(), gate: null })).toEqual(['gate: must be a string']);
    expect(problemsOf({ ...aliceApproves(), v: 2 })).toEqual(['v: must be 1']);
    expect(problemsOf({ ...aliceApproves(), v: '1' })).toEqual(['v: must be 1']);
    expect(problemsOf({ ...aliceApproves(), kind: 'vote' })[0]).toMatch(/^kind: must be one of declare, approve/);
    expect(problemsOf({ ...aliceApproves(), frontDoor: 'api' })[0]).toMatch(/^frontDoor: must be one of cli, slack/);
    expect(problemsOf({ ...aliceApproves(), attests: {} })).toEqual(['attests: must name what is attested (slack)']);
  });

  it('refuses values outside their patterns', () => {
    const bad: Array<[keyof Statement, unknown]> = [
      ['argsHash', 'A'.repeat(64)],
      ['argsHash', 'a'.repeat(63)],
      ['argsHash', '6'],
      ['keyId', 'ed25519:FCF4B546E4FFD226'],
      ['keyId', 'ssh:fcf4b546e4ffd226'],
      ['responder', 'alice smith'],
      ['responder', ''],
      ['responder', 'a'.repeat(65)],
      ['incidentId', '../INC-1'],
      ['gate', 'Lockdown'],
      ['step', 'a b'],
      ['nonce', 'AAECAwQFBgcICQoLDA0OD'], // 21 characters: fewer than 128 bits
      ['nonce', 'AAECAwQFBgcICQoLDA0ODw=='],
      ['nonce', 'AAECAwQFBgcICQoLDA0O+w'],
    ];
    for (const [field, value] of bad) expect(problemsOf({ ...aliceApproves(), [field]: value }), `${field} = ${String(value)}`).toHaveLength(1);
  });

  it('takes `at` only as toISOString() writes it', () => {
    for (const at of ['2025-03-04T10:00:00Z', '2025-03-04T10:00:00.000+00:00', '2025-03-04 10:00:00.000Z', '2025-02-29T10:00:00.000Z', '2025-03-04T24:00:00.000Z', '+2025-03-04T10:00:00.000Z']) {
      expect(problemsOf(aliceApproves({ at })), at).toEqual(['at: must be an instant as toISOString() writes it (YYYY-MM-DDTHH:MM:SS.sssZ)']);
    }
    expect(problemsOf(aliceApproves({ at: '2024-02-29T23:59:59.999Z' }))).toEqual([]);
  });

  it('takes extra values only as strings and safe integers (no gap to RFC 8785)', () => {
    const bad: unknown[] = [1.5, -0, NaN, Infinity, 2 ** 53, true, null, { a: 1 }, ['x'], 'x'.repeat(1025), 'lone \ud800 surrogate', 'reversed \udc00\ud800'];
    for (const v of bad) expect(problemsOf({ ...aliceApproves(), extra: { x: v } }), String(v)).toHaveLength(1);
    expect(problemsOf({ ...aliceApproves(), extra: { x: 2 ** 53 - 1, y: -(2 ** 53 - 1), z: '😀'.repeat(100) } })).toEqual([]);
  });

  it('refuses extra names that canonical JSON would mangle or that are not words', () => {
    expect(problemsOf({ ...aliceApproves(), extra: JSON.parse('{"__proto__":"x"}') as unknown })).toHaveLength(1);
    for (const key of ['Reason', '1a', 'a-b', 'a'.repeat(33), '']) expect(problemsOf({ ...aliceApproves(), extra: { [key]: 'x' } }), key).toHaveLength(1);
  });

  it('bounds sizes: member counts and the encoded length', () => {
    const many = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, i]));
    expect(problemsOf({ ...aliceApproves(), extra: many })).toEqual(['extra: more than 16 members']);
    const big = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`k${i}`, 'x'.repeat(1000)]));
    expect(problemsOf({ ...aliceApproves(), extra: big })).toEqual(['statement: longer than 4096 bytes']);
    const wide = Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`f${i}`, 1]));
    expect(problemsOf({ ...aliceApproves(), ...wide })).toEqual(['statement: more than 24 members']);
  });

  it('refuses getters and symbol keys (a value must read the same twice)', () => {
    const getter = aliceApproves() as unknown as Record<string, unknown>;
    Object.defineProperty(getter, 'responder', { get: () => 'alice', enumerable: true });
    expect(problemsOf(getter)).toEqual(['statement: "responder" is not a plain data member']);
    expect(problemsOf({ ...aliceApproves(), [Symbol('x')]: 1 })).toEqual(['statement: has symbol keys']);
  });

  it('quotes untrusted text in problems cut short', () => {
    const [problem] = problemsOf({ ...aliceApproves(), ['x'.repeat(500)]: 1 });
    expect(problem).toBe(`unknown field "${'x'.repeat(40)}…"`);
  });
});
