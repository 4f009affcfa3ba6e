/** The app manifest in the repo points Slack at what the app serves. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/config.js';
import { slackSchema } from '../../lib/config-slack.js';
import { EVENTS_PATH } from '../../slack/app.js';

interface Manifest {
  features: { slash_commands: Array<{ command: string; url: string }> };
  oauth_config: { scopes: { bot: string[] } };
  settings: { interactivity: { is_enabled: boolean; request_url: string }; event_subscriptions: { request_url: string; bot_events: string[] }; socket_mode_enabled: boolean };
}

describe('slack/manifest.yaml', () => {
  const m = parse(readFileSync(join(PROJECT_ROOT, 'slack/manifest.yaml'), 'utf8')) as Manifest;

  it('declares the default command, one Request URL for everything, and the events the app listens to', () => {
    const defaults = slackSchema.parse({ signingSecret: { env: 'S' }, botToken: { env: 'T' }, teamId: 'T0FIRE', service: 'slack-app', keyFile: '/k' });
    expect(m.features.slash_commands.map((c) => c.command)).toEqual([defaults.command]);
    const urls = [...m.features.slash_commands.map((c) => c.url), m.settings.interactivity.request_url, m.settings.event_subscriptions.request_url];
    expect(urls.every((u) => new URL(u).protocol === 'https:' && new URL(u).pathname === EVENTS_PATH)).toBe(true);
    expect(m.settings.interactivity.is_enabled).toBe(true);
    expect(m.settings.socket_mode_enabled).toBe(false);
    expect(m.settings.event_subscriptions.bot_events.sort()).toEqual(['app_uninstalled', 'tokens_revoked']);
  });

  it('asks for the minimal bot scopes and no user scopes', () => {
    // channels:* and pins:write are the incident channel's (activities/notify), usergroups:read its invites.
    expect(m.oauth_config.scopes.bot.sort()).toEqual(['channels:history', 'channels:manage', 'channels:read', 'chat:write', 'commands', 'pins:write', 'usergroups:read', 'users:read']);
    expect(Object.keys(m.oauth_config.scopes)).toEqual(['bot']);
  });
});
