/**
 * "A token the drill revoked is refused by the app", from outside: before acting, the drill
 * signs a fresh access token of the drill user (`drill.token`) with the drill app's key and
 * sends it to the app, which must accept it; after containment and again after the
 * all-clear (revocations are never undone) the app must refuse it (401).
 *
 * A token is a credential, so it never leaves this module: the baseline keeps only its
 * claims (a fresh `jti`, `iat`, `exp`, the user), and each check signs the same claims
 * again (HS256 is deterministic), so the same token is sent every time.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { readSecret, type TargetConfig } from '../../lib/config.js';
import type { Baseline, CheckRequest, DrillTokenClaims, PostCondition } from '../../workflows/drill-definitions.js';
import { httpStatus } from './http.js';

const b64 = (v: string | Buffer): string => Buffer.from(v).toString('base64url');

/** An HS256 JWT of these claims (what djangorestframework-simplejwt and most JWT apps verify by default). */
export function signHs256(claims: DrillTokenClaims, key: string): string {
  const head = `${b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64(JSON.stringify(claims))}`;
  return `${head}.${createHmac('sha256', key).update(head).digest('base64url')}`;
}

type App = NonNullable<TargetConfig['app']>;
type TokenConfig = NonNullable<NonNullable<TargetConfig['drill']>['token']>;

function send(app: App, token: TokenConfig, claims: DrillTokenClaims): Promise<number | string> {
  const bearer = signHs256(claims, readSecret(token.signingKey));
  return httpStatus(app.url, { headers: { Authorization: `Bearer ${bearer}` }, ...(app.caFile && { caFile: app.caFile }) });
}

/** A fresh token's claims, and what the app answers to it before the drill. */
export async function tokenBaseline(t: TargetConfig, lifetimeMs: number): Promise<Pick<Baseline, 'token'>> {
  const token = t.drill?.token;
  if (!token || !t.app) return {};
  const iat = Math.floor(Date.now() / 1000);
  const claims: DrillTokenClaims = { token_type: 'access', jti: `drill-${randomBytes(12).toString('hex')}`, sub: token.user, user_id: token.user, iat, exp: iat + Math.ceil(lifetimeMs / 1000) };
  const status = await send(t.app, token, claims);
  return { token: { claims, status } };
}

const answer = (s: number | string): string => (typeof s === 'number' ? `answered ${s}` : `no answer (${s})`);

export async function tokenChecks(t: TargetConfig, req: CheckRequest): Promise<PostCondition[]> {
  const token = t.drill?.token;
  const base = req.baseline.token;
  const revoked = req.steps.some((s) => s.action === 'tokens.revoke' && s.state === 'succeeded');
  if (!token || !t.app || !base || !revoked) return [];
  const who = `user ${token.user}, jti ${base.claims.jti}`;
  const when = req.when;
  const check = when === 'containment' ? `the app refuses a token the drill revoked (${who})` : `a token the drill revoked stays refused after the all-clear (${who})`;
  if (typeof base.status !== 'number' || base.status === 401 || base.status === 403) {
    return [{ when, system: 'app', check, ok: false, detail: `before the drill the app already ${answer(base.status)} to the token, so a refusal proves nothing: check drill.token (signing key, user)` }];
  }
  const s = await send(t.app, token, base.claims);
  if (s === 401) return [{ when, system: 'app', check, ok: true, detail: `answered 401 (before the drill ${base.status})` }];
  // Under lockdown every request gets 503 first: the revocation shows once the all-clear lifts it.
  const locked = req.steps.some((x) => x.action === 'lockdown.enable' && x.state === 'succeeded');
  if (when === 'containment' && locked && s === 503) return [{ when, system: 'app', check, ok: true, detail: 'answered 503 (the lockdown answers first; the revocation itself is checked after the all-clear)' }];
  const hint = typeof s === 'number' && s < 400 ? `: the drill's runbook must revoke the drill user's tokens (user_ids with ${token.user}, or revoke_all)` : '';
  return [{ when, system: 'app', check, ok: false, detail: `${answer(s)}, before the drill ${base.status}${hint}` }];
}
