/**
 * A Firebreak stack for one test file: its own config (temp file), task queue,
 * Redis key prefix and runbooks folder, an in-process worker on the shared dev
 * server, and a client.
 */
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { inject } from 'vitest';
import { loadConfig, PROJECT_ROOT, type Config } from '../../lib/config.js';
import { connectClient } from '../../lib/incidents/index.js';
import { createLogger } from '../../lib/logger.js';
import { djangoKey, LOCKDOWN_KEY } from '../../lib/redis-keys.js';
import { createWorker, type FirebreakWorker } from '../../worker/create.js';
import { createKeyPair, publicLine, type KeyPair } from '../../lib/identity/keys.js';
import { keyPairSigner } from '../../lib/identity/signer.js';
import type { Principal } from '../../lib/incidents/types.js';
import { redisClient, uniquePrefix, type TestRedis } from './services.js';

export interface Stack {
  config: Readonly<Config>;
  configFile: string;
  dir: string;
  runbooksDir: string;
  client: Client;
  worker?: FirebreakWorker;
  redis: TestRedis;
  flagKey: string;
  /** A person with their registered key's signer (a name the registry lacks signs nothing). */
  actor(user: string): Principal;
  /** The XDG_CONFIG_HOME holding `user`'s key file, for CLI runs as that person. */
  keyHome(user: string): string;
  /** Each registered person's key pair. */
  keys: ReadonlyMap<string, KeyPair>;
  /** The environment of a CLI run as `user`: this stack's config, their key folder, no FIREBREAK_* from outside. */
  cliEnv(user: string, extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  /** Add a runbook to this stack's runbooks folder. */
  writeRunbook(name: string, yaml: string): void;
  stop(): Promise<void>;
}

export interface StackOptions {
  /** Extra YAML appended to the config (top-level keys not already used). */
  extraConfig?: string;
  /** Extra YAML lines for `targets.local` (e.g. `postgres: {…}`), indented by the caller to 4 spaces. */
  targetExtra?: string;
  /** Redis URL of the target (default the shared 127.0.0.1:6379). */
  redisUrl?: string;
  /** Start an in-process worker (default true). */
  worker?: boolean;
  /** Mark `targets.local` for local development: nothing signed, incidents unauthenticated. */
  development?: boolean;
  /** Slack ids of registered people (`{ team, user }`), for Slack-attested votes. */
  slack?: Record<string, { team: string; user: string }>;
  /** More public lines per person (e.g. an `ssh-ed25519 …` line of their ssh-agent key). */
  extraKeys?: Record<string, string[]>;
  /** YAML lines under `identity:` after the responders (e.g. `  services:` …), indented by the caller. */
  identityExtra?: string[];
  /** Keep the audit log (a fresh checkpoint key) in this Firebreak database URL (default: the shared `firebreak`). */
  audit?: { databaseUrl?: string };
}

/** `audit:` with a fresh Ed25519 seed in a 0600 file, and `database:` when a URL is given. */
function auditConfig(dir: string, databaseUrl: string | undefined): string[] {
  const file = join(dir, 'audit.key');
  writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600 });
  return [`audit: { key: { file: "${file}" } }`, ...(databaseUrl ? [`database: { url: "${databaseUrl}" }`] : [])];
}

export const DECLARER = 'oncall-olga';
export const APPROVERS = ['alice', 'bob', 'carol'];
/** Registered responders in no approver group: they may not approve, but their signatures verify. */
export const BYSTANDERS = ['mallory', 'dave'];
export const PEOPLE = [DECLARER, ...APPROVERS, ...BYSTANDERS];

export async function startStack(label: string, opts: StackOptions = {}): Promise<Stack> {
  const address = inject('temporalAddress');
  const redis = redisClient(label);
  const dir = mkdtempSync(join(tmpdir(), `fbt-${label}-`));
  const runbooksDir = join(dir, 'runbooks');
  cpSync(join(PROJECT_ROOT, 'runbooks'), runbooksDir, { recursive: true });
  const configFile = join(dir, 'firebreak.yaml');
  const keyHome = (user: string) => join(dir, 'keys', user);
  const keys = new Map<string, KeyPair>();
  for (const user of PEOPLE) keys.set(user, await createKeyPair(keyHome(user)));
  writeFileSync(
    configFile,
    [
      `user: ${DECLARER}`,
      `runbooksDir: ${runbooksDir}`,
      `dataDir: ${join(dir, 'data')}`,
      'temporal:',
      `  address: "${address}"`,
      `  taskQueue: ${uniquePrefix(label)}`,
      'approvers:',
      '  groups:',
      `    responders: [${APPROVERS.join(', ')}]`,
      '    dba: [carol]',
      'identity:',
      '  responders:',
      ...PEOPLE.map((user) => {
        const slack = opts.slack?.[user];
        const lines = [publicLine(keys.get(user) as KeyPair, user), ...(opts.extraKeys?.[user] ?? [])];
        return `    - { name: ${user}, keys: [${lines.map((l) => JSON.stringify(l)).join(', ')}]${slack ? `, slack: { team: ${slack.team}, user: ${slack.user} }` : ''} }`;
      }),
      ...(opts.identityExtra ?? []),
      'defaultTarget: local',
      'targets:',
      '  local:',
      ...(opts.development ? ['    development: true'] : []),
      `    redis: { url: "${opts.redisUrl ?? 'redis://127.0.0.1:6379/0'}", keyPrefix: "${redis.prefix}" }`,
      ...(opts.targetExtra ? [opts.targetExtra] : []),
      '  prod:',
      '    production: true',
      `    redis: { url: "${opts.redisUrl ?? 'redis://127.0.0.1:6379/0'}", keyPrefix: "${redis.prefix}-prod" }`,
      'log: { level: warn }',
      ...(opts.audit ? auditConfig(dir, opts.audit.databaseUrl) : []),
      opts.extraConfig ?? '',
    ].join('\n'),
  );
  const config = loadConfig({ file: configFile, env: {} });
  const logger = createLogger({ level: 'error', pretty: false });
  const worker = opts.worker === false ? undefined : await createWorker({ config, logger, bundlePath: inject('workflowBundle') });
  const running = worker?.run();
  const client = await connectClient(config);
  return {
    config,
    configFile,
    dir,
    runbooksDir,
    client,
    worker,
    redis,
    flagKey: djangoKey({ keyPrefix: redis.prefix, keyVersion: 1 }, LOCKDOWN_KEY),
    actor(user) {
      const key = keys.get(user);
      return { user, host: 'test-host', via: 'api', ...(key && { signer: keyPairSigner(key) }) };
    },
    keyHome,
    keys,
    cliEnv(user, extra = {}) {
      const env: NodeJS.ProcessEnv = {};
      for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('FIREBREAK_')) env[k] = v;
      return { ...env, FIREBREAK_CONFIG: configFile, FIREBREAK_USER: user, XDG_CONFIG_HOME: keyHome(user), ...extra };
    },
    writeRunbook(name, yaml) {
      writeFileSync(join(runbooksDir, `${name}.yaml`), yaml);
    },
    async stop() {
      await client.connection.close();
      await worker?.close();
      await running?.catch(() => undefined);
      await redis.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
