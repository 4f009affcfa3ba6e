/**
 * What the slack-ack benchmark runs against: its own config (Slack-mapped people, the Slack
 * app's service key, its own task queue and worker on the shared dev server), the Slack Web
 * API stand-in, the real Slack app (`startSlackServer`, live status included), and the floor:
 * a bare Bolt app over the same HTTPReceiver whose listeners only ack.
 *
 * The Slack app runs in a process of its own, as `firebreak slack` does in production; so do
 * the bare app and the load generator (bench/slack-ack-proc.ts). Sharing one event loop with
 * the worker (workflow activations, activities) and the 50 clients measured the worker and
 * the clients, not the ack path.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { loadConfig, type Config } from '../lib/config.js';
import { createKeyPair, keyFilePath, publicLine } from '../lib/identity/keys.js';
import { keyPairSigner } from '../lib/identity/signer.js';
import { connectClient } from '../lib/incidents/index.js';
import type { Principal } from '../lib/incidents/types.js';
import { createLogger } from '../lib/logger.js';
import { GATE_ACTIONS_BLOCK, GATE_APPROVE_ACTION } from '../slack/blocks/gate-message.js';
import { slashCommandBody, startSlackStandIn, type SlackStandIn } from '../test/helpers/slack-standin.js';
import type { SlackChannelRef } from '../workflows/definitions.js';
import { createWorker, type FirebreakWorker } from '../worker/create.js';
import type { FromChild, ToChild } from './slack-ack-proc.js';
import type { BenchContext } from './types.js';

export const TEAM = 'T0BENCH';
export const RUNBOOK = 'bench-slack-gate';
const RUNBOOK_YAML = `# Written by bench/slack-ack.ts into its temp runbooks dir; never part of the product.
name: ${RUNBOOK}
title: Bench Slack gate (two approvals)
severity: low
resolve:
  approval: { count: 1, group: responders }
phases:
  containment:
    - id: gate
      action: lockdown.status
      approval: { count: 2, group: responders }
`;
/** Bench people and their Slack user ids. */
export const PEOPLE = { 'sa-declarer': 'U0SADECL', 'sa-approver-1': 'U0SAAPP1', 'sa-approver-2': 'U0SAAPP2' } as const;
export type Person = keyof typeof PEOPLE;

export interface SlackBench {
  config: Readonly<Config>;
  /** A client of the bench's own config (its task queue). */
  client: Client;
  api: SlackStandIn;
  /** The real Slack app's Request URL (its own process). */
  appUrl: string;
  /** The bare Bolt app's Request URL (its own process). */
  floorUrl: string;
  secret: string;
  /** Tell the app's live refresher where an incident's status message is (as status.slack will say). */
  setRef(id: string, ref: SlackChannelRef): void;
  /** A wave of signed POSTs sent at once by the load generator; each one's latency and start (this process's performance.now()). */
  wave(url: string, bodies: string[]): Promise<Array<{ ms: number; start: number }>>;
  /** The live refresher's counters. */
  liveStats(): Promise<Record<string, number> | undefined>;
  /** Lines the Slack app logged at level warn or above (a failed click among them). */
  appProblems(): string[];
  actor(person: Person): Principal;
  close(): Promise<void>;
}

