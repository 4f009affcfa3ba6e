/** What every command gets: config parsed once, a lazy Temporal client, the acting identity, output. */
import type { Client } from '@temporalio/client';
import { loadConfig, type Config } from '../lib/config.js';
import { connectClient } from '../lib/incident-client.js';
import type { Actor } from '../workflows/definitions.js';

export interface GlobalOptions {
  json?: boolean;
  verbose?: boolean;
  config?: string;
}

export class Ctx {
  private configValue?: Readonly<Config>;
  private clientValue?: Promise<Client>;

  constructor(readonly opts: GlobalOptions) {}

  get json(): boolean {
    return Boolean(this.opts.json);
  }

  get config(): Readonly<Config> {
    this.configValue ??= loadConfig({ file: this.opts.config });
    return this.configValue;
  }

  client(): Promise<Client> {
    this.clientValue ??= connectClient(this.config);
    return this.clientValue;
  }

  /** The one identity this process acts as; there is no flag to claim another. */
  actor(): Actor {
    return { user: this.config.user, host: this.config.host, via: 'cli' };
  }

  /** Print a result: the JSON document with --json, else the human text. */
  out(json: unknown, human: string | (() => string)): void {
    if (this.json) process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
    else process.stdout.write(`${typeof human === 'function' ? human() : human}\n`);
  }

  /** Progress for humans; silent in --json mode so stdout stays one document. */
  progress(line: string): void {
    if (!this.json) process.stderr.write(`${line}\n`);
  }

  async close(): Promise<void> {
    if (this.clientValue) {
      const c = await this.clientValue.catch(() => undefined);
      await c?.connection.close();
    }
  }
}

/** Wraps a command action so it receives the Ctx built from global options. */
export type Runner = <A extends unknown[]>(fn: (c: Ctx, ...args: A) => Promise<void>) => (...args: unknown[]) => Promise<void>;
