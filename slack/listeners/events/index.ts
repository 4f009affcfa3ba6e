import type { App } from '@slack/bolt';
import type { SlackDeps } from '../../deps.js';
import { appUninstalled } from './app-uninstalled.js';
import { tokensRevoked } from './tokens-revoked.js';

export function register(app: App, deps: SlackDeps): void {
  app.event('app_uninstalled', appUninstalled(deps));
  app.event('tokens_revoked', tokensRevoked(deps));
}
