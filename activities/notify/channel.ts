/**
 * `notify.open_channel`: the incident's Slack channel, opened once at declaration. Every
 * stage is safe to repeat, so a retried attempt (or a worker that died half-way) ends with
 * the same one channel, one status message and one pin:
 * - create `<prefix>-<id>`; when the name is taken, the channel is reused if our bot created
 *   it (an earlier attempt), else the next name (`-2`, `-3`…) is tried;
 * - invite the declarer and the configured groups one by one (`already_in_channel` is fine);
 * - set the topic (state · severity · phase), unless it already says that;
 * - post the status message unless the channel's history already holds ours (found by its
 *   metadata), and pin it (`already_pinned` is fine).
 */
import { statusMessage, statusTopic } from '../../slack/blocks/status-message.js';
import type { SlackChannelsConfig } from '../../lib/config-slack.js';
import type { SlackChannelRef } from '../../workflows/definitions.js';
import { SLACK_STATUS_EVENT_TYPE, statusMetadata, type OpenChannelInput } from '../../workflows/notify-definitions.js';
import { heartbeat } from '../support/context.js';
import type { ActivityDeps } from '../deps.js';
import { registryOf } from '../support/registry.js';
import { SlackApiError, slackRefused, type SlackWebApi } from './client.js';

/** Names tried before giving up: the base name and four suffixes. */
const NAME_TRIES = 5;
/** Pages of 200 read when looking a channel or message up (Slack paginates; incidents are young). */
const PAGES = 10;

/** `<prefix>-<id>` in Slack's channel alphabet: `INC-20261203-1a2b` → `inc-20261203-1a2b`. */
export function channelName(prefix: string, incidentId: string, n = 1): string {
  const id = incidentId
    .toLowerCase()
    .replace(/^inc-/, '')
    .replace(/[^a-z0-9_-]+/g, '-');
  return `${prefix}-${id}${n > 1 ? `-${n}` : ''}`.slice(0, 80);
}

interface Channel {
  id: string;
  name: string;
  creator?: string;
}

/** A channel named `name`, as conversations.list shows it (archived ones excluded: their name stays taken). */
async function findChannel(api: SlackWebApi, name: string, isPrivate: boolean): Promise<Channel | undefined> {
  let cursor: string | undefined;
  for (let page = 0; page < PAGES; page++) {
    const res = await api.call('conversations.list', { types: isPrivate ? 'private_channel' : 'public_channel', exclude_archived: true, limit: 200, ...(cursor && { cursor }) });
    const found = (res.channels as Channel[] | undefined)?.find((c) => c.name === name);
    if (found) return found;
    cursor = (res.response_metadata as { next_cursor?: string } | undefined)?.next_cursor || undefined;
    if (!cursor) return undefined;
  }
  return undefined;
}

/** Create the channel, or find the one an earlier attempt created. */
async function createOrReuse(api: SlackWebApi, cfg: SlackChannelsConfig, incidentId: string): Promise<Channel> {
  const bot = await api.botUser();
  const taken: string[] = [];
  for (let n = 1; n <= NAME_TRIES; n++) {
    const name = channelName(cfg.prefix, incidentId, n);
    try {
      const res = await api.call('conversations.create', { name, is_private: cfg.private });
      const c = res.channel as Channel;
      return { id: c.id, name: c.name };
    } catch (err) {
      if (!(err instanceof SlackApiError) || err.error !== 'name_taken') throw err;
    }
    const existing = await findChannel(api, name, cfg.private);
    if (existing && existing.creator === bot) return existing;
    taken.push(name);
  }
  throw new SlackApiError('conversations.create', `name_taken (${taken.join(', ')} are held by channels Firebreak did not create)`);
}

/** Slack ids to invite: the declarer's and the configured groups' members (ours, in our workspace). */
async function invitees(deps: ActivityDeps, api: SlackWebApi, cfg: SlackChannelsConfig, declarer: string): Promise<string[]> {
  const team = deps.config.slack?.teamId;
  const registry = registryOf(deps);
  const slackOf = (name: string) => registry.responders.find((r) => r.name === name && r.slack?.team === team)?.slack?.user;
  const groups = deps.config.approvers.groups;
  const names = [declarer, ...cfg.inviteGroups.flatMap((g) => (Object.hasOwn(groups, g) ? (groups[g] ?? []) : []))];
  const ids = names.map(slackOf).filter((u): u is string => u !== undefined);
  for (const usergroup of cfg.inviteUsergroups) {
    const res = await api.call('usergroups.users.list', { usergroup });
    ids.push(...((res.users as string[] | undefined) ?? []));
  }
  const bot = await api.botUser();
  return [...new Set(ids)].filter((u) => u !== bot);
}

