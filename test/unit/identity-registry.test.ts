import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex } from '@noble/hashes/utils';
import { ED25519_TORSION_SUBGROUP } from '@noble/curves/ed25519';
import { hexToBytes } from '@noble/hashes/utils';
import { describe, expect, it } from 'vitest';
import { encodeBase64 } from '../../lib/identity/base64.js';
import { findKey, keyIdOf, keyValidityAt, parsePublicLine, parseRegistry, publicLine, type Registry } from '../../lib/identity/registry.js';
import { keys, registry } from '../fixtures/identity-people.js';

function problemsOf(value: unknown): string[] {
  const r = parseRegistry(value);
  return r.ok ? [] : r.problems;
}

const ms = (iso: string): number => Date.parse(iso);

describe('key ids', () => {
  it('are ed25519: and the first 16 hex digits of the SHA-256 of the raw public key', () => {
    const pk = keys.alice.publicKey;
    expect(keyIdOf(pk)).toBe(`ed25519:${bytesToHex(sha256(pk)).slice(0, 16)}`);
    expect(keyIdOf(pk)).toBe('ed25519:fcf4b546e4ffd226');
    expect(keyIdOf(keys.bob.publicKey)).not.toBe(keyIdOf(pk));
  });
});

describe('parseRegistry', () => {
  it('accepts the fixture registry as it is', () => {
    const r = parseRegistry(registry());
    expect(r.ok).toBe(true);
    expect(r.ok && r.value).toEqual(registry());
  });

  it('accepts an empty registry and a JSON round trip', () => {
    expect(parseRegistry({}).ok).toBe(true);
    expect(parseRegistry(JSON.parse(JSON.stringify(registry()))).ok).toBe(true);
  });

  it("refuses a key whose id is not its public key's fingerprint", () => {
    const reg = registry();
    reg.responders[0]!.keys[0]!.id = keys.bob.id;
    expect(problemsOf(reg).some((p) => p.startsWith(`responders[0].keys[0].id: ${keys.bob.id} is not this key's fingerprint`))).toBe(true);
  });

  it('refuses small-order, non-canonical and malformed public keys', () => {
    for (const hex of [ED25519_TORSION_SUBGROUP[0]!, ED25519_TORSION_SUBGROUP[3]!]) {
      const b64 = encodeBase64(hexToBytes(hex));
      const reg: Registry = { responders: [{ name: 'x', keys: [{ id: keyIdOf(hexToBytes(hex)), publicKey: b64 }] }], services: [] };
      expect(problemsOf(reg)).toEqual(['responders[0].keys[0].publicKey: not a valid Ed25519 public key (canonical, not of small order)']);
    }
    const reg = registry();
    reg.responders[0]!.keys[0]!.publicKey = 'not base64';
    expect(problemsOf(reg)[0]).toMatch(/^responders\[0\]\.keys\[0\]\.publicKey: "not base64" does not match/);
  });

  it('refuses the same key id twice (across responders and services), the same name twice, the same Slack user twice', () => {
    const twiceKey = registry();
    twiceKey.services[0]!.keys.push(keys.alice.entry);
    expect(problemsOf(twiceKey)).toEqual([`key ${keys.alice.id} is registered twice`]);
    const twiceName = registry();
    twiceName.services[0]!.name = 'alice';
    expect(problemsOf(twiceName)).toEqual(['name "alice" is registered twice']);
    const twiceSlack = registry();
    twiceSlack.responders[2]!.slack = { team: 'T0001', user: 'U0BOB' };
    expect(problemsOf(twiceSlack)).toEqual(['Slack user T0001/U0BOB is mapped to two responders']);
  });

  it('refuses unknown fields, unknown service kinds and statement kinds, bad bounds', () => {
    const reg = registry() as unknown as { responders: Array<Record<string, unknown>>; services: Array<Record<string, unknown>>; approvers?: unknown };
    reg.approvers = {};
    reg.responders[0]!.groups = ['leads'];
    reg.services[0]!.kind = 'github';
    reg.services[1]!.may = ['declare', 'vote'];
    (reg.responders[1]!.keys as Array<Record<string, unknown>>)[0]!.revokedAt = 'yesterday';
    expect(problemsOf(reg)).toEqual([
      'registry: unknown field "approvers"',
      'responders[0]: unknown field "groups"',
      'responders[1].keys[0].revokedAt: must be an ISO-8601 date-time with a zone (e.g. 2025-01-31T12:00:00Z)',
      'services[0].kind: must be one of slack, schedule, intake, sentinel, drill-robot',
      'services[1].may: "vote" is not a statement kind',
    ]);
  });

  it('refuses what is not a registry', () => {
    for (const v of [null, [], 'x', { responders: {} }, { responders: [null] }, { services: [{ name: 's' }] }]) expect(problemsOf(v).length).toBeGreaterThan(0);
  });
});

