/**
 * What the interactive listeners (buttons, modals) share: who an interaction payload says it
 * is from, the Temporal Update id a decision from Slack is sent with, and a bounded wait for
 * identity where an answer must go into the ack itself.
 */
import { createHash } from 'node:crypto';
import type { SlackDeps } from './deps.js';
import type { IdentityVerdict, SlackRequester } from './identity.js';

/** The parts of a block_actions / view_submission payload that name the sender (Slack signs the whole body). */
export interface InteractionBody {
  team?: { id?: string } | null;
  enterprise?: { id?: string } | null;
  user?: { id?: string; team_id?: string };
}

export function requesterOf(body: InteractionBody): SlackRequester {
  return { team: body.team?.id ?? body.user?.team_id, enterprise: body.enterprise?.id, user: body.user?.id };
}

/**
 * The Update id of one decision from Slack: the same person deciding the same thing gives the
 * same id, so a double click, Slack's retry or a replay after an app restart attaches to the
 * Update already sent and Temporal never counts it twice.
 */
export function slackUpdateId(kind: string, parts: readonly string[]): string {
  const digest = createHash('sha256').update([kind, ...parts].join('\0')).digest('hex');
  return `slack-${kind}-${digest.slice(0, 40)}`;
}

/** Within a modal submission's ack (Slack waits 3 s): long enough for users.info, short enough to answer in time. */
export const IDENTITY_BUDGET_MS = 2_000;

/** The identity verdict, or undefined when users.info did not answer within `ms`. */
export async function resolveWithin(deps: SlackDeps, who: SlackRequester, ms = IDENTITY_BUDGET_MS): Promise<IdentityVerdict | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([deps.identity.resolve(who), late]);
  } finally {
    clearTimeout(timer);
  }
}
