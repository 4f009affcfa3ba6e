/**
 * Verifying a signed decision against the worker's registry: who made it, through which
 * identity, and whether it is for exactly what is being decided. Pure and deterministic
 * (the time is passed in), so the workflow's update validators and the worker's mutating
 * activities apply the same rules.
 */
import { decodeBase64, encodeBase64 } from './base64.js';
import { verifyEd25519 } from './ed25519.js';
import { verifySshSig } from './sshsig.js';
import { decodePublicKey, findKey, findResponder, keyIdOf, keyValidityAt, type Registry, type ServiceKind } from './registry.js';
import { VOTE_KINDS, parseStatement, statementBytes, type FrontDoor, type Statement, type StatementKind } from './statement.js';
import { parseInstant } from './time.js';

/**
 * How far a statement's `at` may be from the verifier's time, either way. Five minutes
 * covers clock drift and a slow round trip; a captured statement is only good that long,
 * and its nonce makes it good once.
 */
export const DEFAULT_SKEW_MS = 5 * 60_000;

export interface SignedStatement {
  statement: Statement;
  /**
   * base64url. `ed25519` (the default): the Ed25519 signature of `statementBytes(statement)`.
   * `sshsig`: an SSHSIG blob (namespace `firebreak`) over those bytes, made through ssh-agent.
   */
  signature: string;
  format?: SignatureFormat;
}

export const SIGNATURE_FORMATS = ['ed25519', 'sshsig'] as const;
export type SignatureFormat = (typeof SIGNATURE_FORMATS)[number];

/** What is being decided: the statement must name exactly this (an absent gate/step/hash must be absent). */
export interface Expectation {
  kind: StatementKind;
  incidentId: string;
  gate?: string;
  step?: string;
  argsHash?: string;
}

export interface VerifyContext {
  registry: Registry;
  expect: Expectation;
  /** The verifier's time, ISO (in a workflow: workflow time). */
  now: string;
  /** Default DEFAULT_SKEW_MS. */
  skewMs?: number;
  /** Nonces of the decisions already taken on this incident. */
  seenNonces: ReadonlySet<string>;
  /** The incident's mode (`live`, `dry-run`, `drill`). */
  mode: string;
  /** The worker's policy marks the target as a drill target. */
  drillTarget: boolean;
  /**
   * Signature checks already done, by format, key, signature and the exact signed bytes (a
   * worker's activities re-check the same declaration many times). Never in workflow code.
   */
  signatureCache?: SignatureCache;
}

export interface SignatureCache {
  get(key: string): boolean | undefined;
  set(key: string, good: boolean): unknown;
}

/**
 * personal: signed with the responder's own key. attested: a service (Slack) vouches that
 * the responder made it. service: a service acting in its own name. drill-robot: a drill
 * robot on a drill target in drill mode.
 */
export type Via = 'personal' | 'attested' | 'service' | 'drill-robot';

export type RefusalReason =
  | 'malformed'
  | 'unknown-key'
  | 'bad-signature'
  | 'key-revoked'
  | 'key-outside-validity'
  | 'key-not-responders'
  | 'front-door-mismatch'
  | 'bad-attestation'
  | 'slack-id-not-mapped'
  | 'service-voting-as-itself'
  | 'service-kind-not-allowed'
  | 'drill-robot-outside-drill'
  | 'wrong-kind'
  | 'wrong-incident'
  | 'wrong-gate'
  | 'wrong-step'
  | 'wrong-hash'
  | 'timestamp-skew'
  | 'nonce-reused';

export type Verdict =
  | { ok: true; statement: Statement; responder: string; keyId: string; via: Via; service?: string }
  | { ok: false; reason: RefusalReason; message: string; claimed?: { responder: string; keyId: string } };

const FRONT_DOOR_OF: Record<ServiceKind, FrontDoor> = { slack: 'slack', schedule: 'schedule', intake: 'intake', sentinel: 'sentinel', 'drill-robot': 'drill' };

