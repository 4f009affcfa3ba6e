/** The live status refresher of `firebreak slack`, with its own web client: 429s come back to it (it waits Retry-After itself), no retries of the client's own. */
import { webApi } from '@slack/bolt';
import type { Config } from '../../lib/config.js';
import type { FrontDoor } from '../../lib/incidents/types.js';
import type { Logger } from '../../lib/logger.js';
import { webClientOptions } from '../app.js';
import { LiveStatus, type LiveOptions } from './refresher.js';

export { LiveStatus, type LiveOptions } from './refresher.js';
export { renderLive, type LiveRender } from './render.js';

export function createLiveStatus(o: { config: Readonly<Config>; logger: Logger; door: FrontDoor; botToken: string; options?: LiveOptions }): LiveStatus {
  const slack = o.config.slack;
  if (!slack) throw new Error('createLiveStatus: the config has no slack section');
  const logger = o.logger.child({ component: 'slack-live' });
  const web = new webApi.WebClient(o.botToken, { ...webClientOptions(slack, logger), rejectRateLimitedCalls: true, retryConfig: { retries: 0 } });
  return new LiveStatus({ door: o.door, web, logger, command: slack.command, taskQueue: o.config.temporal.taskQueue }, o.options);
}
