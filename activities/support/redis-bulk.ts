/**
 * A second connection to a target's Redis for bulk writes: commands go out as RESP
 * bytes the caller built (one Buffer for thousands of commands) and every reply is
 * checked, without a client object, a promise and a parsed reply per command.
 * Pipelining plain commands this way costs Redis what `redis-benchmark -P` costs it;
 * the same SETs through ioredis are limited by ioredis's per-command work, and
 * through a Lua script by Redis's per-`redis.call` work (~40% more CPU per key).
 * Only for commands whose reply is a simple string (`+OK`) or an error.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Redis } from 'ioredis';

const CRLF = Buffer.from('\r\n');
/** No reply for this long while some are due: the connection is treated as dead. */
const REPLY_TIMEOUT_MS = 30_000;

/** One command in RESP (arrays of bulk strings), for the few commands not built in bulk. */
export function respCommand(args: ReadonlyArray<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, CRLF);
  }
  return Buffer.concat(parts);
}

/** Redis answered a command with an error (its own words, e.g. `OOM command not allowed …`). */
export class RedisBulkReplyError extends Error {
  override name = 'RedisBulkReplyError';
}

interface Batch {
  remaining: number;
  error?: string;
  resolve(): void;
  reject(err: Error): void;
}

export class RedisBulkWriter {
  private readonly batches: Batch[] = [];
  private carry: Buffer | undefined;
  private failure: Error | undefined;
  private onIdle: (() => void) | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(Object.assign(new Error('Connection is closed.'), { code: 'ECONNRESET' })));
    socket.setTimeout(REPLY_TIMEOUT_MS, () => {
      if (this.batches.length) socket.destroy(Object.assign(new Error(`no reply from Redis in ${REPLY_TIMEOUT_MS / 1000} s`), { code: 'ETIMEDOUT' }));
    });
  }

  /** Connect where `redis` connects (same host or socket path, TLS, user, password, database). */
  static async open(redis: Redis, name: string): Promise<RedisBulkWriter> {
    const o = redis.options;
    const timeout = o.connectTimeout ?? 10_000;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s: Socket = o.path
        ? netConnect({ path: o.path })
        : o.tls
          ? tlsConnect({ host: o.host, port: o.port, servername: o.host, ...o.tls })
          : netConnect({ host: o.host, port: o.port ?? 6379, family: o.family });
      const timer = setTimeout(() => s.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })), timeout);
      const failed = (err: Error): void => {
        clearTimeout(timer);
        reject(err);
      };
      s.once('error', failed);
      s.once(o.tls && !o.path ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        s.removeListener('error', failed);
        resolve(s);
      });
    });
    socket.setNoDelay(true);
    const writer = new RedisBulkWriter(socket);
    const hello: Buffer[] = [];
    if (o.password) hello.push(respCommand(o.username ? ['AUTH', o.username, o.password] : ['AUTH', o.password]));
    if (o.db) hello.push(respCommand(['SELECT', String(o.db)]));
    hello.push(respCommand(['CLIENT', 'SETNAME', name]));
    try {
      await writer.send(Buffer.concat(hello), hello.length);
    } catch (err) {
      socket.destroy();
      throw err;
    }
    return writer;
  }

  /** Write `bytes` (`replies` commands); resolves once all of them answered OK, rejects with the first error. */
  send(bytes: Buffer, replies: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<void>((resolve, reject) => {
      this.batches.push({ remaining: replies, resolve, reject });
      this.socket.write(bytes);
    });
  }

  /** Wait for the replies still due (what was sent runs either way), then close. */
  async close(): Promise<void> {
    if (this.batches.length) await new Promise<void>((resolve) => (this.onIdle = resolve));
    this.failure ??= new Error('closed');
    this.socket.end();
  }

  private idle(): void {
    if (this.batches.length === 0) this.onIdle?.();
  }

  private onData(d: Buffer): void {
    const buf = this.carry ? Buffer.concat([this.carry, d]) : d;
    this.carry = undefined;
    const n = buf.length;
    let i = 0;
    while (i < n) {
      // +OK\r\n, nearly every reply
      if (buf[i] === 0x2b && i + 4 < n && buf[i + 1] === 0x4f && buf[i + 2] === 0x4b && buf[i + 3] === 0x0d && buf[i + 4] === 0x0a) {
        this.reply(undefined);
        i += 5;
        continue;
      }
      const eol = buf.indexOf(CRLF, i);
      if (eol === -1) {
        this.carry = Buffer.from(buf.subarray(i));
        return;
      }
      const kind = buf[i];
      const line = buf.toString('utf8', i + 1, eol);
      i = eol + 2;
      if (kind === 0x2b) this.reply(undefined);
      else if (kind === 0x2d) this.reply(line);
      else {
        this.socket.destroy(new Error(`unexpected reply from Redis to a bulk write: ${String.fromCharCode(kind ?? 0)}${line.slice(0, 40)}`));
        return;
      }
    }
  }

  private reply(error: string | undefined): void {
    const b = this.batches[0];
    if (!b) {
      this.socket.destroy(new Error('a reply from Redis that no command is waiting for'));
      return;
    }
    if (error !== undefined && b.error === undefined) b.error = error;
    b.remaining -= 1;
    if (b.remaining > 0) return;
    this.batches.shift();
    if (b.error === undefined) b.resolve();
    else b.reject(new RedisBulkReplyError(b.error));
    this.idle();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const b of this.batches.splice(0)) b.reject(this.failure);
    this.idle();
  }
}
