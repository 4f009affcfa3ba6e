/**
 * The `notify.*` action family: the incident's Slack channel and the events posted into it,
 * called by the workflow off the containment path. The Slack Web API client is injected
 * (deps.slack), built once per worker from `slack.apiUrl` and the bot token's reference.
 */
import { readSecret, type Config } from '../../lib/config.js';
import type { ActivityDeps } from '../deps.js';
import { slackRefused, SlackApiError, SlackWebApi } from './client.js';
import { createOpenChannel } from './channel.js';
import { createNotifyEvent } from './event.js';

/** The worker's Slack client when slack.channels is configured (the token is read per call, never kept). */
export function slackClientFor(config: Readonly<Config>): SlackWebApi | undefined {
  const slack = config.slack;
  if (!slack?.channels) return undefined;
  return new SlackWebApi({ apiUrl: slack.apiUrl, token: () => readSecret(slack.botToken) });
}

export function createNotifyActivities(deps: ActivityDeps) {
  const api = (): SlackWebApi => {
    if (!deps.slack) throw slackRefused(new SlackApiError('notify', 'not_configured'), ' (the worker has no slack.channels config)');
    return deps.slack;
  };
  return {
    notifyOpenChannel: createOpenChannel(deps, api),
    notifyEvent: createNotifyEvent(deps, api),
  };
}

export { channelName } from './channel.js';
export { eventMessage } from './event.js';
export { SlackApiError, SlackWebApi } from './client.js';
