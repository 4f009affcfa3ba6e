/**
 * `notify.event`: one incident event as a reply in the status message's thread, posted at
 * most once. Each post carries Slack message metadata naming the incident and the event's
 * key (fixed by the workflow, the same on every retry); before posting, the thread is read
 * (conversations.replies) and an earlier attempt's post, found by that key, is edited
 * (chat.update) instead. Slack itself is the durable record, so a worker killed after the
 * post but before the activity completed still posts nothing twice, with no store of ours.
 * Then the channel topic is brought to the incident's state, severity and phase (set only
 * when it changes), so it follows the incident even when the Slack app is not running.
 */
import type { types } from '@slack/bolt';
import { gateMessage } from '../../slack/blocks/gate-message.js';
import { link, md, mrkdwn, SLACK_LIMITS } from '../../slack/blocks/text.js';
import { SLACK_EVENT_TYPE, type NotifyEventInput, type NotifyEventKind, type NotifyEventResult } from '../../workflows/notify-definitions.js';
import type { ActivityDeps } from '../deps.js';
import { statusTopic } from '../../slack/blocks/status-message.js';
import { findOurMessage, syncTopic } from './channel.js';
import { SlackApiError, slackRefused, type SlackWebApi } from './client.js';

const EMOJI: Record<NotifyEventKind, string> = {
  'gate-opened': ':raised_hand:',
  escalation: ':rotating_light:',
  'step-failed': ':x:',
  blocked: ':octagonal_sign:',
  containment: ':shield:',
  'all-clear': ':large_green_circle:',
  aborted: ':no_entry_sign:',
  completed: ':white_check_mark:',
};

/** The event's message: Firebreak's line with people's text escaped (no pings, no links but ours). */
export function eventMessage(input: Pick<NotifyEventInput, 'kind' | 'text' | 'url'>): { text: string; blocks: types.KnownBlock[] } {
  const line = `${EMOJI[input.kind]} ${md(input.text, SLACK_LIMITS.text - 300)}`;
  const withLink = input.url ? `${line}\n${link(input.url, 'post-mortem')}` : line;
  return { text: md(input.text, SLACK_LIMITS.fallbackText), blocks: [{ type: 'section', text: mrkdwn(withLink) }] };
}

export function createNotifyEvent(deps: ActivityDeps, api: () => SlackWebApi) {
  return async function notifyEvent(input: NotifyEventInput): Promise<NotifyEventResult> {
    const slack = api();
    const { channel, statusTs } = input.channel;
    const command = deps.config.slack?.command;
    // A gate goes out as the gate message, with its Approve / Deny buttons (slack/listeners/actions).
    const m = input.gate ? gateMessage(input.gate.incident, input.gate.gate, { ...(command && { command }) }) : eventMessage(input);
    const metadata = { event_type: SLACK_EVENT_TYPE, event_payload: { incident_id: input.incidentId, key: input.key, kind: input.kind } };
    let result: NotifyEventResult;
    try {
      const earlier = await findOurMessage(slack, 'conversations.replies', { channel, ts: statusTs }, (p) => p.incident_id === input.incidentId && p.key === input.key, SLACK_EVENT_TYPE);
      if (earlier) {
        await slack.call('chat.update', { channel, ts: earlier, text: m.text, blocks: m.blocks, metadata });
        deps.logger.info({ incidentId: input.incidentId, key: input.key, ts: earlier }, 'incident event already posted: edited');
        result = { ts: earlier, posted: false };
      } else {
        const posted = await slack.call('chat.postMessage', { channel, thread_ts: statusTs, text: m.text, blocks: m.blocks, metadata, unfurl_links: false });
        result = { ts: String(posted.ts), posted: true };
      }
    } catch (err) {
      if (err instanceof SlackApiError) throw slackRefused(err);
      throw err;
    }
    if (input.status) {
      try {
        await syncTopic(slack, channel, statusTopic(input.status));
      } catch (err) {
        // A topic Slack refuses for good (scope, archived channel) never makes the event missed; Slack's own trouble retries.
        if (!(err instanceof SlackApiError)) throw err;
        deps.logger.warn({ incidentId: input.incidentId, channel, error: err.error }, 'incident channel topic not set');
      }
    }
    return result;
  };
}
