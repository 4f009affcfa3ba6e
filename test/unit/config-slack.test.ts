/** The slack section: defaults, and what cannot work refused at load, naming the key. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { ConfigError } from '../../lib/errors.js';
import { ephemeralKeyPair, publicLine } from '../../lib/identity/keys.js';

const dir = mkdtempSync(join(tmpdir(), 'fbt-config-slack-'));
let n = 0;
const appKey = publicLine(ephemeralKeyPair(), 'slack-app');
const intakeKey = publicLine(ephemeralKeyPair(), 'intake');
const aliceKey = publicLine(ephemeralKeyPair(), 'alice');

function yaml(slack: Record<string, string>, o: { services?: string[]; team?: string } = {}): string {
  const fields = { signingSecret: '{ env: SLACK_SIGNING_SECRET }', botToken: '{ file: /run/secrets/slack-bot }', teamId: 'T0FIRE', service: 'slack-app', keyFile: '/etc/firebreak/slack/ed25519.key', ...slack };
  return [
    'identity:',
    '  responders:',
    `    - { name: alice, keys: ["${aliceKey}"], slack: { team: ${o.team ?? 'T0FIRE'}, user: U0ALICE } }`,
    '  services:',
    ...(o.services ?? [`    - { name: slack-app, kind: slack, keys: ["${appKey}"], may: [approve, resolve, note] }`, `    - { name: intake, kind: intake, keys: ["${intakeKey}"], may: [declare] }`]),
    'slack:',
    ...Object.entries(fields).filter(([, v]) => v !== '').map(([k, v]) => `  ${k}: ${v}`),
  ].join('\n');
}

function load(text: string) {
  const file = join(dir, `c${(n += 1)}.yaml`);
  writeFileSync(file, text);
  return loadConfig({ file, env: {} });
}

function problems(text: string): string {
  try {
    load(text);
    return '';
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.join('\n');
    throw err;
  }
}

describe('config: slack', () => {
  it('fills the defaults and keeps secrets as references', () => {
    const c = load(yaml({}));
    expect(c.slack).toEqual({
      signingSecret: { env: 'SLACK_SIGNING_SECRET' },
      botToken: { file: '/run/secrets/slack-bot' },
      teamId: 'T0FIRE',
      apiUrl: 'https://slack.com/api/',
      command: '/incident',
      host: '127.0.0.1',
      port: 3000,
      service: 'slack-app',
      keyFile: '/etc/firebreak/slack/ed25519.key',
    });
    expect(load('log: { level: warn }').slack).toBeUndefined();
  });

  it.each([
    [{ teamId: 'acme' }, /slack\.teamId: must be a Slack workspace \(team\) id/],
    [{ enterpriseId: 'e-1' }, /slack\.enterpriseId: must be a Slack Enterprise Grid org id/],
    [{ apiUrl: 'https://slack.com/api' }, /slack\.apiUrl: must end with "\/"/],
    [{ apiUrl: 'ftp://slack.com/api/' }, /slack\.apiUrl: must be an http\(s\) URL/],
    [{ command: 'incident' }, /slack\.command: a slash command/],
    [{ port: '70000' }, /slack\.port/],
    [{ keyFile: 'keys/slack.key' }, /slack\.keyFile: must be an absolute path/],
    [{ signingSecret: 'plain-text-secret' }, /slack\.signingSecret/],
    [{ botToken: '' }, /slack\.botToken/],
    [{ extra: 'x' }, /slack: Unrecognized key.*extra/],
  ])('refuses %j', (slack, pattern) => {
    expect(problems(yaml(slack))).toMatch(pattern);
  });

  it('refuses a service the registry lacks, of another kind, without keys or without a kind /incident attests', () => {
    expect(problems(yaml({ service: 'slack-bot' }))).toMatch(/slack\.service: no identity\.services entry named "slack-bot" \(kind slack: slack-app\)/);
    expect(problems(yaml({ service: 'intake' }))).toMatch(/identity\.services "intake" is of kind intake, not slack/);
    expect(problems(yaml({}, { services: ['    - { name: slack-app, kind: slack, keys: [], may: [approve] }'] }))).toMatch(/lists no keys: the worker would refuse everything the app signs/);
    expect(problems(yaml({}, { services: [`    - { name: slack-app, kind: slack, keys: ["${appKey}"], may: [personal-data] }`] }))).toMatch(/may attest nothing \/incident does/);
  });

  it('slack.channels: defaults, and what the worker could not act on refused at load', () => {
    expect(load(yaml({ channels: '{}' })).slack?.channels).toEqual({ prefix: 'inc', private: false, inviteGroups: [], inviteUsergroups: [] });
    const full = load(`${yaml({ channels: '{ prefix: sec, private: true, targets: [local], inviteGroups: [responders], inviteUsergroups: [S0ONCALL] }' })}\napprovers: { groups: { responders: [alice] } }`);
    expect(full.slack?.channels).toEqual({ prefix: 'sec', private: true, targets: ['local'], inviteGroups: ['responders'], inviteUsergroups: ['S0ONCALL'] });
    expect(problems(yaml({ channels: '{ targets: [prod] }' }))).toMatch(/slack\.channels\.targets: no target named "prod" \(targets: local\)/);
    expect(problems(yaml({ channels: '{ inviteGroups: [sre] }' }))).toMatch(/slack\.channels\.inviteGroups: no approver group "sre" \(approvers\.groups: none\)/);
    expect(problems(yaml({ channels: '{ prefix: Inc_ }' }))).toMatch(/slack\.channels\.prefix: lower-case letters/);
    expect(problems(yaml({ channels: '{ inviteUsergroups: [oncall] }' }))).toMatch(/slack\.channels\.inviteUsergroups\.0: must be a Slack user group id/);
    expect(problems(yaml({ channels: '{ topic: x }' }))).toMatch(/slack\.channels: Unrecognized key.*topic/);
  });

  it('refuses a workspace no responder is mapped in', () => {
    expect(problems(yaml({}, { team: 'T0OTHER' }))).toMatch(/slack\.teamId: no identity\.responders entry has slack\.team T0FIRE: everyone would be refused/);
  });
});
