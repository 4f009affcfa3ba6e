/**
 * The Slack front door over real HTTP: the Bolt app (slack/server.ts) receives requests
 * signed exactly as Slack signs them, calls a local stand-in of the Web API, answers
 * through recorded response_urls, and steers real incidents (Temporal dev server, worker,
 * Redis). Every refusal is checked against Temporal and Redis: nothing started, nothing changed.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyPair, keyFilePath, publicLine, type KeyPair } from '../../lib/identity/keys.js';
import { declareIncident, getStatus, handleFor, TERMINAL, waitFor } from '../../lib/incidents/index.js';
import { createLogger } from '../../lib/logger.js';
import type { IncidentStatus } from '../../workflows/definitions.js';
import { startSlackServer, type SlackServer } from '../../slack/server.js';
import { BIN, runCli } from '../helpers/cli.js';
import { DECLARER, startStack, type Stack } from '../helpers/firebreak.js';
import { postToApp, slashCommandBody, startSlackStandIn, type SlackStandIn } from '../helpers/slack-standin.js';

const TEAM = 'T0FIRE';
const SECRET = 'test-signing-secret-8f3a1c';
const SLACK_IDS: Record<string, string> = { [DECLARER]: 'U0OLGA', alice: 'U0ALICE', bob: 'U0BOB', carol: 'U0CAROL', mallory: 'U0MALLORY', dave: 'U0DAVE' };

let stack: Stack;
let api: SlackStandIn;
let server: SlackServer;
let keyDir: string;
let slackKey: KeyPair;
const logs: string[] = [];

const slackEnv = () => ({ FBT_SLACK_SIGNING: SECRET, FBT_SLACK_TOKEN: api.token });

beforeAll(async () => {
  api = await startSlackStandIn({ teamId: TEAM });
  for (const id of Object.values(SLACK_IDS)) api.addUser({ id });
  api.addUser({ id: 'U0NOBODY' });
  keyDir = mkdtempSync(join(tmpdir(), 'fbt-slack-key-'));
  slackKey = await createKeyPair(keyDir);
  stack = await startStack('slack', {
    slack: Object.fromEntries(Object.entries(SLACK_IDS).map(([name, user]) => [name, { team: TEAM, user }])),
    identityExtra: ['  services:', `    - { name: slack-app, kind: slack, keys: ["${publicLine(slackKey, 'slack-app')}"], may: [declare, approve, resolve, abort, note, retry] }`],
    extraConfig: [
      'slack:',
      '  signingSecret: { env: FBT_SLACK_SIGNING }',
      '  botToken: { env: FBT_SLACK_TOKEN }',
      `  teamId: ${TEAM}`,
      `  apiUrl: "${api.apiUrl}"`,
      '  service: slack-app',
      `  keyFile: ${keyFilePath(keyDir)}`,
      '  port: 0',
    ].join('\n'),
  });
  stack.writeRunbook(
    'slack-gate',
    ['name: slack-gate', 'title: Slack gate', 'severity: high', 'resolve:', '  approval: { count: 1, group: responders }', 'phases:', '  containment:', '    - id: lockdown', '      action: lockdown.enable', '      approval: { count: 2, group: responders }'].join('\n'),
  );
  stack.writeRunbook(
    'flaky-read',
    ['name: flaky-read', 'title: A read that fails until the target is fixed', 'severity: low', 'phases:', '  detection:', '    - id: read', '      action: lockdown.status', '      retry: { maximum_attempts: 2, initial_interval: 100ms }'].join('\n'),
  );
  const logger = createLogger({ level: 'info', destination: { write: (line: string) => void logs.push(line) } });
  server = await startSlackServer({ config: stack.config, logger, env: slackEnv() });
}, 120_000);

afterAll(async () => {
  await server?.close();
  await stack?.stop();
  await api?.close();
  if (keyDir) rmSync(keyDir, { recursive: true, force: true });
});

let seq = 0;
/** `/incident <text>` from a Slack user, signed; the response_url is recorded under a fresh name. */
async function slash(user: string, text: string, o: { team?: string; secret?: string; ts?: number; headers?: Record<string, string | undefined>; command?: string } = {}) {
  const name = `r${++seq}`;
  const body = slashCommandBody({ team: o.team ?? TEAM, user, text, responseUrl: api.responseUrl(name), command: o.command });
  const ack = await postToApp(server.url, body, { secret: o.secret ?? SECRET, ts: o.ts, headers: o.headers });
  return { name, body, ack, reply: () => api.nextResponse(name) };
}

