/**
 * The Slack stand-in's incident-channel side (activities/notify): channel lookups, thread
 * replies and history with message metadata, user groups, and switches for an outage (500
 * or hanging) and for holding an answer after its effect (a worker killed in between).
 */
import type { ApiCall } from './slack-standin.js';


export interface StoredChannel {
  id: string;
  name: string;
  topic: string;
  members: string[];
}

export interface StoredMessage {
  channel: string;
  ts: string;
  text?: unknown;
  blocks?: unknown;
  thread_ts?: string;
  metadata?: { event_type?: string; event_payload?: Record<string, unknown> };
}

export interface NotifyStandIn {
  /** A channel by name (any creator). */
  named(name: string): StoredChannel | undefined;
  /** A channel someone else created (name collisions). */
  addChannel(name: string, creator: string): StoredChannel;
  /** The top-level messages of a channel, oldest first. */
  history(channel: string): StoredMessage[];
  /** The replies under `ts`, oldest first (the parent excluded). */
  thread(channel: string, ts: string): StoredMessage[];
  /** Members of a Slack user group (usergroups.users.list). */
  setUsergroup(id: string, users: string[]): void;
  /** down: every call answers 500; hang: no call is answered; off: Slack is back. */
  outage(mode: 'down' | 'hang' | 'off'): void;
  /**
   * The next call of `method` matching `match` takes effect, then its answer is held until
   * release(): resolves when that happens (a worker can be killed between the two).
   */
  holdAfter(method: string, match?: (args: Record<string, unknown>) => boolean): Promise<ApiCall>;
  release(): void;
}

/** `thread_ts` and parsed `metadata` of a posting call. */
export function threadAndMetadata(args: Record<string, unknown>): Pick<StoredMessage, 'thread_ts' | 'metadata'> {
  const raw = args.metadata;
  const metadata = typeof raw === 'string' ? (JSON.parse(raw) as StoredMessage['metadata']) : (raw as StoredMessage['metadata']);
  return { ...(typeof args.thread_ts === 'string' && { thread_ts: args.thread_ts }), ...(metadata && { metadata }) };
}

export function notifyStandIn(channels: Map<string, StoredChannel>, messages: Map<string, StoredMessage>, botUser: string) {
  const creators = new Map<string, string>();
  const usergroups = new Map<string, string[]>();
  let outage: 'down' | 'hang' | 'off' = 'off';
  const holds: Array<{ method: string; match: (args: Record<string, unknown>) => boolean; resolve: (c: ApiCall) => void }> = [];
  let releases: Array<() => void> = [];
  let released = false;
  const byTs = (a: StoredMessage, b: StoredMessage) => Number(a.ts) - Number(b.ts);
  const inChannel = (channel: string) => [...messages.values()].filter((m) => m.channel === channel);
  const page = (list: StoredMessage[], args: Record<string, unknown>) => {
    const limit = Number(args.limit ?? 100) || 100;
    const from = Number(args.cursor ?? 0) || 0;
    const next = from + limit < list.length ? String(from + limit) : '';
    const withMeta = args.include_all_metadata === 'true' || args.include_all_metadata === true;
    return { ok: true, messages: list.slice(from, from + limit).map((m) => ({ type: 'message', ts: m.ts, text: m.text, ...(m.thread_ts && { thread_ts: m.thread_ts }), ...(withMeta && m.metadata && { metadata: m.metadata }) })), has_more: next !== '', response_metadata: { next_cursor: next } };
  };
  const api: NotifyStandIn = {
    named: (name) => [...channels.values()].find((c) => c.name === name),
    addChannel(name, creator) {
      const id = `C${String(channels.size + 1).padStart(8, '0')}`;
      const c = { id, name, topic: '', members: [creator] };
      channels.set(id, c);
      creators.set(id, creator);
      return c;
    },
    history: (channel) => inChannel(channel).filter((m) => !m.thread_ts).sort(byTs),
    thread: (channel, ts) => inChannel(channel).filter((m) => m.thread_ts === ts).sort(byTs),
    setUsergroup: (id, users) => void usergroups.set(id, users),
    outage: (mode) => void (outage = mode),
    holdAfter(method, match = () => true) {
      released = false;
      return new Promise((resolve) => holds.push({ method, match, resolve }));
    },
    release() {
      released = true;
      for (const r of releases) r();
      releases = [];
    },
  };
  const ok = (body: Record<string, unknown>) => ({ status: 200, body: { ok: true, ...body } });
  return {
    api,
    outageOf: (method: string): 'down' | 'hang' | undefined => (outage === 'off' || method === 'auth.test' ? undefined : outage),
    /** Resolves when the answer to `call` may go out. */
    held(call: ApiCall): Promise<void> {
      const i = holds.findIndex((h) => h.method === call.method && h.match(call.args));
      if (i < 0 || call.status !== 200) return Promise.resolve();
      const [h] = holds.splice(i, 1);
      h?.resolve(call);
      return released ? Promise.resolve() : new Promise<void>((resolve) => releases.push(resolve));
    },
    method(name: string, args: Record<string, unknown>): { status: number; body: Record<string, unknown> } | undefined {
      const channel = channels.get(String(args.channel));
      switch (name) {
        case 'conversations.list': {
          const all = [...channels.values()].map((c) => ({ id: c.id, name: c.name, is_channel: true, creator: creators.get(c.id) ?? botUser }));
          const limit = Number(args.limit ?? 100) || 100;
          const from = Number(args.cursor ?? 0) || 0;
          const next = from + limit < all.length ? String(from + limit) : '';
          return ok({ channels: all.slice(from, from + limit), response_metadata: { next_cursor: next } });
        }
        case 'conversations.info':
          return channel ? ok({ channel: { id: channel.id, name: channel.name, creator: creators.get(channel.id) ?? botUser, topic: { value: channel.topic } } }) : { status: 200, body: { ok: false, error: 'channel_not_found' } };
        case 'conversations.history':
          return channel ? ok(page(api.history(channel.id).reverse(), args)) : { status: 200, body: { ok: false, error: 'channel_not_found' } };
        case 'conversations.replies': {
          const parent = messages.get(`${String(args.channel)}/${String(args.ts)}`);
          if (!channel || !parent) return { status: 200, body: { ok: false, error: channel ? 'thread_not_found' : 'channel_not_found' } };
          return ok(page([parent, ...api.thread(channel.id, parent.ts)], args));
        }
        case 'usergroups.users.list': {
          const users = usergroups.get(String(args.usergroup));
          return users ? ok({ users }) : { status: 200, body: { ok: false, error: 'no_such_subteam' } };
        }
        default:
          return undefined;
      }
    },
  };
}
