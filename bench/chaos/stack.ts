/**
 * The chaos run's Firebreak: the private servers (services.ts), a real nginx of its own (the
 * worker host's deny file), two or three edge hosts (edges.ts: an nginx and a `firebreak edge`
 * process each, in config), a config file naming only them, the protected app's database and
 * .env, copies of the token-leak and sqli runbooks with a short step timeout, and
 * `firebreak worker` child processes it can SIGKILL. `reset()` puts every target system back
 * to where it started between runs (the servers are private, so it may flush them whole).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import pg from 'pg';
import { parseDocument } from 'yaml';
import { loadConfig, PROJECT_ROOT, type Config } from '../../lib/config.js';
import { freePort } from '../../lib/dev-server.js';
import { connectClient } from '../../lib/incidents/index.js';
import { ephemeralKeyPair, publicLine, type KeyPair } from '../../lib/identity/keys.js';
import { keyPairSigner } from '../../lib/identity/signer.js';
import type { Principal } from '../../lib/incidents/types.js';
import { startGithubStandin, type GithubStandin } from '../../test/helpers/github-standin.js';
import { startNginx, type Nginx } from '../../test/helpers/nginx.js';
import { chaosEdges, EMPTY_DENY_FILE, edgesYaml, startEdgeNginxes, type ChaosEdge } from './edges.js';
import { spawnFirebreak, type FirebreakProcess } from './processes.js';
import { pgPasswordFile, startPrivatePostgres, startPrivateRedis, startPrivateTemporal, type PrivatePostgres, type PrivateRedis, type PrivateTemporal } from './services.js';

export const DECLARER = 'chaos-olga';
export const APPROVERS = ['chaos-alice', 'chaos-bob'] as const;
export const KEY_PREFIX = 'chaos';
export const APP_DB = 'appdb';
export const APP_ROLE = 'chaos_app';
export const OWN_DB = 'firebreak';
export const INITIAL_DB_PASSWORD = 'chaos-initial-app-password';
export const INITIAL_ENV = `# the protected app's .env\nDEBUG=False\nJWT_SECRET_KEY=chaos-initial-jwt-key\nDATABASE_PASSWORD=${INITIAL_DB_PASSWORD}\n`;
/** Every activity step of the chaos copies of the runbooks: how long before a killed worker's attempt is retried. */
export const STEP_TIMEOUT = '6s';
const TASK_QUEUE = 'chaos';

export type WorkerProcess = FirebreakProcess;