const as = (person: string) => SLACK_IDS[person] as string;
const flag = () => stack.redis.redis.get(stack.flagKey);
const ackText = (body: string) => (body ? ((JSON.parse(body) as { text?: string }).text ?? '') : '');
const ackJson = (body: string) => JSON.parse(body) as { text: string; response_type: string };

async function gateOpen(runbook = 'slack-gate'): Promise<{ id: string; status: IncidentStatus }> {
  const { id } = await declareIncident(stack.client, stack.config, { runbook, actor: stack.actor(DECLARER) });
  const status = await waitFor(stack.client, id, (s) => s.gates.some((g) => g.state === 'open'));
  return { id, status };
}

/** Workflows started on this stack's task queue since `since` (visibility catches up first). */
async function startedSince(since: Date): Promise<string[]> {
  await new Promise((r) => setTimeout(r, 1_500));
  const ids: string[] = [];
  for await (const wf of stack.client.workflow.list({ query: `TaskQueue = '${stack.config.temporal.taskQueue}' AND StartTime > '${since.toISOString()}'` })) ids.push(wf.workflowId);
  return ids;
}

describe('the receiver (Bolt HTTPReceiver)', () => {
  it('answers url_verification and ssl_check, and refuses bodies without a length or over 1 MiB', async () => {
    const verify = await postToApp(server.url, JSON.stringify({ token: 'x', challenge: 'ch4llenge', type: 'url_verification' }), { secret: SECRET, contentType: 'application/json' });
    expect(verify.status).toBe(200);
    expect(JSON.parse(verify.body)).toEqual({ challenge: 'ch4llenge' });
    const unsigned = await postToApp(server.url, JSON.stringify({ challenge: 'c', type: 'url_verification' }), { secret: 'not-the-secret', contentType: 'application/json' });
    expect(unsigned.status).toBe(401);
    // Slack's ssl_check comes unsigned; Bolt answers it and drops anything smuggled with it.
    const ssl = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `ssl_check=1&token=x&${slashCommandBody({ team: TEAM, user: as('alice'), text: 'lockdown on', responseUrl: api.responseUrl('smuggled') })}` });
    expect(ssl.status).toBe(200);
    const big = await postToApp(server.url, `text=${'x'.repeat(1024 * 1024 + 1)}`, { secret: SECRET });
    expect(big.status).toBe(413);
    expect((await fetch(server.url.replace('/slack/events', '/healthz'))).status).toBe(200);
    expect((await fetch(server.url.replace('/slack/events', '/other'), { method: 'POST', body: 'x' })).status).toBe(404);
    expect(api.responses.filter((r) => r.name === 'smuggled')).toEqual([]);
  });
});

