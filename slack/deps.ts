/** What every listener is given: built once by slack/server.ts. */
import type { Config } from '../lib/config.js';
import type { SlackConfig } from '../lib/config-slack.js';
import type { FrontDoor } from '../lib/incidents/types.js';
import type { Logger } from '../lib/logger.js';
import type { SlackIdentity } from './identity.js';

export interface SlackDeps {
  config: Readonly<Config>;
  slack: SlackConfig;
  logger: Logger;
  /** The incident service's front door: Temporal is reached only through lib/incidents with it. */
  door: FrontDoor;
  identity: SlackIdentity;
  /** The live status messages (slack/live): a listener pokes an incident after changing it, so its message refreshes now. */
  live?: { poke(incidentId: string): void };
}