export interface ChaosStack {
  dir: string;
  config: Readonly<Config>;
  configFile: string;
  redis: PrivateRedis;
  postgres: PrivatePostgres;
  temporal: PrivateTemporal;
  /** The worker host's own nginx (the target's `nginx:` deny file). */
  nginx: Nginx;
  /** The edge hosts (`edges:` in config): each its own nginx and `firebreak edge` process. */
  edges: ChaosEdge[];
  /** The GitHub stand-in (in this process): post-mortem issues and the Actions secrets sink. */
  github: GithubStandin;
  envFile: string;
  client: Client;
  workers: WorkerProcess[];
  actor(user: string): Principal;
  /** Start one more `firebreak worker`; resolves when it logged "worker ready". */
  startWorker(): Promise<WorkerProcess>;
  /** SIGKILL every live worker. */
  killWorkers(): Promise<void>;
  /** Start the edge processes that are not running. */
  ensureEdges(): Promise<void>;
  /** Every target back to the start: Redis flushed, deny files (worker's and edges') empty and reloaded, grants, password, .env and records as created. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** The runbook with `timeout` set on every activity step (humans' checklists have none). */
export function withStepTimeout(yamlText: string, timeout: string): string {
  const doc = parseDocument(yamlText);
  const phases = doc.toJS() as { phases: Record<string, Array<{ action: string }>> };
  for (const [phase, steps] of Object.entries(phases.phases)) {
    steps.forEach((step, i) => {
      if (step.action !== 'secrets.manual') doc.setIn(['phases', phase, i, 'timeout'], timeout);
    });
  }
  return doc.toString();
}

async function createAppDatabase(postgres: PrivatePostgres): Promise<void> {
  const admin = await postgres.connect();
  try {
    await admin.query(`CREATE ROLE ${APP_ROLE} LOGIN PASSWORD ${pg.escapeLiteral(INITIAL_DB_PASSWORD)}`);
    await admin.query(`CREATE DATABASE ${APP_DB}`);
  } finally {
    await admin.end();
  }
  const db = await postgres.connect(APP_DB);
  try {
    await db.query(`
      CREATE TABLE auth_user (id serial PRIMARY KEY, username text NOT NULL UNIQUE, is_active boolean NOT NULL DEFAULT true);
      INSERT INTO auth_user (username) VALUES ('alice'), ('bob');
      CREATE TABLE orders (id bigserial PRIMARY KEY, item text NOT NULL);
      GRANT SELECT, INSERT, UPDATE, DELETE ON auth_user, orders TO ${APP_ROLE};
      GRANT USAGE ON SEQUENCE auth_user_id_seq, orders_id_seq TO ${APP_ROLE};
    `);
  } finally {
    await db.end();
  }
}

export interface StackOptions {
  /** How many edge hosts (nginx + `firebreak edge`), at most 3. */
  edges: number;
  /** temporal.worker.stickyQueueScheduleToStartTimeout of the workers. */
  stickyTimeout: string;
}

export async function startChaosStack(dir: string, bundlePath: string, opts: StackOptions): Promise<ChaosStack> {
  // PostgreSQL (initdb) is the slowest to start: its port is chosen first, so the config can be
  // written, and the worker and edge processes can boot, while it initialises.
  const pgPort = await freePort();
  const pgStarting = startPrivatePostgres(dir, pgPort);
  pgStarting.catch(() => undefined);
  const started = await Promise.allSettled([
    startPrivateRedis(dir),
    startPrivateTemporal(dir),
    startNginx({ serverExtra: ['set_real_ip_from 127.0.0.1;', 'real_ip_header X-Real-IP;'] }),
    startGithubStandin({ owner: 'acme', repo: 'web' }),
    startEdgeNginxes(opts.edges),
  ] as const);
  const stopStarted = async () => {
    await Promise.allSettled([
      ...started.flatMap((r) => (r.status === 'fulfilled' ? [r.value].flat().map((x) => x.stop()) : [])),
      pgStarting.then((p) => p.stop()),
    ]);
  };
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) {
    // Leave nothing running: stop whichever servers did start.
    await stopStarted();
    throw failed.reason;
  }
  const [redis, temporal, nginx, github, edgeNginxes] = started.map((r) => (r as PromiseFulfilledResult<unknown>).value) as [PrivateRedis, PrivateTemporal, Nginx, GithubStandin, Nginx[]];
  github.model.pushGreen('main');
  const githubToken = join(dir, 'github.token');
  writeFileSync(githubToken, `${github.model.token}\n`, { mode: 0o600 });
  const runbooksDir = join(dir, 'runbooks');
  const envFile = join(dir, 'app.env');
  writeFileSync(envFile, INITIAL_ENV, { mode: 0o600 });
  const payloadKey = join(dir, 'payload.key');
  writeFileSync(payloadKey, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  const appPassword = join(dir, 'app.pw');
  writeFileSync(appPassword, `${INITIAL_DB_PASSWORD}\n`, { mode: 0o600 });
  mkdirSync(runbooksDir, { recursive: true });
  for (const name of ['token-leak', 'sqli']) {
    const text = readFileSync(join(PROJECT_ROOT, 'runbooks', `${name}.yaml`), 'utf8');
    writeFileSync(join(runbooksDir, `${name}.yaml`), withStepTimeout(text, STEP_TIMEOUT));
  }
  const people = [DECLARER, ...APPROVERS];
  const keys = new Map<string, KeyPair>(people.map((p) => [p, ephemeralKeyPair()]));
  const pgPassword = pgPasswordFile(dir);
  const pgSection = `postgres: { adminUrl: "postgres://postgres@127.0.0.1:${pgPort}/postgres", password: { file: "${pgPassword}" }, database: ${APP_DB}, appRole: ${APP_ROLE}, appPassword: { file: "${appPassword}" } }`;
  const configFile = join(dir, 'firebreak.yaml');
  writeFileSync(
    configFile,
    [
      `user: ${DECLARER}`,
      `runbooksDir: ${runbooksDir}`,
      `dataDir: ${join(dir, 'data')}`,
      `database: { url: "postgres://postgres@127.0.0.1:${pgPort}/${OWN_DB}", password: { file: "${pgPassword}" } }`,
      `encryption: { current: k1, keys: [{ id: k1, secret: { file: "${payloadKey}" } }] }`,
      'temporal:',
      `  address: "${temporal.address}"`,
      `  taskQueue: ${TASK_QUEUE}`,
      // A killed worker's cached workflows wait this long on its sticky queue before any worker gets them.
      `  worker: { stickyQueueScheduleToStartTimeout: ${opts.stickyTimeout} }`,
      'approvers:',
      '  groups:',
      `    responders: [${APPROVERS.join(', ')}]`,
      'identity:',
      '  responders:',
      ...people.map((p) => `    - { name: ${p}, keys: ["${publicLine(keys.get(p) as KeyPair, p)}"] }`),
      'defaultTarget: local',
      'targets:',
      '  local:',
      `    redis: { url: "${redis.url}", keyPrefix: ${KEY_PREFIX} }`,
      `    ${pgSection}`,
      `    secrets: { sinks: [{ type: dotenv, path: "${envFile}" }, { type: github }] }`,
      `    github: { repo: acme/web, branch: main, token: { file: "${githubToken}" }, baseUrl: "${github.url}" }`,
      `    ${nginx.targetYaml}`,
      ...edgesYaml(edgeNginxes),
      'log: { level: info }',
    ].join('\n'),
  );
  const config = loadConfig({ file: configFile, env: {} });
  const workers: WorkerProcess[] = [];
  let n = 0;

  const env = { ...process.env, FIREBREAK_CONFIG: configFile, FIREBREAK_LOG_LEVEL: 'info', FIREBREAK_WORKFLOW_BUNDLE: bundlePath };
  const startWorker = async (): Promise<WorkerProcess> => {
    const w = await spawnFirebreak({ args: ['worker'], env, logFile: join(dir, `worker-${++n}.log`), ready: 'worker ready' });
    workers.push(w);
    return w;
  };
  const edges = chaosEdges(edgeNginxes, { dir, env });
  const ensureEdges = async () => {
    await Promise.all(edges.filter((e) => !e.alive()).map((e) => e.start()));
  };
  const booted = await Promise.allSettled([pgStarting.then(async (pgServer) => (await createAppDatabase(pgServer), pgServer)), connectClient(config), startWorker(), ensureEdges()] as const);
  const bootFailed = booted.find((r) => r.status === 'rejected');
  if (bootFailed) {
    await Promise.allSettled([...workers.map((w) => w.kill('SIGKILL')), ...edges.map((e) => e.kill())]);
    if (booted[1].status === 'fulfilled') await booted[1].value.connection.close().catch(() => undefined);
    await stopStarted();
    throw bootFailed.reason;
  }
  const postgres = (booted[0] as PromiseFulfilledResult<PrivatePostgres>).value;
  const client = (booted[1] as PromiseFulfilledResult<Client>).value;

  const reset = async () => {
    await redis.client.flushall();
    github.model.reset();
    github.model.secrets.clear();
    github.model.pushGreen('main');
    github.calls.length = 0;
    writeFileSync(nginx.denyFile, EMPTY_DENY_FILE, { mode: 0o644 });
    execFileSync(nginx.reloadCommand[0] as string, nginx.reloadCommand.slice(1), { stdio: 'ignore' });
    for (const e of edges) e.reset();
    writeFileSync(envFile, INITIAL_ENV, { mode: 0o600 });
    const admin = await postgres.connect();
    try {
      await admin.query(`ALTER ROLE ${APP_ROLE} PASSWORD ${pg.escapeLiteral(INITIAL_DB_PASSWORD)}`);
    } finally {
      await admin.end();
    }
    for (const database of [OWN_DB, APP_DB]) {
      const c = await postgres.connect(database).catch(() => undefined); // Firebreak's own database exists after the first rotation
      if (!c) continue;
      try {
        const { rows } = await c.query<{ t: string }>(
          "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) AS t FROM information_schema.tables WHERE table_schema LIKE 'firebreak%' AND table_type = 'BASE TABLE'",
        );
        if (rows.length) await c.query(`TRUNCATE ${rows.map((r) => r.t).join(', ')}`);
      } finally {
        await c.end();
      }
    }
  };

  return {
    dir,
    config,
    configFile,
    redis,
    postgres,
    temporal,
    nginx,
    edges,
    github,
    envFile,
    client,
    workers,
    actor(user) {
      return { user, host: 'chaos', via: 'api', signer: keyPairSigner(keys.get(user) as KeyPair) };
    },
    startWorker,
    async killWorkers() {
      await Promise.all(workers.filter((w) => w.alive()).map((w) => w.kill('SIGKILL')));
    },
    ensureEdges,
    reset,
    async stop() {
      await Promise.all([...workers.map((w) => w.kill('SIGKILL')), ...edges.map((e) => e.kill())]);
      await client.connection.close().catch(() => undefined);
      await Promise.allSettled([redis.stop(), postgres.stop(), temporal.stop(), nginx.stop(), github.stop(), ...edgeNginxes.map((x) => x.stop())]);
    },
  };
}

/** The worker and edge logs of this run (for a failure's explanation). */
export function workerLogTail(dir: string, chars = 3_000): string {
  return readdirSync(dir)
    .filter((f) => /^(worker|edge-[a-z])-\d+\.log$/.test(f))
    .map((f) => `--- ${f}\n${readFileSync(join(dir, f), 'utf8').slice(-chars)}`)
    .join('\n');
}