describe('/incident, with the CLI’s rules', () => {
  it('help lists every subcommand in the ack itself; declare acks with nothing to say', async () => {
    const help = await slash(as('alice'), 'help');
    expect(help.ack.status).toBe(200);
    const body = ackJson(help.ack.body);
    expect(body.response_type).toBe('ephemeral');
    for (const sub of ['status', 'list', 'approve', 'abort', 'resolve', 'note', 'retry', 'lockdown', 'declare']) expect(body.text).toContain(`/incident ${sub}`);
    // declare opens its modal after the ack (test/integration/slack-interactive.test.ts).
    expect((await slash(as('alice'), 'declare token-leak')).ack.body).toBe('');
  });

  it('status and list answer through response_url, after the ack', async () => {
    const { id } = await gateOpen();
    const status = await slash(as('carol'), `status ${id}`);
    expect(status.ack.status).toBe(200);
    expect(status.ack.body).toBe('');
    const reply = await status.reply();
    expect(reply.body).toMatchObject({ response_type: 'ephemeral' });
    expect(String(reply.body.text)).toContain(`*${id}* Slack gate`);
    expect(String(reply.body.text)).toMatch(/state \*awaiting-approval\*/);
    expect(String(reply.body.text)).toMatch(new RegExp(`/incident approve ${id} lockdown --hash [0-9a-f]{12}`));
    const list = await (await slash(as('carol'), 'list')).reply();
    expect(String(list.body.text)).toContain(id);
    const open = await (await slash(as('carol'), 'status')).reply();
    expect(String(open.body.text)).toMatch(/Open incidents/);
    expect(String(open.body.text)).toContain(id);
    await handleFor(stack.client, id).terminate('test done');
  });

  it('the declarer’s own approve is refused with the reason; two mapped responders pass the gate; a note and the all-clear complete it', async () => {
    await stack.redis.redis.del(stack.flagKey);
    const { id, status } = await gateOpen();
    const hash = status.gates.find((g) => g.id === 'lockdown')?.argsHash as string;

    const own = await (await slash(as(DECLARER), `approve ${id} lockdown`)).reply();
    expect(own.body).toMatchObject({ response_type: 'ephemeral' });
    expect(String(own.body.text)).toMatch(/two-person rule: oncall-olga declared this incident/);
    expect(String(own.body.text)).toMatch(/_ref fb-[0-9a-f]{10}_/);
    const ref = /ref (fb-[0-9a-f]{10})/.exec(String(own.body.text))?.[1] as string;
    expect(logs.some((l) => l.includes(ref) && l.includes('two-person rule'))).toBe(true);
    expect((await getStatus(stack.client, id)).gates.find((g) => g.id === 'lockdown')?.approvals).toEqual([]);

    const stale = await (await slash(as('alice'), `approve ${id} lockdown --hash ${'0'.repeat(12)}`)).reply();
    expect(String(stale.body.text)).toMatch(/read the status again/);
    const first = await (await slash(as('alice'), `approve ${id} lockdown --hash ${hash.slice(0, 12)}`)).reply();
    expect(first.body).toMatchObject({ response_type: 'in_channel' });
    expect(String(first.body.text)).toMatch(/alice approved gate `lockdown` .*: 1\/2 \(open\)/);
    expect(await flag()).toBeNull();
    const again = await (await slash(as('alice'), `approve ${id} lockdown`)).reply();
    expect(String(again.body.text)).toMatch(/already/);
    await (await slash(as('bob'), `approve ${id} lockdown`)).reply();
    let s = await waitFor(stack.client, id, (x) => x.state === 'awaiting-resolve');
    expect(await flag()).toBe('1');
    expect(s.gates.find((g) => g.id === 'lockdown')?.approvals.map((v) => [v.by, v.via])).toEqual([
      ['alice', 'attested'],
      ['bob', 'attested'],
    ]);

    const note = await (await slash(as('carol'), `note ${id} flag verified from   the edge`)).reply();
    expect(String(note.body.text)).toMatch(/carol noted/);
    s = await getStatus(stack.client, id);
    expect(s.timeline.filter((t) => t.kind === 'note').map((t) => [t.by, t.message])).toEqual([['carol', expect.stringContaining('flag verified from the edge')]]);

    const resolved = await (await slash(as('alice'), `resolve ${id}`)).reply();
    expect(String(resolved.body.text)).toMatch(/alice gave the all-clear/);
    s = await waitFor(stack.client, id, (x) => TERMINAL.includes(x.state));
    expect(s.state).toBe('completed');
    expect(await flag()).toBeNull();
  });

  it('abort from Slack stops the incident with the reason', async () => {
    const { id } = await gateOpen();
    const r = await (await slash(as('alice'), `abort ${id} false alarm: the token was a test one`)).reply();
    expect(String(r.body.text)).toMatch(/alice aborted/);
    const s = await waitFor(stack.client, id, (x) => TERMINAL.includes(x.state));
    expect(s.state).toBe('aborted');
    expect(s.abortReason).toBe('false alarm: the token was a test one');
  });

  it('retry from Slack re-runs the failed step of a blocked incident', async () => {
    await stack.redis.redis.del(stack.flagKey);
    await stack.redis.redis.hset(stack.flagKey, 'wrong', 'type');
    const { id } = await declareIncident(stack.client, stack.config, { runbook: 'flaky-read', actor: stack.actor(DECLARER) });
    await waitFor(stack.client, id, (x) => x.state === 'blocked');
    await stack.redis.redis.del(stack.flagKey);
    const r = await (await slash(as(DECLARER), `retry ${id}`)).reply();
    expect(String(r.body.text)).toMatch(/retried `.*`: read/);
    const s = await waitFor(stack.client, id, (x) => TERMINAL.includes(x.state));
    expect(s.state).toBe('completed');
    expect(s.steps.map((x) => x.state)).toEqual(['succeeded']);
  });

  it('lockdown on acks before the work (the flag is set later), and off needs another responder', async () => {
    await stack.redis.redis.del(stack.flagKey);
    const on = await slash(as('alice'), 'lockdown on local leaked admin token');
    expect(on.ack.status).toBe(200);
    // The HTTP 200 arrived while nothing had been answered or done yet.
    expect(api.responses.some((r) => r.name === on.name)).toBe(false);
    const reply = await on.reply();
    expect(reply.at).toBeGreaterThan(on.ack.at);
    expect(String(reply.body.text)).toMatch(/alice locked down target local/);
    expect(await flag()).toBe('1');
    const id = /`(INC-[^`]+)`/.exec(String(reply.body.text))?.[1] as string;
    expect((await getStatus(stack.client, id)).identity?.declarer).toMatchObject({ responder: 'alice', via: 'attested' });

    const self = await (await slash(as('alice'), 'lockdown off')).reply();
    expect(String(self.body.text)).toMatch(/two-person rule|declared/);
    expect(await flag()).toBe('1');
    const off = await (await slash(as('bob'), 'lockdown off')).reply();
    expect(String(off.body.text)).toMatch(/bob gave the lockdown all-clear/);
    expect((await waitFor(stack.client, id, (x) => TERMINAL.includes(x.state))).state).toBe('completed');
    expect(await flag()).toBeNull();
  });
});

describe('refused, and nothing started or changed', () => {
  it('forged, unsigned, stale, other-workspace, unmapped, guest, bot, deactivated, external, malformed, unknown and oversized requests', async () => {
    await stack.redis.redis.del(stack.flagKey);
    const { id } = await gateOpen();
    const before = await getStatus(stack.client, id);
    const since = new Date();
    const lockdownOn = 'lockdown on local should never happen';

    expect((await slash(as('alice'), lockdownOn, { secret: 'forged-secret' })).ack.status).toBe(401);
    expect((await slash(as('alice'), lockdownOn, { headers: { 'x-slack-signature': undefined } })).ack.status).toBe(401);
    expect((await slash(as('alice'), lockdownOn, { headers: { 'x-slack-request-timestamp': undefined } })).ack.status).toBe(401);
    expect((await slash(as('alice'), lockdownOn, { ts: Math.floor(Date.now() / 1000) - 6 * 60 })).ack.status).toBe(401);
    expect(logs.some((l) => l.includes('Failed to verify authenticity: signature mismatch'))).toBe(true);
    expect(logs.some((l) => l.includes('x-slack-request-timestamp must differ from system time by no more than 5 minutes'))).toBe(true);
    const malformed = await postToApp(server.url, `payload=${encodeURIComponent('{"type":"block_actions", not json')}`, { secret: SECRET });
    expect(malformed.status).toBe(400);

    const otherTeam = await slash(as('alice'), lockdownOn, { team: 'T0OTHER' });
    expect(otherTeam.ack.status).toBe(200);
    expect(ackText(otherTeam.ack.body)).toMatch(/this Firebreak serves Slack workspace T0FIRE, not T0OTHER/);
    expect(ackText((await slash(as('alice'), 'frobnicate now')).ack.body)).toMatch(/unknown subcommand "frobnicate": try \/incident help/);
    expect(ackText((await slash(as('alice'), `note ${id} ${'x'.repeat(10_000)}`)).ack.body)).toMatch(/command text is limited to 4000 characters \(got 10\d{3}\); nothing was done/);
    expect(ackText((await slash(as('alice'), lockdownOn, { command: '/other' })).ack.body)).toMatch(/this app serves \/incident/);
    expect(ackText((await slash(as('alice'), 'approve INC-1 lockdown --hash zz')).ack.body)).toMatch(/--hash takes at least 12 hex digits/);

    const refusedAfterAck = async (user: string, pattern: RegExp) => {
      for (const text of [lockdownOn, `note ${id} should never land`, `approve ${id} lockdown`]) {
        const r = await slash(user, text);
        expect(r.ack.status).toBe(200);
        expect(r.ack.body).toBe('');
        const reply = await r.reply();
        expect(reply.body).toMatchObject({ response_type: 'ephemeral' });
        expect(String(reply.body.text)).toMatch(pattern);
      }
    };
    await refusedAfterAck('U0NOBODY', /Slack user U0NOBODY is not a Firebreak responder/);
    expect(logs.some((l) => l.includes('"slackUser":"U0NOBODY"') && l.includes('"reason":"unmapped"'))).toBe(true);
    api.addUser({ id: as('mallory'), is_restricted: true });
    await refusedAfterAck(as('mallory'), /is a guest \(restricted account\): refused/);
    api.addUser({ id: as('mallory'), is_ultra_restricted: true });
    await refusedAfterAck(as('mallory'), /is a guest/);
    api.addUser({ id: as('dave'), is_bot: true });
    await refusedAfterAck(as('dave'), /is a bot: refused/);
    api.addUser({ id: as('dave'), deleted: true });
    await refusedAfterAck(as('dave'), /is deactivated: refused/);
    api.addUser({ id: as('dave'), team_id: 'T0PARTNER', is_stranger: true });
    await refusedAfterAck(as('dave'), /belongs to another workspace \(T0PARTNER\): refused/);
    api.addUser({ id: as('dave') });

    expect(await startedSince(since)).toEqual([]);
    expect(await flag()).toBeNull();
    const after = await getStatus(stack.client, id);
    expect(after.timeline.length).toBe(before.timeline.length);
    expect(after.gates).toEqual(before.gates);
    await handleFor(stack.client, id).terminate('test done');
  });

  it('a retried delivery (X-Slack-Retry-Num) and a replayed one get 200 and act once', async () => {
    const { id } = await gateOpen();
    const first = await slash(as('carol'), `note ${id} exactly once`);
    expect(first.ack.status).toBe(200);
    await first.reply();
    const retried = await postToApp(server.url, first.body, { secret: SECRET, headers: { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' } });
    expect(retried.status).toBe(200);
    const replayed = await postToApp(server.url, first.body, { secret: SECRET });
    expect(replayed.status).toBe(200);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(api.responses.filter((r) => r.name === first.name)).toHaveLength(1);
    const s = await getStatus(stack.client, id);
    expect(s.timeline.filter((t) => t.kind === 'note').map((t) => t.message)).toEqual([expect.stringContaining('exactly once')]);
    await handleFor(stack.client, id).terminate('test done');
  });

  it('users.info rate-limited (429 Retry-After) is waited out; Slack failing (500) refuses, fail closed', async () => {
    const { id } = await gateOpen();
    api.fail('users.info', { status: 429, retryAfter: 1, times: 1 });
    const limited = await slash(as('carol'), `note ${id} after the rate limit`);
    const reply = await limited.reply();
    expect(String(reply.body.text)).toMatch(/carol noted/);
    expect(api.callsOf('users.info').slice(-2).map((c) => c.status)).toEqual([429, 200]);
    expect(reply.at - limited.ack.at).toBeGreaterThanOrEqual(900);

    api.fail('users.info', { status: 500 });
    const down = await (await slash(as('carol'), `note ${id} while Slack is down`)).reply();
    api.clearFailures();
    expect(String(down.body.text)).toMatch(/cannot check Slack user U0CAROL \(users\.info: .*\); nothing was done/);
    const s = await getStatus(stack.client, id);
    expect(s.timeline.filter((t) => t.kind === 'note').map((t) => t.message)).toEqual([expect.stringContaining('after the rate limit')]);
    await handleFor(stack.client, id).terminate('test done');
  });
});

describe('starting', () => {
  const logger = createLogger({ level: 'silent', pretty: false });

  it('refuses a key the registry does not list, and a bot token of another workspace', async () => {
    const otherDir = mkdtempSync(join(tmpdir(), 'fbt-slack-other-'));
    try {
      await createKeyPair(otherDir);
      const slack = stack.config.slack as NonNullable<typeof stack.config.slack>;
      await expect(startSlackServer({ config: { ...stack.config, slack: { ...slack, keyFile: keyFilePath(otherDir) } }, logger, env: slackEnv() })).rejects.toThrow(
        /slack.keyFile holds key ed25519:[0-9a-f]{16}, which identity.services "slack-app" does not list/,
      );
      const partner = await startSlackStandIn({ teamId: 'T0PARTNER' });
      try {
        await expect(startSlackServer({ config: { ...stack.config, slack: { ...slack, apiUrl: partner.apiUrl } }, logger, env: { ...slackEnv(), FBT_SLACK_TOKEN: partner.token } })).rejects.toThrow(
          /the bot token belongs to workspace T0PARTNER, not slack.teamId T0FIRE/,
        );
      } finally {
        await partner.close();
      }
      await expect(startSlackServer({ config: stack.config, logger, env: {} })).rejects.toThrow(/secret environment variable FBT_SLACK_SIGNING is not set/);
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
  });

  it('firebreak slack: --help, a config without slack, and a real start that prints its address and answers', async () => {
    const help = await runCli(['slack', '--help'], { cwd: stack.dir, env: stack.cliEnv('alice') });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/serve the Slack app \(\/incident\)/);
    writeFileSync(join(stack.dir, 'no-slack.yaml'), 'log: { level: warn }\n');
    const none = await runCli(['slack'], { cwd: stack.dir, env: { ...stack.cliEnv('alice'), FIREBREAK_CONFIG: join(stack.dir, 'no-slack.yaml') } });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/config: slack: missing; `firebreak slack` needs the slack section/);

    const child = spawn(process.execPath, [BIN, 'slack', '--port', '0'], { cwd: stack.dir, env: { ...stack.cliEnv('alice'), ...slackEnv() }, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /listening on (http:\/\/\S+)/.exec(out);
          if (m?.[1]) resolve(m[1]);
        });
        child.once('exit', (code) => reject(new Error(`firebreak slack exited ${code}`)));
        setTimeout(() => reject(new Error('firebreak slack printed no address')), 30_000);
      });
      const verify = await postToApp(url, JSON.stringify({ challenge: 'from-cli', type: 'url_verification' }), { secret: SECRET, contentType: 'application/json' });
      expect(JSON.parse(verify.body)).toEqual({ challenge: 'from-cli' });
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});
