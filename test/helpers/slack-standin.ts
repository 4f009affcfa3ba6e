/**
 * A local stand-in of the Slack Web API (real HTTP on 127.0.0.1) for tests: records every
 * call, answers in Slack's documented shapes, can be told to rate-limit (429 with
 * Retry-After) or fail (500), and records what apps post to `response_url`s. Plus the
 * signing of requests exactly as Slack does (v0: HMAC-SHA256 of `v0:<ts>:<body>`).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlackUserRecord {
  id: string;
  team_id: string;
  name: string;
  deleted?: boolean;
  is_bot?: boolean;
  is_app_user?: boolean;
  is_restricted?: boolean;
  is_ultra_restricted?: boolean;
  is_stranger?: boolean;
  enterprise_user?: { enterprise_id: string };
}

export interface ApiCall {
  method: string;
  args: Record<string, unknown>;
  /** The bearer token the call came with. */
  token?: string;
  /** performance.now() when it arrived. */
  at: number;
  /** The status the stand-in answered with. */
  status: number;
}

export interface ResponseUrlCall {
  /** The name the test gave the response_url. */
  name: string;
  body: Record<string, unknown>;
  at: number;
}

export interface Failure {
  status: 429 | 500;
  /** Seconds, for 429. */
  retryAfter?: number;
  /** How many calls fail (default: until cleared). */
  times?: number;
}

export interface SlackStandIn {
  /** `slack.apiUrl` for the app: ends with `/`. */
  apiUrl: string;
  token: string;
  team: { id: string; name: string; enterpriseId?: string };
  bot: { id: string; userId: string };
  calls: ApiCall[];
  responses: ResponseUrlCall[];
  users: Map<string, SlackUserRecord>;
  addUser(user: Partial<SlackUserRecord> & { id: string }): SlackUserRecord;
  /** A fresh response_url under `name` (each command should get its own). */
  responseUrl(name: string): string;
  /** Make `method` (or every method: `*`) fail. */
  fail(method: string, failure: Failure): void;
  clearFailures(): void;
  /** The calls of one method. */
  callsOf(method: string): ApiCall[];
  /** Resolves with the first response_url post under `name` (waits for it). */
  nextResponse(name: string, timeoutMs?: number): Promise<ResponseUrlCall>;
  close(): Promise<void>;
  /** The message at `channel`/`ts` as the last post or update left it. */
  messageAt(channel: string, ts: string): { text?: unknown; blocks?: unknown } | undefined;
  /** A channel's topic as last set. */
  topicOf(channel: string): string | undefined;
  /** Make the next `times` calls of `method` answer 429 with `Retry-After: seconds`. */
  rateLimit(method: string, seconds: number, times?: number): void;
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify(body));
};

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (data += d));
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

function parseArgs(body: string, contentType: string | undefined): Record<string, unknown> {
  if (!body) return {};
  if (contentType?.startsWith('application/json')) return JSON.parse(body) as Record<string, unknown>;
  return Object.fromEntries(new URLSearchParams(body));
}

