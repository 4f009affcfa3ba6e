/** What every command gets: config parsed once, a lazy Temporal client, the acting identity, output. A `FrontDoor` of lib/incidents. */
import type { Client } from '@temporalio/client';
import type * as ConfigModule from '../lib/config.js';
import type { Config } from '../lib/config.js';
import { jsonSafe, terminalSafe } from '../lib/terminal-text.js';
import type { Principal } from '../lib/incidents/types.js';

export interface GlobalOptions {
  json?: boolean;
  verbose?: boolean;
  config?: string;
}

/** lib/config.js (yaml, zod): loaded when a command runs, not for --help or a usage error. */
let configModule: typeof ConfigModule | undefined;

/** Load what `Ctx.config` needs; main() awaits it before any command action. */
export async function prepareContext(opts: { longRunning?: boolean } = {}): Promise<void> {
  if (!configModule) {
    const [mod, { z }] = await Promise.all([import('../lib/config.js'), import('zod')]);
    // A command validates a handful of documents once: compiling each schema to a fast
    // path (zod's JIT) costs more than it saves. A worker validates all day: keep it.
    z.config({ jitless: !opts.longRunning });
    configModule = mod;
  }
}

export class Ctx {
  private configValue?: Readonly<Config>;
  private clientValue?: Promise<Client>;
  private principalValue?: Promise<Principal>;

  constructor(readonly opts: GlobalOptions) {}

  get json(): boolean {
    return Boolean(this.opts.json);
  }

  get config(): Readonly<Config> {
    if (!configModule) throw new Error('internal: prepareContext() was not awaited before the command ran');
    this.configValue ??= configModule.loadConfig({ file: this.opts.config });
    return this.configValue;
  }

  client(): Promise<Client> {
    // Loaded on first use: @temporalio/client is most of a command's start-up time.
    this.clientValue ??= import('../lib/incidents/connect.js').then((m) => m.connectClient(this.config));
    return this.clientValue;
  }

  /**
   * The one identity this process acts as, with the signer of the user's key file
   * (`firebreak keys init`). The name alone proves nothing: the workflow believes the
   * signature, and refuses a decision whose key is not that responder's. Without a key file
   * decisions go unsigned (accepted only on a target marked for local development).
   */
  actor(): Promise<Principal> {
    this.principalValue ??= (async (): Promise<Principal> => {
      const base: Principal = { user: this.config.user, host: this.config.host, via: 'cli' };
      const signing = this.config.signing;
      const { keyPairSigner, agentStatementSigner } = await import('../lib/identity/signer.js');
      if (signing.with === 'ssh-agent') {
        const { agentSigner } = await import('../lib/identity/ssh-agent.js');
        return { ...base, signer: agentStatementSigner(await agentSigner({ keyId: signing.sshKeyId })) };
      }
      const { loadKeyPair, KeyFileError } = await import('../lib/identity/keys.js');
      try {
        return { ...base, signer: keyPairSigner(await loadKeyPair()) };
      } catch (err) {
        if (err instanceof KeyFileError && err.problem === 'missing') return base;
        throw err;
      }
    })();
    return this.principalValue;
  }

  /** Print a result: the JSON document with --json, else the human text. */
  out(json: unknown, human: string | (() => string)): void {
    if (this.json) process.stdout.write(`${jsonSafe(JSON.stringify(json, null, 2))}\n`);
    else process.stdout.write(`${terminalSafe(typeof human === 'function' ? human() : human)}\n`);
  }

  /** Progress for humans; silent in --json mode so stdout stays one document. */
  progress(line: string): void {
    if (!this.json) process.stderr.write(`${terminalSafe(line)}\n`);
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
