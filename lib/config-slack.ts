/**
 * The Slack front door's config (`slack:` in firebreak.yaml): the app's secrets as references,
 * the one workspace it serves, where it listens, and the service identity whose key signs
 * what it attests. Checked against the identity registry when the config loads, so an app
 * whose every vote the worker would refuse never starts.
 */
import { z } from 'zod';
import { absolutePath, secretRef } from './config-target.js';
import { SLACK_ID } from './identity/statement.js';
import type { IdentityConfig } from './config-identity.js';

const slackId = (what: string) => z.string().regex(SLACK_ID, `must be a Slack ${what} id (upper-case letters and digits, e.g. T0123ABCD)`);

/**
 * The incident channel the worker opens at declaration (activities/notify), and the events it
 * posts into the status message's thread. Absent: no channel, no notifications.
 */
export const slackChannelsSchema = z
  .object({
    prefix: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,19}$/, 'lower-case letters, digits and -, starting with a letter (at most 20)')
      .default('inc')
      .describe('Channel names are `<prefix>-<incident id, lower-cased>` (a -2, -3… suffix when someone else holds the name)'),
    private: z.boolean().default(false).describe('Create private channels (needs groups:write and groups:history instead of channels:manage and channels:history)'),
    targets: z.array(z.string().min(1)).min(1).optional().describe('Only incidents on these targets get a channel (default: every target)'),
    inviteGroups: z.array(z.string().min(1)).default([]).describe('approvers.groups whose members are invited (through their identity.responders slack ids)'),
    inviteUsergroups: z
      .array(slackId('user group'))
      .default([])
      .describe('Slack user groups (S…) whose members are invited (usergroups.users.list: needs usergroups:read)'),
  })
  .strict();

export type SlackChannelsConfig = z.infer<typeof slackChannelsSchema>;

export const slackSchema = z
  .object({
    signingSecret: secretRef.describe("The app's signing secret (Basic Information → App Credentials): verifies every request is from Slack"),
    botToken: secretRef.describe('The bot token (xoxb-…) the app calls the Web API with'),
    teamId: slackId('workspace (team)').describe('The one workspace served: requests from any other are refused'),
    enterpriseId: slackId('Enterprise Grid org').optional().describe('When set, requests must also come from this org'),
    apiUrl: z
      .string()
      .url()
      .refine((u) => /^https?:$/.test(new URL(u).protocol), 'must be an http(s) URL')
      .refine((u) => u.endsWith('/'), 'must end with "/" (e.g. https://slack.com/api/)')
      .default('https://slack.com/api/')
      .describe('Slack Web API base URL (tests point it at a local stand-in)'),
    command: z
      .string()
      .regex(/^\/[a-z0-9][a-z0-9_-]{0,31}$/, 'a slash command: "/" then lower-case letters, digits, - or _ (at most 32)')
      .default('/incident')
      .describe('The slash command, as registered in the app manifest'),
    host: z.string().min(1).default('127.0.0.1').describe('Address `firebreak slack` listens on (put a TLS proxy in front)'),
    port: z.number().int().min(0).max(65535).default(3000).describe('Port `firebreak slack` listens on (0: any free port)'),
    service: z.string().min(1).describe('The identity.services entry (kind slack) that is this app'),
    keyFile: absolutePath.describe("The app's Ed25519 private key (PKCS#8 PEM, mode 0600): signs Slack-attested decisions"),
    channels: slackChannelsSchema.optional().describe('The incident channel and event notifications, posted by the worker'),
  })
  .strict();

export type SlackConfig = z.infer<typeof slackSchema>;

/** The kinds a `/incident` subcommand attests; the service may list fewer (the workflow refuses the rest). */
export const SLACK_ATTESTED_KINDS = ['declare', 'approve', 'resolve', 'abort', 'note', 'retry'] as const;

/** What makes a parsed `slack:` section unusable against the identity registry. */
export function slackConfigProblems(slack: SlackConfig | undefined, identity: IdentityConfig): string[] {
  if (!slack) return [];
  const svc = identity.services.find((s) => s.name === slack.service);
  if (!svc) {
    const known = identity.services.filter((s) => s.kind === 'slack').map((s) => s.name);
    return [`slack.service: no identity.services entry named "${slack.service}" (kind slack: ${known.join(', ') || 'none'}); register the app's public key there`];
  }
  const problems: string[] = [];
  if (svc.kind !== 'slack') problems.push(`slack.service: identity.services "${svc.name}" is of kind ${svc.kind}, not slack`);
  if (!svc.keys.length) problems.push(`slack.service: identity.services "${svc.name}" lists no keys: the worker would refuse everything the app signs`);
  if (!svc.may.some((k) => (SLACK_ATTESTED_KINDS as readonly string[]).includes(k))) {
    problems.push(`slack.service: identity.services "${svc.name}" may attest nothing /incident does (may: ${svc.may.join(', ') || 'nothing'}; useful: ${SLACK_ATTESTED_KINDS.join(', ')})`);
  }
  if (!identity.responders.some((r) => r.slack?.team === slack.teamId)) {
    problems.push(`slack.teamId: no identity.responders entry has slack.team ${slack.teamId}: everyone would be refused`);
  }
  return problems;
}

/** What in `slack.channels` names a target or approver group the config lacks. */
export function slackChannelProblems(slack: SlackConfig | undefined, targets: readonly string[], groups: readonly string[]): string[] {
  const c = slack?.channels;
  if (!c) return [];
  return [
    ...(c.targets ?? []).filter((t) => !targets.includes(t)).map((t) => `slack.channels.targets: no target named "${t}" (targets: ${targets.join(', ')})`),
    ...c.inviteGroups.filter((g) => !groups.includes(g)).map((g) => `slack.channels.inviteGroups: no approver group "${g}" (approvers.groups: ${groups.join(', ') || 'none'})`),
  ];
}

/** Does an incident on `target` get a channel (and notifications)? */
export function channelsFor(slack: SlackConfig | undefined, target: string): SlackChannelsConfig | undefined {
  const c = slack?.channels;
  if (!c || (c.targets && !c.targets.includes(target))) return undefined;
  return c;
}
