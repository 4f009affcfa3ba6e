/** Every listener, registered by kind (the layout of Slack's bolt starter template). */
import type { App } from '@slack/bolt';
import type { SlackDeps } from '../deps.js';
import { register as actions } from './actions/index.js';
import { register as commands } from './commands/index.js';
import { register as events } from './events/index.js';
import { register as views } from './views/index.js';

export function registerListeners(app: App, deps: SlackDeps): void {
  commands(app, deps);
  actions(app, deps);
  views(app, deps);
  events(app, deps);
}
