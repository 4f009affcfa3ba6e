/**
 * Who a Slack request is from, in ONE place. The workspace (and Enterprise Grid org when
 * configured) must be ours; the Slack user must be mapped to a responder in the registry;
 * `users.info` must show a full member of our workspace (no bot, deleted, guest or external
 * account). The result is a Principal whose decisions the Slack app's service key signs as
 * Slack-attested statements; the workflow verifies them against the worker's registry.
 */
import type { webApi } from '@slack/bolt';
import type { SlackConfig } from '../lib/config-slack.js';
import type { KeyPair } from '../lib/identity/keys.js';
import type { Registry } from '../lib/identity/registry.js';
import { keyPairSigner, type Signer } from '../lib/identity/signer.js';
import type { SlackId } from '../lib/identity/statement.js';
import type { Principal } from '../lib/incidents/types.js';

/** Where a request says it comes from (the signed body's team, enterprise and user ids). */
export interface SlackRequester {
  team?: string;
  enterprise?: string;
  user?: string;
}

export type IdentityRefusal = 'wrong-workspace' | 'wrong-enterprise' | 'no-user' | 'unmapped' | 'bot' | 'deleted' | 'guest' | 'external' | 'lookup-failed';

export type IdentityVerdict = { ok: true; principal: Principal; slack: SlackId } | { ok: false; reason: IdentityRefusal; message: string };

/** The parts of `users.info` that decide (Slack's documented user object). */
interface SlackUser {
  id?: string;
  team_id?: string;
  deleted?: boolean;
  is_bot?: boolean;
  is_app_user?: boolean;
  is_restricted?: boolean;
  is_ultra_restricted?: boolean;
  is_stranger?: boolean;
  enterprise_user?: { enterprise_id?: string };
}

/** A signer that attests `slack` with the app's key: every statement it makes names that Slack user. */
export function attestingSigner(key: KeyPair, slack: SlackId): Signer {
  const base = keyPairSigner(key, 'slack');
  return { keyId: base.keyId, frontDoor: 'slack', sign: (fields) => base.sign({ ...fields, attests: { slack } }) };
}

export class SlackIdentity {
  constructor(
    private readonly slack: SlackConfig,
    private readonly registry: Registry,
    private readonly client: webApi.WebClient,
    private readonly key: KeyPair,
  ) {}

  /** The workspace check, from the body alone (answered in the ack itself). */
  workspaceRefusal(req: SlackRequester): IdentityVerdict | undefined {
    if (req.team !== this.slack.teamId) return { ok: false, reason: 'wrong-workspace', message: `this Firebreak serves Slack workspace ${this.slack.teamId}, not ${req.team ?? '(none)'}` };
    if (this.slack.enterpriseId !== undefined && req.enterprise !== this.slack.enterpriseId) {
      return { ok: false, reason: 'wrong-enterprise', message: `this Firebreak serves Enterprise Grid org ${this.slack.enterpriseId}, not ${req.enterprise ?? '(none)'}` };
    }
    return undefined;
  }

  /** The responder behind a request, or why not. Never throws: a failed lookup refuses (fail closed). */
  async resolve(req: SlackRequester): Promise<IdentityVerdict> {
    const workspace = this.workspaceRefusal(req);
    if (workspace) return workspace;
    const user = req.user;
    if (!user) return { ok: false, reason: 'no-user', message: 'the request names no Slack user' };
    const team = this.slack.teamId;
    const responder = this.registry.responders.find((r) => r.slack?.team === team && r.slack.user === user);
    if (!responder) return { ok: false, reason: 'unmapped', message: `Slack user ${user} is not a Firebreak responder: ask an admin to add \`slack: { team: ${team}, user: ${user} }\` to your entry in the worker's identity.responders` };
    let info: SlackUser | undefined;
    try {
      const res = await this.client.users.info({ user });
      info = res.user;
    } catch (err) {
      return { ok: false, reason: 'lookup-failed', message: `cannot check Slack user ${user} (users.info: ${(err as Error).message.split('\n')[0]}); nothing was done` };
    }
    const refusal = accountRefusal(info, user, team, this.slack.enterpriseId);
    if (refusal) return refusal;
    const slack = { team, user };
    return { ok: true, slack, principal: { user: responder.name, host: `slack:${user}`, via: 'slack', signer: attestingSigner(this.key, slack) } };
  }
}

/** Why this account may not act, from its users.info record. */
function accountRefusal(u: SlackUser | undefined, user: string, team: string, enterprise: string | undefined): IdentityVerdict | undefined {
  const no = (reason: IdentityRefusal, what: string): IdentityVerdict => ({ ok: false, reason, message: `Slack user ${user} ${what}: refused` });
  if (!u || u.id !== user) return no('lookup-failed', 'was not found by users.info');
  if (u.is_bot || u.is_app_user) return no('bot', 'is a bot');
  if (u.deleted) return no('deleted', 'is deactivated');
  if (u.is_restricted || u.is_ultra_restricted) return no('guest', 'is a guest (restricted account)');
  if (u.is_stranger || u.team_id !== team) return no('external', `belongs to another workspace (${u.team_id ?? 'unknown'})`);
  if (enterprise !== undefined && u.enterprise_user?.enterprise_id !== enterprise) return no('external', `is not in Enterprise Grid org ${enterprise}`);
  return undefined;
}