export async function startSlackStandIn(opts: { teamId?: string; enterpriseId?: string } = {}): Promise<SlackStandIn> {
  const team = { id: opts.teamId ?? 'T0FIRE', name: 'Firebreak Test', ...(opts.enterpriseId ? { enterpriseId: opts.enterpriseId } : {}) };
  const token = `xoxb-test-${randomBytes(8).toString('hex')}`;
  const bot = { id: 'B0FIREBREAK', userId: 'U0FIREBOT' };
  const calls: ApiCall[] = [];
  const responses: ResponseUrlCall[] = [];
  const users = new Map<string, SlackUserRecord>();
  const failures = new Map<string, Failure>();
  const waiters: Array<{ name: string; resolve: (c: ResponseUrlCall) => void }> = [];
  const channels = new Map<string, { id: string; name: string; topic: string; members: string[] }>();
  const messages = new Map<string, { channel: string; ts: string; text?: unknown; blocks?: unknown }>();
  let seq = 0;
  const str = (v: unknown): string => (typeof v === 'string' ? v : '');
  const nextTs = () => `${Math.floor(Date.now() / 1000)}.${String(++seq).padStart(6, '0')}`;

  const method = (name: string, args: Record<string, unknown>): { status: number; body: Record<string, unknown> } => {
    const ok = (body: Record<string, unknown> = {}) => ({ status: 200, body: { ok: true, ...body } });
    const err = (error: string) => ({ status: 200, body: { ok: false, error } });
    switch (name) {
      case 'auth.test':
        return ok({ url: 'https://firebreak-test.slack.com/', team: team.name, user: 'firebreak', team_id: team.id, user_id: bot.userId, bot_id: bot.id, is_enterprise_install: false, ...(team.enterpriseId ? { enterprise_id: team.enterpriseId } : {}) });
      case 'users.info': {
        const u = users.get(String(args.user));
        return u ? ok({ user: u }) : err('user_not_found');
      }
      case 'conversations.create': {
        const name = str(args.name);
        if (!/^[a-z0-9_-]{1,80}$/.test(name)) return err('invalid_name_specials');
        if ([...channels.values()].some((c) => c.name === name)) return err('name_taken');
        const id = `C${String(channels.size + 1).padStart(8, '0')}`;
        channels.set(id, { id, name, topic: '', members: [bot.userId] });
        return ok({ channel: { id, name, is_channel: true, is_private: args.is_private === 'true' || args.is_private === true, created: Math.floor(Date.now() / 1000), creator: bot.userId } });
      }
      case 'conversations.invite': {
        const c = channels.get(String(args.channel));
        if (!c) return err('channel_not_found');
        const add = str(args.users).split(',').filter(Boolean);
        if (add.some((u) => c.members.includes(u))) return err('already_in_channel');
        c.members.push(...add);
        return ok({ channel: { id: c.id, name: c.name } });
      }
      case 'conversations.info': {
        const c = channels.get(String(args.channel));
        return c ? ok({ channel: { id: c.id, name: c.name, is_channel: true, topic: { value: c.topic, creator: bot.userId, last_set: 0 } } }) : err('channel_not_found');
      }
      case 'conversations.setTopic': {
        const c = channels.get(String(args.channel));
        if (!c) return err('channel_not_found');
        c.topic = str(args.topic);
        return ok({ channel: { id: c.id, name: c.name, topic: { value: c.topic, creator: bot.userId, last_set: Math.floor(Date.now() / 1000) } } });
      }
      case 'chat.postMessage': {
        const ts = nextTs();
        messages.set(`${String(args.channel)}/${ts}`, { channel: String(args.channel), ts, text: args.text, blocks: args.blocks });
        return ok({ channel: args.channel, ts, message: { type: 'message', text: args.text, ts, bot_id: bot.id, ...(args.thread_ts ? { thread_ts: args.thread_ts } : {}) } });
      }
      case 'chat.update': {
        const key = `${String(args.channel)}/${String(args.ts)}`;
        const m = messages.get(key);
        if (!m) return err('message_not_found');
        Object.assign(m, { text: args.text, blocks: args.blocks });
        return ok({ channel: args.channel, ts: args.ts, text: args.text });
      }
      case 'chat.postEphemeral':
        return ok({ message_ts: nextTs() });
      case 'views.open':
      case 'views.update':
        return ok({ view: { id: typeof args.view_id === 'string' ? args.view_id : `V${String(++seq).padStart(8, '0')}`, ...(typeof args.view === 'string' ? (JSON.parse(args.view) as object) : (args.view ?? {})) } });
      case 'pins.add':
        return messages.has(`${String(args.channel)}/${String(args.timestamp)}`) ? ok() : err('message_not_found');
      default:
        return err('unknown_method');
    }
  };

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://standin');
      const body = await readBody(req);
      const at = performance.now();
      if (url.pathname.startsWith('/response/')) {
        const call = { name: decodeURIComponent(url.pathname.slice('/response/'.length)), body: parseArgs(body, req.headers['content-type']), at };
        responses.push(call);
        for (const w of waiters.filter((x) => x.name === call.name)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(call);
        }
        json(res, 200, { ok: true });
        return;
      }
      if (!url.pathname.startsWith('/api/')) return json(res, 404, { ok: false, error: 'not_found' });
      const name = url.pathname.slice('/api/'.length);
      const args = parseArgs(body, req.headers['content-type']);
      const auth = req.headers.authorization?.replace(/^Bearer /, '') ?? (typeof args.token === 'string' ? args.token : undefined);
      const failure = failures.get(name) ?? failures.get('*');
      if (failure) {
        if (failure.times !== undefined && --failure.times <= 0) {
          failures.delete(failures.has(name) ? name : '*');
        }
        calls.push({ method: name, args, token: auth, at, status: failure.status });
        if (failure.status === 429) return json(res, 429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(failure.retryAfter ?? 1) });
        return json(res, 500, { ok: false, error: 'internal_error' });
      }
      const answer = auth === token ? method(name, args) : { status: 200, body: { ok: false, error: auth ? 'invalid_auth' : 'not_authed' } };
      calls.push({ method: name, args, token: auth, at, status: answer.status });
      json(res, answer.status, answer.body);
    })().catch((err: unknown) => json(res, 500, { ok: false, error: String(err) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    apiUrl: `${base}/api/`,
    token,
    team,
    bot,
    calls,
    responses,
    users,
    addUser(u) {
      const record: SlackUserRecord = { team_id: team.id, name: u.id.toLowerCase(), ...u };
      users.set(u.id, record);
      return record;
    },
    responseUrl: (name) => `${base}/response/${encodeURIComponent(name)}`,
    fail: (m, f) => failures.set(m, { ...f }),
    clearFailures: () => failures.clear(),
    callsOf: (m) => calls.filter((c) => c.method === m),
    nextResponse(name, timeoutMs = 30_000) {
      const seen = responses.find((r) => r.name === name);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no response_url post under "${name}" within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({
          name,
          resolve: (c) => {
            clearTimeout(timer);
            resolve(c);
          },
        });
      });
    },
    messageAt: (channel, ts) => messages.get(`${channel}/${ts}`),
    topicOf: (channel) => channels.get(channel)?.topic,
    rateLimit: (m, seconds, times = 1) => failures.set(m, { status: 429, retryAfter: seconds, times }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** `v0=<hex>`: Slack's signature of a request body at `ts` (seconds). */
export function slackSignature(secret: string, ts: number, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex')}`;
}

export interface SlackPost {
  status: number;
  body: string;
  /** performance.now() when the response arrived. */
  at: number;
}

export interface PostOptions {
  secret: string;
  /** Request timestamp in seconds (default now). */
  ts?: number;
  contentType?: string;
  /** Replace or add headers (after signing); a header set to undefined is left out. */
  headers?: Record<string, string | undefined>;
}

/** POST `body` to the app as Slack would: signed with `secret` at `ts`. */
export async function postToApp(url: string, body: string, o: PostOptions): Promise<SlackPost> {
  const ts = o.ts ?? Math.floor(Date.now() / 1000);
  const headers: Record<string, string | undefined> = {
    'content-type': o.contentType ?? 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': String(ts),
    'x-slack-signature': slackSignature(o.secret, ts, body),
    ...o.headers,
  };
  const res = await fetch(url, { method: 'POST', body, headers: Object.fromEntries(Object.entries(headers).filter((e): e is [string, string] => e[1] !== undefined)) });
  const text = await res.text();
  return { status: res.status, body: text, at: performance.now() };
}

/** A slash command's form body, with the fields Slack sends. */
export function slashCommandBody(f: { team: string; user: string; text: string; responseUrl: string; command?: string; enterprise?: string; channel?: string }): string {
  return new URLSearchParams({
    token: 'deprecated-verification-token',
    team_id: f.team,
    team_domain: 'firebreak-test',
    ...(f.enterprise ? { enterprise_id: f.enterprise, enterprise_name: 'Org' } : {}),
    channel_id: f.channel ?? 'C0INCIDENT',
    channel_name: 'incidents',
    user_id: f.user,
    user_name: f.user.toLowerCase(),
    command: f.command ?? '/incident',
    text: f.text,
    api_app_id: 'A0FIREBREAK',
    is_enterprise_install: 'false',
    response_url: f.responseUrl,
    trigger_id: `${Date.now()}.${randomBytes(6).toString('hex')}`,
  }).toString();
}
