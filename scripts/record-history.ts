/**
 * Record a history for the replay test: a live, signed token-leak incident with both
 * approvals, a note and the all-clear, on a throwaway dev server and a private Redis key
 * prefix, its people holding throwaway keys. Run after an intentional workflow change,
 * naming a new file so the older recordings keep replaying:
 *   npx tsx scripts/record-history.ts token-leak-signed.json [--abort] [--audit]
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
import { ephemeralKeyPair, publicLine, type KeyPair } from '../lib/identity/keys.js';
import { keyPairSigner } from '../lib/identity/signer.js';
import type { Principal } from '../lib/incidents/types.js';

const name = process.argv[2] ?? 'token-leak.json';
// --abort: the declarer aborts with approved containment in force; the rollback's approval lifts it.
const abortRun = process.argv.includes('--abort');
if (!/^[\w.-]+\.json$/.test(name)) throw new Error(`usage: record-history.ts <name>.json (a file name in test/histories), not ${name}`);
const out = join(PROJECT_ROOT, 'test', 'histories', name);
const PEOPLE = ['recorder-oncall', 'recorder-alice', 'recorder-bob'];
const keys = new Map(PEOPLE.map((p) => [p, ephemeralKeyPair()]));
const prefix = `fb-record-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'firebreak-record-'));
const configFile = join(dir, 'firebreak.yaml');
writeFileSync(
  configFile,
  [
    'user: recorder-oncall',
    `runbooksDir: ${join(PROJECT_ROOT, 'runbooks')}`,
    `dataDir: ${join(dir, 'data')}`,
    'approvers: { groups: { responders: [recorder-alice, recorder-bob] } }',
    'identity:',
    '  responders:',
    ...PEOPLE.map((p) => `    - { name: ${p}, keys: ["${publicLine(keys.get(p) as KeyPair, p)}"] }`),
    `targets: { local: { redis: { url: "redis://127.0.0.1:6379/0", keyPrefix: ${prefix} } } }`,
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
const client = await connectClient(config);
try {
  const { id } = await declareIncident(client, config, { runbook: 'token-leak', params: { reason: 'recorded history', lockdown: true }, actor: actor('recorder-oncall') });
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
  const s = await waitFor(client, id, (x) => TERMINAL.includes(x.state));
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
  await server.stop();
  const redis = new Redis('redis://127.0.0.1:6379/0');
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
}
