import { describe, expect, it } from 'vitest';
import { encodeBase64 } from '../../lib/identity/base64.js';
import type { Statement } from '../../lib/identity/statement.js';
import { DEFAULT_SKEW_MS, verifyDecision, type VerifyContext } from '../../lib/identity/verify.js';
import { HASH, INCIDENT, NOW, aliceApproves, keys, registry, signWith, type TestKey } from '../fixtures/identity-people.js';

function ctx(over: Partial<VerifyContext> = {}): VerifyContext {
  return {
    registry: registry(),
    expect: { kind: 'approve', incidentId: INCIDENT, gate: 'lockdown', argsHash: HASH },
    now: NOW,
    seenNonces: new Set(),
    mode: 'live',
    drillTarget: false,
    ...over,
  };
}

const slackVote = (over: Partial<Statement> = {}): Statement =>
  aliceApproves({ responder: 'bob', keyId: keys.slack.id, frontDoor: 'slack', attests: { slack: { team: 'T0001', user: 'U0BOB' } }, ...over });
const asService = (key: TestKey, name: string, frontDoor: Statement['frontDoor'], over: Partial<Statement> = {}): Statement =>
  aliceApproves({ responder: name, keyId: key.id, frontDoor, ...over });
const declare = { kind: 'declare', incidentId: INCIDENT } as const;

function refusal(signed: unknown, c: VerifyContext = ctx()) {
  const v = verifyDecision(signed, c);
  return v.ok ? 'accepted' : v.reason;
}

describe('verifyDecision: accepted', () => {
  it('a responder signing with their own key', () => {
    const v = verifyDecision(signWith(keys.alice, aliceApproves()), ctx());
    expect(v).toMatchObject({ ok: true, responder: 'alice', keyId: keys.alice.id, via: 'personal' });
    expect(v.ok && 'service' in v).toBe(false);
  });

  it('a Slack user attested by the Slack app, as the registry maps them', () => {
    expect(verifyDecision(signWith(keys.slack, slackVote()), ctx())).toMatchObject({ ok: true, responder: 'bob', via: 'attested', service: 'slack-app' });
    // A person with no personal key can still vote through Slack.
    const erin = slackVote({ responder: 'erin', attests: { slack: { team: 'T0001', user: 'U0ERIN' } } });
    expect(verifyDecision(signWith(keys.slack, erin), ctx())).toMatchObject({ ok: true, responder: 'erin', via: 'attested' });
  });

  it('a service making a statement it may make in its own name (a scheduled declaration)', () => {
    const st = asService(keys.schedule, 'scheduler', 'schedule', { kind: 'declare', gate: undefined, argsHash: undefined });
    expect(verifyDecision(signWith(keys.schedule, st), ctx({ expect: declare }))).toMatchObject({ ok: true, responder: 'scheduler', via: 'service', service: 'scheduler' });
  });

  it('a drill robot voting in a drill on a drill target', () => {
    const st = asService(keys.robot, 'drill-bot', 'drill');
    expect(verifyDecision(signWith(keys.robot, st), ctx({ mode: 'drill', drillTarget: true }))).toMatchObject({ ok: true, responder: 'drill-bot', via: 'drill-robot' });
  });

  it('within the skew window either way, and with other nonces seen', () => {
    for (const at of ['2025-03-04T09:55:00.000Z', '2025-03-04T10:05:00.000Z']) {
      expect(refusal(signWith(keys.alice, aliceApproves({ at })), ctx({ seenNonces: new Set(['other-nonce-AAAAAAAAAAAAAA']) }))).toBe('accepted');
    }
    expect(DEFAULT_SKEW_MS).toBe(300_000);
  });

  it('a revoked key for a decision made and received before the revocation (re-verifying old history)', () => {
    const st = aliceApproves({ responder: 'bob', keyId: keys.bobOld.id, at: '2025-03-04T08:59:00.000Z' });
    expect(refusal(signWith(keys.bobOld, st), ctx({ now: '2025-03-04T08:59:30.000Z' }))).toBe('accepted');
  });

  it('a statement for no gate when none is expected', () => {
    const st = aliceApproves({ kind: 'note', gate: undefined, argsHash: undefined, extra: { textSha256: HASH } });
    expect(refusal(signWith(keys.alice, st), ctx({ expect: { kind: 'note', incidentId: INCIDENT } }))).toBe('accepted');
  });
});