/**
 * Verdict on a signed decision. Checks, in order: the statement's form, the key (known,
 * signature, valid at both `at` and `now` — so a revocation takes effect at once, and a
 * decision re-verified later passes the moment it was received as `now`), the identity
 * rules (a personal key only for its owner; a service only for what its policy lets it
 * attest or do, never voting as itself; a drill robot only in a drill on a drill target),
 * then that it is for exactly what is expected, recent, and not seen before.
 * Never throws on untrusted input; throws on an unusable `now` or `skewMs` (a caller's bug).
 */
export function verifyDecision(signed: unknown, ctx: VerifyContext): Verdict {
  const nowMs = parseInstant(ctx.now);
  const skewMs = ctx.skewMs ?? DEFAULT_SKEW_MS;
  if (nowMs === undefined) throw new TypeError(`verifyDecision: now ${JSON.stringify(ctx.now)} is not an ISO instant`);
  if (!Number.isFinite(skewMs) || skewMs < 0) throw new TypeError('verifyDecision: skewMs must be a non-negative number');

  const envelope = signed as { statement?: unknown; signature?: unknown; format?: unknown } | null | undefined;
  if (typeof envelope !== 'object' || envelope === null) return refuse('malformed', 'no signed statement');
  const format = envelope.format ?? 'ed25519';
  if (!SIGNATURE_FORMATS.some((f) => f === format)) return refuse('malformed', `unknown signature format (${SIGNATURE_FORMATS.join(' or ')})`);
  const parsed = parseStatement(envelope.statement);
  if (!parsed.ok) return refuse('malformed', `statement refused: ${parsed.problems.slice(0, 5).join('; ')}`);
  const st = parsed.value;
  const claimed = { responder: st.responder, keyId: st.keyId };
  const no = (reason: RefusalReason, message: string): Verdict => ({ ok: false, reason, message, claimed });

  const found = findKey(ctx.registry, st.keyId);
  const publicKey = found && decodePublicKey(found.key.publicKey);
  if (!found || !publicKey || keyIdOf(publicKey) !== found.key.id) return no('unknown-key', `key ${st.keyId} is not in the worker's registry`);

  const raw = envelope.signature;
  const signature = typeof raw === 'string' && raw.length <= 1024 ? decodeBase64(raw, 'url') : undefined;
  if (!signature) return no('bad-signature', typeof raw === 'string' ? 'signature is not base64url (at most 1024 characters)' : 'no signature');
  const message = statementBytes(st);
  const cacheKey = ctx.signatureCache && `${format === 'sshsig' ? 'sshsig' : 'ed25519'}\0${found.key.publicKey}\0${raw as string}\0${encodeBase64(message)}`;
  let good = cacheKey === undefined ? undefined : ctx.signatureCache?.get(cacheKey);
  if (good === undefined) {
    good = format === 'sshsig' ? verifySshSig(signature, message, publicKey) : verifyEd25519(signature, message, publicKey);
    if (cacheKey !== undefined) ctx.signatureCache?.set(cacheKey, good);
  }
  if (!good) return no('bad-signature', `${format === 'sshsig' ? 'SSH signature (namespace firebreak)' : 'signature'} does not verify with key ${st.keyId}`);

  const atMs = parseInstant(st.at) as number; // parseStatement checked it
  for (const [label, ms] of [['signed', atMs], ['received', nowMs]] as const) {
    const validity = keyValidityAt(found.key, ms);
    if (validity === 'revoked') return no('key-revoked', `key ${st.keyId} was revoked at ${found.key.revokedAt} (statement ${label} ${new Date(ms).toISOString()})`);
    if (validity === 'outside-validity') return no('key-outside-validity', `key ${st.keyId} is not valid at ${new Date(ms).toISOString()} (statement ${label}; valid ${found.key.notBefore ?? '…'} to ${found.key.notAfter ?? '…'})`);
  }

  let via: Via;
  let service: string | undefined;
  const owner = found.owner;
  if (owner.type === 'responder') {
    if (st.responder !== owner.responder.name) return no('key-not-responders', `key ${st.keyId} is ${owner.responder.name}'s, not ${st.responder}'s`);
    if (st.attests) return no('bad-attestation', `${st.responder} signed with a personal key and cannot attest for anyone`);
    if (st.frontDoor !== 'cli') return no('front-door-mismatch', `a personal key signs at the cli front door, not ${st.frontDoor}`);
    via = 'personal';
  } else {
    const svc = owner.service;
    service = svc.name;
    if (svc.kind === 'drill-robot' && !(ctx.mode === 'drill' && ctx.drillTarget)) {
      return no('drill-robot-outside-drill', `drill robot ${svc.name} may only act in drill mode on a drill target (mode ${ctx.mode}, ${ctx.drillTarget ? '' : 'not '}a drill target)`);
    }
    if (st.frontDoor !== FRONT_DOOR_OF[svc.kind]) return no('front-door-mismatch', `service ${svc.name} (${svc.kind}) signs at the ${FRONT_DOOR_OF[svc.kind]} front door, not ${st.frontDoor}`);
    if (st.responder === svc.name) {
      if (st.attests) return no('bad-attestation', `service ${svc.name} cannot attest for itself`);
      if (svc.kind !== 'drill-robot' && VOTE_KINDS.includes(st.kind)) return no('service-voting-as-itself', `service ${svc.name} cannot ${st.kind} in its own name: only people decide that`);
      via = svc.kind === 'drill-robot' ? 'drill-robot' : 'service';
    } else {
      if (!st.attests) return no('key-not-responders', `key ${st.keyId} is service ${svc.name}'s, not ${st.responder}'s, and attests nothing`);
      if (!st.attests.slack || svc.kind !== 'slack') return no('bad-attestation', `service ${svc.name} (${svc.kind}) cannot attest a Slack user`);
      const person = findResponder(ctx.registry, st.responder);
      const { team, user } = st.attests.slack;
      if (!person?.slack || person.slack.team !== team || person.slack.user !== user) {
        return no('slack-id-not-mapped', `Slack user ${team}/${user} is not ${st.responder} in the worker's registry`);
      }
      via = 'attested';
    }
    if (!svc.may.includes(st.kind)) return no('service-kind-not-allowed', `service ${svc.name} may not ${via === 'attested' ? 'attest' : 'make'} a ${st.kind} (it may: ${svc.may.join(', ') || 'nothing'})`);
  }

  const want = ctx.expect;
  if (st.kind !== want.kind) return no('wrong-kind', `statement is a ${st.kind}, not a ${want.kind}`);
  if (st.incidentId !== want.incidentId) return no('wrong-incident', `statement is for incident ${st.incidentId}, not ${want.incidentId}`);
  if (st.gate !== want.gate) return no('wrong-gate', `statement is for gate ${st.gate ?? '(none)'}, not ${want.gate ?? '(none)'}`);
  if (st.step !== want.step) return no('wrong-step', `statement is for step ${st.step ?? '(none)'}, not ${want.step ?? '(none)'}`);
  if (st.argsHash !== want.argsHash) {
    return no('wrong-hash', `statement is for arguments ${st.argsHash?.slice(0, 12) ?? '(none)'}…, not ${want.argsHash?.slice(0, 12) ?? '(none)'}…`);
  }
  if (Math.abs(nowMs - atMs) > skewMs) {
    const off = `${Math.round(Math.abs(nowMs - atMs) / 1000)} s ${atMs < nowMs ? 'before' : 'after'}`;
    return no('timestamp-skew', `statement signed at ${st.at}, ${off} ${new Date(nowMs).toISOString()} (at most ${skewMs / 1000} s either way)`);
  }
  if (ctx.seenNonces.has(st.nonce)) return no('nonce-reused', 'this statement (its nonce) was already used on this incident');
  return { ok: true, statement: st, responder: st.responder, keyId: st.keyId, via, ...(service !== undefined && { service }) };
}

function refuse(reason: RefusalReason, message: string): Verdict {
  return { ok: false, reason, message };
}
