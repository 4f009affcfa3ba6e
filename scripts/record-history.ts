/**
 * Record a history for the replay test: a live, signed token-leak incident with both
 * approvals, a note and the all-clear, on a throwaway dev server and a private Redis key
 * prefix, its people holding throwaway keys. Run after an intentional workflow change,
 * naming a new file so the older recordings keep replaying:
 *   npx tsx scripts/record-history.ts token-leak-signed.json [--abort] [--slack] [--edges] [--audit]
 * --slack: the worker's config gives the target an incident channel (slack.channels), on a
 * local Slack Web API stand-in (test/helpers/slack-standin.ts).
 * --edges: the incident also bans an address, fanned out to two edge processes (in this
 * process, deny files in the temp dir, `true` for nginx's test and reload).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { loadConfig, PROJECT_ROOT } from '../lib/config.js';
import { startDevServer } from '../lib/dev-server.js';
import { abortIncident, addNote, approveGate, connectClient, declareIncident, handleFor, resolveIncident, TERMINAL, waitFor } from '../lib/incidents/index.js';
import { createLogger } from '../lib/logger.js';
import { findTemporalCli } from '../lib/temporal-bin.js';
import { createWorker } from '../worker/create.js';
import { createEdgeWorker } from '../worker/edge.js';
import { ephemeralKeyPair, publicLine, type KeyPair } from '../lib/identity/keys.js';
import { keyPairSigner } from '../lib/identity/signer.js';
import type { Principal } from '../lib/incidents/types.js';
import { createKeyPair, keyFilePath } from '../lib/identity/keys.js';
import { startSlackStandIn } from '../test/helpers/slack-standin.js';

const name = process.argv[2] ?? 'token-leak.json';
// --abort: the declarer aborts with approved containment in force; the rollback's approval lifts it.
const abortRun = process.argv.includes('--abort');
const slackRun = process.argv.includes('--slack');
const edgesRun = process.argv.includes('--edges');
const EDGES = edgesRun ? ['record-a', 'record-b'] : [];
if (!/^[\w.-]+\.json$/.test(name)) throw new Error(`usage: record-history.ts <name>.json (a file name in test/histories), not ${name}`);
const out = join(PROJECT_ROOT, 'test', 'histories', name);
const PEOPLE = ['recorder-oncall', 'recorder-alice', 'recorder-bob'];
const keys = new Map(PEOPLE.map((p) => [p, ephemeralKeyPair()]));
const prefix = `fb-record-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'firebreak-record-'));
const configFile = join(dir, 'firebreak.yaml');
const slack = slackRun ? await startSlackStandIn({ teamId: 'T0RECORD' }) : undefined;
const slackKey = slack ? await createKeyPair(join(dir, 'slack-key')) : undefined;
if (slack) writeFileSync(join(dir, 'slack-token'), slack.token, { mode: 0o600 });
const slackLines = (p: string) => (slack ? `, slack: { team: T0RECORD, user: U0${p.replace(/[^a-z]/g, '').toUpperCase().slice(0, 12)} }` : '');
writeFileSync(
  configFile,
  [
    'user: recorder-oncall',
    `runbooksDir: ${join(PROJECT_ROOT, 'runbooks')}`,
    `dataDir: ${join(dir, 'data')}`,
    'approvers: { groups: { responders: [recorder-alice, recorder-bob] } }',
    'identity:',
    '  responders:',
    ...PEOPLE.map((p) => `    - { name: ${p}, keys: ["${publicLine(keys.get(p) as KeyPair, p)}"]${slackLines(p)} }`),
    ...(slackKey ? ['  services:', `    - { name: slack-app, kind: slack, keys: ["${publicLine(slackKey, 'slack-app')}"], may: [approve, resolve, note] }`] : []),
    `targets: { local: { redis: { url: "redis://127.0.0.1:6379/0", keyPrefix: ${prefix} } } }`,
    ...(slack && slackKey
      ? [
          'slack:',
          `  signingSecret: { file: ${join(dir, 'slack-token')} }`,
          `  botToken: { file: ${join(dir, 'slack-token')} }`,
          '  teamId: T0RECORD',
          `  apiUrl: "${slack.apiUrl}"`,
          '  service: slack-app',
          `  keyFile: ${keyFilePath(join(dir, 'slack-key'))}`,
          '  channels: { inviteGroups: [responders] }',
        ]
      : []),
    ...(EDGES.length ? ['edges:', ...EDGES.map((e) => `  - { name: ${e}, taskQueue: ${prefix}-${e}, denyFile: ${join(dir, `${e}.conf`)}, testCommand: ["true"], reloadCommand: ["true"] }`)] : []),
    // --audit: the worker keeps the audit log (Firebreak's database on 127.0.0.1:5432).
    ...(process.argv.includes('--audit') ? [`audit: { key: { env: FB_RECORD_AUDIT_KEY } }`] : []),
  ].join('\n'),
);
const actor = (user: string): Principal => ({ user, host: 'recorder', via: 'api', signer: keyPairSigner(keys.get(user) as KeyPair) });
const server = await startDevServer({ uiPort: false, logLevel: 'error' });
const base = loadConfig({ file: configFile, env: {} });
process.env.FB_RECORD_AUDIT_KEY = randomBytes(32).toString('base64');
const config = { ...base, temporal: { ...base.temporal, address: server.address } };
const worker = await createWorker({ config, logger: createLogger({ level: 'warn' }) });
const running = worker.run();
const edgeWorkers = await Promise.all(EDGES.map((name) => createEdgeWorker({ config, logger: createLogger({ level: 'warn' }), name })));
const edgesRunning = edgeWorkers.map((e) => e.run());
const client = await connectClient(config);
try {
  const { id } = await declareIncident(client, config, { runbook: 'token-leak', params: { reason: 'recorded history', lockdown: true, ...(edgesRun && { ban_ips: ['203.0.113.7'] }) }, actor: actor('recorder-oncall') });
  await waitFor(client, id, (s) => s.state === 'awaiting-approval');
  await approveGate(client, id, 'lockdown', actor('recorder-alice'));
  await approveGate(client, id, 'lockdown', actor('recorder-bob'));
  await waitFor(client, id, (s) => s.state === 'awaiting-resolve');
  await addNote(client, id, 'recorded for the replay test', actor('recorder-oncall'));
  if (abortRun) {
    await abortIncident(client, id, 'recorded abort', actor('recorder-oncall'));
    await waitFor(client, id, (x) => x.state === 'rolling-back');
  }
  await resolveIncident(client, id, actor('recorder-alice'));
  await waitFor(client, id, (x) => TERMINAL.includes(x.state));
  // The run closes after the status says so (the last Slack events drain first): record all of it.
  const s = (await handleFor(client, id).result()) as Awaited<ReturnType<typeof waitFor>>;
  if (slack && (!s.slack || s.notifications?.missed.length !== 0 || !s.notifications.sent)) throw new Error(`the Slack events did not all arrive: ${JSON.stringify(s.notifications)}`);
  const expected = abortRun ? 'aborted' : 'completed';
  if (s.state !== expected) throw new Error(`incident ended ${s.state}, not ${expected}`);
  // The official CLI writes the JSON form that historyFromJSON (and the replayer) reads.
  const json = execFileSync(findTemporalCli(), ['workflow', 'show', '--address', server.address, '--workflow-id', handleFor(client, id).workflowId, '--output', 'json'], { encoding: 'utf8' });
  writeFileSync(out, json);
  process.stdout.write(`recorded ${(JSON.parse(json) as { events: unknown[] }).events.length} events of ${id} into ${out}\n`);
} finally {
  await client.connection.close();
  await worker.close();
  await running.catch(() => undefined);
  for (const e of edgeWorkers) await e.close();
  await Promise.allSettled(edgesRunning);
  await server.stop();
  await slack?.close();
  const redis = new Redis('redis://127.0.0.1:6379/0');
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
}
