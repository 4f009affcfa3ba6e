import type { App } from '@slack/bolt';
import type { SlackDeps } from '../../deps.js';
import { incidentCommand } from './incident.js';

export function register(app: App, deps: SlackDeps): void {
  // Every slash command reaches one listener, so a command this app does not serve is answered, not left to time out.
  app.command(/^\//, incidentCommand(deps));
}