describe('lookups', () => {
  it('finds a key by id with its owner, old keys included', () => {
    const reg = registry();
    expect(findKey(reg, keys.bobOld.id)).toMatchObject({ owner: { type: 'responder', responder: { name: 'bob' } }, key: { revokedAt: '2025-03-04T09:00:00Z' } });
    expect(findKey(reg, keys.robot.id)).toMatchObject({ owner: { type: 'service', service: { name: 'drill-bot', kind: 'drill-robot' } } });
    expect(findKey(reg, keys.outsider.id)).toBeUndefined();
  });

  it('key validity: notBefore ≤ t < notAfter, t < revokedAt, offsets honoured', () => {
    expect(keyValidityAt(keys.bobOld.entry, ms('2025-03-04T08:59:59.999Z'))).toBe('valid');
    expect(keyValidityAt(keys.bobOld.entry, ms('2025-03-04T09:00:00.000Z'))).toBe('revoked');
    expect(keyValidityAt(keys.carol.entry, ms('2025-03-04T23:59:59.999Z'))).toBe('outside-validity');
    expect(keyValidityAt(keys.carol.entry, ms('2025-03-05T00:00:00.000Z'))).toBe('valid');
    // dave's notAfter is 2025-03-01T00:00:00+01:00, i.e. 2025-02-28T23:00Z.
    expect(keyValidityAt(keys.dave.entry, ms('2025-02-28T22:59:59.999Z'))).toBe('valid');
    expect(keyValidityAt(keys.dave.entry, ms('2025-02-28T23:00:00.000Z'))).toBe('outside-validity');
    // An unreadable bound (from an unchecked registry) closes the key rather than opening it.
    expect(keyValidityAt({ ...keys.alice.entry, revokedAt: 'soon' }, ms('2025-03-04T10:00:00Z'))).toBe('revoked');
    expect(keyValidityAt({ ...keys.alice.entry, notBefore: 'soon' }, ms('2025-03-04T10:00:00Z'))).toBe('outside-validity');
  });
});

describe('public lines', () => {
  it('round trip: "ed25519 <base64 public key> <name> <key id>"', () => {
    const line = publicLine(keys.alice.publicKey, 'alice');
    expect(line).toBe(`ed25519 ${keys.alice.entry.publicKey} alice ${keys.alice.id}`);
    expect(parsePublicLine(`  ${line}\n`)).toEqual({ ok: true, value: { name: 'alice', key: { id: keys.alice.id, publicKey: keys.alice.entry.publicKey } } });
    expect(parsePublicLine(`ed25519 ${keys.alice.entry.publicKey} alice`).ok).toBe(true);
  });

  it('refuses a key id that is not the key, a bad key, a bad name, another format', () => {
    expect(parsePublicLine(`ed25519 ${keys.alice.entry.publicKey} alice ${keys.bob.id}`)).toEqual({ ok: false, problems: [`key id: "${keys.bob.id}" is not this key's (${keys.alice.id})`] });
    expect(parsePublicLine(`ed25519 ${encodeBase64(hexToBytes(ED25519_TORSION_SUBGROUP[0]!))} alice`).ok).toBe(false);
    expect(parsePublicLine(`ed25519 ${keys.alice.entry.publicKey} "alice smith"`).ok).toBe(false);
    expect(parsePublicLine(`ssh-ed25519 ${keys.alice.entry.publicKey} alice`).ok).toBe(false);
    expect(parsePublicLine('').ok).toBe(false);
  });
});