describe('verifyDecision: refused, one reason each', () => {
  it('malformed: not a signed statement, or a statement the parser refuses', () => {
    expect(refusal(undefined)).toBe('malformed');
    expect(refusal({ signature: 'x' })).toBe('malformed');
    const signed = signWith(keys.alice, aliceApproves());
    expect(refusal({ ...signed, statement: { ...signed.statement, actor: { user: 'carol' } } })).toBe('malformed');
    const v = verifyDecision({ statement: { v: 1 }, signature: signed.signature }, ctx());
    expect(v.ok || v.message).toMatch(/^statement refused: kind: must be one of/);
  });

  it('unknown key', () => {
    const st = aliceApproves({ keyId: keys.outsider.id });
    expect(refusal(signWith(keys.outsider, st))).toBe('unknown-key');
  });

  it('unknown key: a registry entry whose id is not its public key (an unchecked registry)', () => {
    const reg = registry();
    reg.responders[0]!.keys[0]!.publicKey = keys.outsider.entry.publicKey;
    expect(refusal(signWith(keys.outsider, aliceApproves()), ctx({ registry: reg }))).toBe('unknown-key');
  });

  it('bad signature: missing, not base64url, made by another key, or over other bytes', () => {
    const signed = signWith(keys.alice, aliceApproves());
    expect(refusal({ statement: signed.statement })).toBe('bad-signature');
    expect(refusal({ ...signed, signature: `${signed.signature.slice(0, -2)}+/` })).toBe('bad-signature');
    expect(refusal({ ...signed, signature: encodeBase64(new Uint8Array(64), 'url') })).toBe('bad-signature');
    expect(refusal({ statement: signed.statement, signature: signWith(keys.bob, aliceApproves()).signature })).toBe('bad-signature');
    expect(refusal({ statement: { ...signed.statement, argsHash: 'b'.repeat(64) }, signature: signed.signature })).toBe('bad-signature');
  });

  it("key not the named responder's: alice's key claiming to be bob (FIREBREAK_USER=bob)", () => {
    const v = verifyDecision(signWith(keys.alice, aliceApproves({ responder: 'bob' })), ctx());
    expect(v).toMatchObject({ ok: false, reason: 'key-not-responders', claimed: { responder: 'bob', keyId: keys.alice.id } });
  });

  it("key not the named responder's: a service key naming a person without attesting anything", () => {
    expect(refusal(signWith(keys.slack, slackVote({ attests: undefined })))).toBe('key-not-responders');
    expect(refusal(signWith(keys.robot, asService(keys.robot, 'alice', 'drill')), ctx({ mode: 'drill', drillTarget: true }))).toBe('key-not-responders');
  });

  it('key revoked: signed after the revocation', () => {
    const st = aliceApproves({ responder: 'bob', keyId: keys.bobOld.id });
    expect(refusal(signWith(keys.bobOld, st))).toBe('key-revoked');
  });

  it('key revoked: backdated to before the revocation but received after it', () => {
    const st = aliceApproves({ responder: 'bob', keyId: keys.bobOld.id, at: '2025-03-04T08:59:00.000Z' });
    expect(refusal(signWith(keys.bobOld, st), ctx({ now: '2025-03-04T09:01:00.000Z' }))).toBe('key-revoked');
  });

  it('key outside validity: before notBefore, after notAfter', () => {
    expect(refusal(signWith(keys.carol, aliceApproves({ responder: 'carol', keyId: keys.carol.id })))).toBe('key-outside-validity');
    expect(refusal(signWith(keys.dave, aliceApproves({ responder: 'dave', keyId: keys.dave.id })))).toBe('key-outside-validity');
  });

  it('front door that does not match the signer', () => {
    expect(refusal(signWith(keys.alice, aliceApproves({ frontDoor: 'slack' })))).toBe('front-door-mismatch');
    expect(refusal(signWith(keys.slack, slackVote({ frontDoor: 'cli' })))).toBe('front-door-mismatch');
  });

  it('bad attestation: a person attesting, a service attesting itself, a non-Slack service attesting a Slack user', () => {
    expect(refusal(signWith(keys.alice, aliceApproves({ attests: { slack: { team: 'T0001', user: 'U0ALICE' } } })))).toBe('bad-attestation');
    const self = asService(keys.slack, 'slack-app', 'slack', { kind: 'note', gate: undefined, argsHash: undefined, attests: { slack: { team: 'T0001', user: 'U0BOB' } } });
    expect(refusal(signWith(keys.slack, self), ctx({ expect: { kind: 'note', incidentId: INCIDENT } }))).toBe('bad-attestation');
    const byScheduler = slackVote({ keyId: keys.schedule.id, frontDoor: 'schedule' });
    expect(refusal(signWith(keys.schedule, byScheduler))).toBe('bad-attestation');
  });

  it('Slack attestation whose Slack id the registry does not map to that responder', () => {
    // "Slack user U0ALICE chose approve", presented as bob's vote.
    expect(refusal(signWith(keys.slack, slackVote({ attests: { slack: { team: 'T0001', user: 'U0ALICE' } } })))).toBe('slack-id-not-mapped');
    expect(refusal(signWith(keys.slack, slackVote({ attests: { slack: { team: 'T0002', user: 'U0BOB' } } })))).toBe('slack-id-not-mapped');
    // carol has no Slack id; zed is not a responder at all.
    expect(refusal(signWith(keys.slack, slackVote({ responder: 'carol' })))).toBe('slack-id-not-mapped');
    expect(refusal(signWith(keys.slack, slackVote({ responder: 'zed' })))).toBe('slack-id-not-mapped');
  });

  it('a service voting as itself, even when its policy lists the kind', () => {
    const st = asService(keys.schedule, 'scheduler', 'schedule');
    expect(refusal(signWith(keys.schedule, st))).toBe('service-voting-as-itself');
  });

  it('a service attesting or making a kind it may not', () => {
    expect(refusal(signWith(keys.slack, slackVote({ kind: 'override', gate: undefined, argsHash: undefined, step: 'lockdown' })), ctx({ expect: { kind: 'override', incidentId: INCIDENT, step: 'lockdown' } }))).toBe('service-kind-not-allowed');
    const note = asService(keys.schedule, 'scheduler', 'schedule', { kind: 'note', gate: undefined, argsHash: undefined });
    expect(refusal(signWith(keys.schedule, note), ctx({ expect: { kind: 'note', incidentId: INCIDENT } }))).toBe('service-kind-not-allowed');
  });

  it('a drill robot outside drill mode or off a drill target', () => {
    const st = asService(keys.robot, 'drill-bot', 'drill');
    for (const c of [{ mode: 'live', drillTarget: true }, { mode: 'drill', drillTarget: false }, { mode: 'dry-run', drillTarget: true }]) {
      expect(refusal(signWith(keys.robot, st), ctx(c)), JSON.stringify(c)).toBe('drill-robot-outside-drill');
    }
  });

  it('a statement of another kind', () => {
    expect(refusal(signWith(keys.alice, aliceApproves({ kind: 'resolve' })))).toBe('wrong-kind');
  });

  it('another incident', () => {
    expect(refusal(signWith(keys.alice, aliceApproves({ incidentId: 'INC-20250304-other1' })))).toBe('wrong-incident');
  });

  it('another gate, or a gate where none is expected', () => {
    expect(refusal(signWith(keys.alice, aliceApproves({ gate: 'revoke-tokens' })))).toBe('wrong-gate');
    expect(refusal(signWith(keys.alice, aliceApproves({ gate: undefined })))).toBe('wrong-gate');
    const note = aliceApproves({ kind: 'note', argsHash: undefined });
    expect(refusal(signWith(keys.alice, note), ctx({ expect: { kind: 'note', incidentId: INCIDENT } }))).toBe('wrong-gate');
  });

  it('another step', () => {
    const st = aliceApproves({ kind: 'override', gate: undefined, argsHash: undefined, step: 'ban-ips' });
    expect(refusal(signWith(keys.alice, st), ctx({ expect: { kind: 'override', incidentId: INCIDENT, step: 'lockdown' } }))).toBe('wrong-step');
  });

  it('another argument hash, or none', () => {
    expect(refusal(signWith(keys.alice, aliceApproves({ argsHash: 'b'.repeat(64) })))).toBe('wrong-hash');
    expect(refusal(signWith(keys.alice, aliceApproves({ argsHash: undefined })))).toBe('wrong-hash');
  });

  it('a timestamp outside the skew window: 10 minutes old, or from the future', () => {
    const old = verifyDecision(signWith(keys.alice, aliceApproves({ at: '2025-03-04T09:50:00.000Z' })), ctx());
    expect(old).toMatchObject({ ok: false, reason: 'timestamp-skew', message: 'statement signed at 2025-03-04T09:50:00.000Z, 600 s before 2025-03-04T10:00:00.000Z (at most 300 s either way)' });
    expect(refusal(signWith(keys.alice, aliceApproves({ at: '2025-03-04T10:05:00.001Z' })))).toBe('timestamp-skew');
    expect(refusal(signWith(keys.alice, aliceApproves({ at: '2025-03-04T09:59:00.000Z' })), ctx({ skewMs: 30_000 }))).toBe('timestamp-skew');
  });

  it('a reused nonce: the same signed vote again', () => {
    const signed = signWith(keys.alice, aliceApproves());
    expect(refusal(signed, ctx({ seenNonces: new Set([signed.statement.nonce]) }))).toBe('nonce-reused');
  });

  it('throws on a caller bug (unusable now or skew), not on untrusted input', () => {
    const signed = signWith(keys.alice, aliceApproves());
    expect(() => verifyDecision(signed, ctx({ now: 'yesterday' }))).toThrow(TypeError);
    expect(() => verifyDecision(signed, ctx({ skewMs: -1 }))).toThrow(TypeError);
    for (const junk of [null, 1, 'x', [], { statement: null, signature: null }, { statement: [], signature: [] }]) expect(refusal(junk)).toBe('malformed');
  });
});