export async function startSlackBench(ctx: BenchContext, dir: string): Promise<SlackBench> {
  const secret = randomBytes(16).toString('hex');
  const api = await startSlackStandIn({ teamId: TEAM });
  for (const id of Object.values(PEOPLE)) api.addUser({ id });
  const keys = new Map<Person, Awaited<ReturnType<typeof createKeyPair>>>();
  for (const p of Object.keys(PEOPLE) as Person[]) keys.set(p, await createKeyPair(join(dir, 'keys', p)));
  const appKeyDir = join(dir, 'keys', 'slack-app');
  const appKey = await createKeyPair(appKeyDir);
  mkdirSync(join(dir, 'runbooks'), { recursive: true });
  writeFileSync(join(dir, 'runbooks', `${RUNBOOK}.yaml`), RUNBOOK_YAML);
  const target = ctx.config.targets[ctx.target];
  if (!target) throw new Error(`bench target "${ctx.target}" is not configured`);
  const file = join(dir, 'firebreak.yaml');
  writeFileSync(
    file,
    [
      '# Throwaway config written by bench/slack-ack.ts.',
      'user: sa-declarer',
      `runbooksDir: ${JSON.stringify(join(dir, 'runbooks'))}`,
      `dataDir: ${JSON.stringify(join(dir, 'data'))}`,
      `temporal: { address: "${ctx.config.temporal.address}", taskQueue: firebreak-bench-slack-ack }`,
      'defaultTarget: local',
      'approvers:',
      '  groups:',
      '    responders: [sa-approver-1, sa-approver-2]',
      'identity:',
      '  responders:',
      ...[...keys].map(([p, k]) => `    - { name: ${p}, keys: ["${publicLine(k, p)}"], slack: { team: ${TEAM}, user: ${PEOPLE[p]} } }`),
      '  services:',
      `    - { name: slack-app, kind: slack, keys: ["${publicLine(appKey, 'slack-app')}"], may: [declare, approve, resolve, abort, note, retry] }`,
      'targets:',
      '  local:',
      `    redis: { url: "${target.redis.url}", keyPrefix: ${ctx.keyPrefix} }`,
      'slack:',
      '  signingSecret: { env: FBB_SLACK_SIGNING }',
      '  botToken: { env: FBB_SLACK_TOKEN }',
      `  teamId: ${TEAM}`,
      `  apiUrl: "${api.apiUrl}"`,
      '  service: slack-app',
      `  keyFile: ${JSON.stringify(keyFilePath(appKeyDir))}`,
      '  port: 0',
      'log: { level: warn }',
      '',
    ].join('\n'),
  );
  const config = loadConfig({ file, env: {} });
  const logger = createLogger({ level: 'error' });
  const env = { ...process.env, FBB_SLACK_SIGNING: secret, FBB_SLACK_TOKEN: api.token, FBB_SLACK_API_URL: api.apiUrl };
  let worker: FirebreakWorker | undefined;
  let running: Promise<void> | undefined;
  let client: Client | undefined;
  const children: Child[] = [];
  const close = async () => {
    await Promise.all(children.map((c) => c.close()));
    await client?.connection.close();
    await worker?.close();
    await running?.catch(() => undefined);
    await api.close();
  };
  try {
    worker = await createWorker({ config, logger });
    running = worker.run();
    const [app, bare, load] = await Promise.all([Child.start(['app', file], env), Child.start(['bare'], env), Child.start(['load'], env)]);
    children.push(app, bare, load);
    client = await connectClient(config);
    let seq = 0;
    return {
      config,
      client,
      api,
      appUrl: app.url,
      floorUrl: bare.url,
      secret,
      setRef: (id, ref) => app.post({ type: 'ref', id, ref }),
      wave: async (url, bodies) => {
        const n = ++seq;
        const m = await load.ask({ type: 'wave', seq: n, url, secret, bodies }, (r) => r.type === 'wave' && r.seq === n);
        if (m.type !== 'wave' || !m.results) throw new Error(`slack-ack: a wave failed: ${m.type === 'wave' ? m.error : m.type}`);
        return m.results.map((r) => ({ ms: r.ms, start: r.start - performance.timeOrigin }));
      },
      liveStats: async () => {
        const m = await app.ask({ type: 'stats' }, (r) => r.type === 'stats');
        return m.type === 'stats' ? m.stats : undefined;
      },
      appProblems: () => app.problems,
      actor: (p) => ({ user: p, host: 'bench', via: 'api', signer: keyPairSigner(keys.get(p) as NonNullable<ReturnType<typeof keys.get>>) }),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** One forked bench/slack-ack-proc.ts: its URL once ready, requests and answers over IPC, its stderr kept. */
class Child {
  readonly problems: string[] = [];
  url = '';
  private constructor(private readonly proc: ChildProcess) {}

  static async start(args: string[], env: NodeJS.ProcessEnv): Promise<Child> {
    const proc = fork(join(dirname(fileURLToPath(import.meta.url)), 'slack-ack-proc.ts'), args, { env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    const child = new Child(proc);
    let pending = '';
    proc.stderr?.on('data', (d: Buffer) => {
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      child.problems.push(...lines.filter((l) => l.trim()));
    });
    const ready = await child.ask(undefined, (m) => m.type === 'ready', 60_000).catch((err: unknown) => {
      proc.kill('SIGKILL');
      throw new Error(`slack-ack: ${args[0] ?? ''} process did not start: ${(err as Error).message}; ${child.problems.slice(-3).join(' | ')}`);
    });
    if (ready.type === 'ready') child.url = ready.url ?? '';
    return child;
  }

  post(m: ToChild): void {
    this.proc.send(m);
  }

  ask(m: ToChild | undefined, match: (r: FromChild) => boolean, timeoutMs = 120_000): Promise<FromChild> {
    return new Promise((resolve, reject) => {
      const done = (err?: Error, r?: FromChild) => {
        clearTimeout(timer);
        this.proc.off('message', onMessage);
        this.proc.off('exit', onExit);
        if (err) reject(err);
        else resolve(r as FromChild);
      };
      const onMessage = (r: FromChild) => {
        if (match(r)) done(undefined, r);
      };
      const onExit = (code: number | null) => done(new Error(`exited (${code ?? 'signal'})`));
      const timer = setTimeout(() => done(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
      this.proc.on('message', onMessage);
      this.proc.once('exit', onExit);
      if (m) this.proc.send(m);
    });
  }

  async close(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.proc.once('exit', () => r()));
    this.proc.send({ type: 'close' } satisfies ToChild);
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/** `/incident declare` as Slack posts it (opens the modal). */
export function declareBody(api: SlackStandIn, user: string, n: number): string {
  return slashCommandBody({ team: TEAM, user, text: 'declare', responseUrl: api.responseUrl(`declare-${n}`), channel: 'C0BENCH' });
}

/** An Approve click on a gate message, as Slack posts it. */
export function clickBody(api: SlackStandIn, user: string, where: { channel: string; ts: string }, value: string, n: number): string {
  const payload = {
    type: 'block_actions',
    user: { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: TEAM },
    api_app_id: 'A0FIREBREAK',
    token: 'deprecated-verification-token',
    container: { type: 'message', message_ts: where.ts, channel_id: where.channel, is_ephemeral: false },
    trigger_id: `${Date.now()}.${randomBytes(6).toString('hex')}`,
    team: { id: TEAM, domain: 'firebreak-bench' },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: where.channel, name: 'inc-bench' },
    message: { type: 'message', ts: where.ts, text: 'gate', bot_id: 'B0FIREBREAK' },
    state: { values: {} },
    response_url: api.responseUrl(`click-${n}`),
    actions: [{ action_id: GATE_APPROVE_ACTION, block_id: GATE_ACTIONS_BLOCK, text: { type: 'plain_text', text: 'Approve' }, value, type: 'button', action_ts: `${Math.floor(Date.now() / 1000)}.${String(n).padStart(6, '0')}` }],
  };
  return `payload=${encodeURIComponent(JSON.stringify(payload))}`;
}