const FINE_ON_INVITE = new Set(['already_in_channel', 'cant_invite_self']);

/** The message of ours in the channel's history that carries `type` for this incident. */
export async function findOurMessage(api: SlackWebApi, method: 'conversations.history' | 'conversations.replies', args: Record<string, unknown>, match: (payload: Record<string, unknown>) => boolean, type: string): Promise<string | undefined> {
  let cursor: string | undefined;
  for (let page = 0; page < PAGES; page++) {
    const res = await api.call(method, { ...args, include_all_metadata: true, limit: 200, ...(cursor && { cursor }) });
    const messages = (res.messages as Array<{ ts?: string; metadata?: { event_type?: string; event_payload?: Record<string, unknown> } }> | undefined) ?? [];
    const found = messages.find((m) => m.metadata?.event_type === type && m.metadata.event_payload !== undefined && match(m.metadata.event_payload));
    if (found?.ts) return found.ts;
    cursor = (res.response_metadata as { next_cursor?: string } | undefined)?.next_cursor || undefined;
    if (!cursor) return undefined;
  }
  return undefined;
}

/**
 * Set the channel's topic to `topic` unless it already is: setting a topic posts a line in
 * the channel, so a retry, or the Slack app's refresher having set it first, adds none.
 */
export async function syncTopic(api: SlackWebApi, channel: string, topic: string): Promise<boolean> {
  let now: string | undefined;
  try {
    const info = await api.call('conversations.info', { channel });
    now = (info.channel as { topic?: { value?: string } } | undefined)?.topic?.value;
  } catch (err) {
    // Without channels:read (groups:read) the topic cannot be read back: it is set, as before.
    if (!(err instanceof SlackApiError)) throw err;
  }
  if (now === topic) return false;
  await api.call('conversations.setTopic', { channel, topic });
  return true;
}

export function createOpenChannel(deps: ActivityDeps, api: () => SlackWebApi) {
  return async function notifyOpenChannel(input: OpenChannelInput): Promise<SlackChannelRef> {
    const cfg = deps.config.slack?.channels;
    if (!cfg) throw slackRefused(new SlackApiError('conversations.create', 'not_configured'), ' (slack.channels is not in the worker config)');
    const slack = api();
    const log = deps.logger.child({ incidentId: input.incidentId, activity: 'notify.open_channel' });
    try {
      const channel = await createOrReuse(slack, cfg, input.incidentId);
      heartbeat('created');
      for (const user of await invitees(deps, slack, cfg, input.declarer)) {
        try {
          await slack.call('conversations.invite', { channel: channel.id, users: user });
        } catch (err) {
          if (!(err instanceof SlackApiError)) throw err;
          // Someone who cannot be invited (deactivated, external) does not stop the channel.
          if (!FINE_ON_INVITE.has(err.error)) log.warn({ user, error: err.error }, 'not invited to the incident channel');
        }
      }
      await syncTopic(slack, channel.id, statusTopic(input.status));
      const command = deps.config.slack?.command;
      let statusTs = await findOurMessage(slack, 'conversations.history', { channel: channel.id }, (p) => p.incident_id === input.incidentId, SLACK_STATUS_EVENT_TYPE);
      if (!statusTs) {
        const m = statusMessage(input.status, { ...(command && { command }) });
        const posted = await slack.call('chat.postMessage', { channel: channel.id, text: m.text, blocks: m.blocks, metadata: statusMetadata(input.incidentId) });
        statusTs = String(posted.ts);
      }
      try {
        await slack.call('pins.add', { channel: channel.id, timestamp: statusTs });
      } catch (err) {
        if (!(err instanceof SlackApiError) || err.error !== 'already_pinned') throw err;
      }
      log.info({ channel: channel.id, name: channel.name, statusTs }, 'incident channel open');
      return { channel: channel.id, name: channel.name, statusTs };
    } catch (err) {
      if (err instanceof SlackApiError) throw slackRefused(err);
      throw err;
    }
  };
}
