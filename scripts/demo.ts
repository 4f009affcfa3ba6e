/**
 * `npm run demo`: a throwaway Temporal dev server and worker, two drill-mode
 * incidents on the local target, steered by a declarer and two approvers:
 *  1. token-leak: revoke a leaked jti and a user's tokens, ban an address,
 *     flip the kill-switch; the all-clear lifts the kill-switch.
 *  2. sqli: put a throwaway app database read-only, prove a write fails, and
 *     the all-clear makes it writable again.
 * Phase III rotates the JWT signing key and the app role's password into a
 * demo .env file and probes a local HTTPS stand-in of the app. Everything
 * lives under a demo Redis key prefix, demo databases and a temp folder, so a
 * real local app is untouched. Leaves nothing running; what the incidents
 * produced (post-mortem, timeline, notices, evidence) stays in the git-ignored
 * .data/demo/evidence/<incident-id>/ (the demo's dataDir, so the paths in the
 * step summaries are the kept files).
 * Then one drill as a schedule runs it (scripts/demo-drill.ts): robots rehearse
 * sqli on a drill target of its own, and the report's summary is printed.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { incidentDir } from '../lib/documents/files.js';
import { progressPrinter } from '../cli/commands/progress.js';
import { renderStatus } from '../cli/render.js';
import { loadConfig, PROJECT_ROOT, type Config } from '../lib/config.js';
import { startDevServer } from '../lib/dev-server.js';
import { connectAuditDb, verifyAuditLog } from '../lib/incidents/audit.js';
import { approveGate, connectClient, declareIncident, handleFor, resolveIncident, TERMINAL, waitFor } from '../lib/incidents/index.js';
import { createLogger } from '../lib/logger.js';
import { createWorker } from '../worker/create.js';
import { startProbeApp } from '../test/helpers/probe-app.js';
import { ADMIN_URL, createDemoDb, type DemoDb } from './demo-db.js';
import { prepareDrillDemo, runDrillDemo } from './demo-drill.js';
import type { Client } from '@temporalio/client';
import { ephemeralKeyPair, publicLine, type KeyPair } from '../lib/identity/keys.js';
import { keyPairSigner } from '../lib/identity/signer.js';
import type { Principal } from '../lib/incidents/types.js';
import type { IncidentStatus } from '../workflows/definitions.js';

const KEY_PREFIX = 'firebreak-demo';
/** The demo's dataDir: each incident's documents and evidence outlive the temp folder here (git-ignored). */
const KEEP_DIR = join(PROJECT_ROOT, '.data', 'demo');
const say = (line = '') => process.stdout.write(`${line}\n`);
/** The demo's people, each with a throwaway key (registered in the demo config): every decision is signed. */
const PEOPLE = ['demo-oncall', 'demo-alice', 'demo-bob'];
const KEYS = new Map<string, KeyPair>(PEOPLE.map((p) => [p, ephemeralKeyPair()]));
const actor = (user: string, keyOf: string = user): Principal => ({ user, host: 'demo', via: 'demo', signer: keyPairSigner(KEYS.get(keyOf) as KeyPair) });
const secs = (t0: number) => ((performance.now() - t0) / 1000).toFixed(1);
/** A path as typed from the project root, when it is inside it. */
const shown = (p: string) => (relative(PROJECT_ROOT, p).startsWith('..') ? p : relative(PROJECT_ROOT, p));

/** Try a write as the app role, the way the app would. */
async function appWrite(db: DemoDb): Promise<string> {
  const c = new pg.Client({ connectionString: `postgres://${db.role}@127.0.0.1:5432/${db.database}` });
  await c.connect();
  try {
    await c.query('SET default_transaction_read_only = off');
    await c.query(`INSERT INTO orders (item) VALUES ('demo')`);
    return 'INSERT ok';
  } catch (err) {
    return `INSERT refused: ${(err as Error).message} (SQLSTATE ${(err as { code?: string }).code ?? '?'})`;
  } finally {
    await c.end();
  }
}

async function showKeys(redis: Redis): Promise<void> {
  const keys = (await redis.keys(`${KEY_PREFIX}:1:*`)).sort();
  for (const k of keys) say(`     ${k} = ${await redis.get(k)}  (ttl ${await redis.ttl(k)} s)`);
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'firebreak-demo-'));
  const db = await createDemoDb();
  const app = await startProbeApp();
  const drill = await prepareDrillDemo(dir);
  const envFile = join(dir, 'app.env');
  writeFileSync(envFile, '# the demo app\'s .env (docker-compose)\nDEBUG=False\nJWT_SECRET_KEY=old-demo-key\n', { mode: 0o600 });
  process.env.FIREBREAK_DEMO_PAYLOAD_KEY = randomBytes(32).toString('base64');
  process.env.FIREBREAK_DEMO_AUDIT_KEY = randomBytes(32).toString('base64');
  const ownDb = `firebreak_demo_own_${randomBytes(3).toString('hex')}`;
  const configFile = join(dir, 'firebreak.yaml');
  writeFileSync(
    configFile,
    [
      'user: demo-oncall',
      `database: { url: "postgres://postgres@127.0.0.1:5432/${ownDb}" }`,
      'encryption: { current: demo, keys: [{ id: demo, secret: { env: FIREBREAK_DEMO_PAYLOAD_KEY } }] }',
      'audit: { key: { env: FIREBREAK_DEMO_AUDIT_KEY } }',
      `runbooksDir: ${join(PROJECT_ROOT, 'runbooks')}`,
      `dataDir: ${KEEP_DIR}`,
      'approvers:',
      '  groups:',
      '    responders: [demo-alice, demo-bob]',
      'identity:',
      '  responders:',
      ...PEOPLE.map((p) => `    - { name: ${p}, keys: ["${publicLine(KEYS.get(p) as KeyPair, p)}"] }`),
      ...drill.identity,
      ...drill.drills,
      'targets:',
      '  local:',
      '    description: this machine (demo key prefix and database, so a real local app is untouched)',
      `    redis: { url: "redis://127.0.0.1:6379/0", keyPrefix: ${KEY_PREFIX} }`,
      `    postgres: { adminUrl: "${ADMIN_URL}", database: ${db.database}, appRole: ${db.role} }`,
      `    secrets: { sinks: [{ type: dotenv, path: "${envFile}" }] }`,
      `    app: { url: "${app.httpsOrigin}", httpUrl: "${app.httpOrigin}", caFile: "${app.caFile}", routes: ["/", "/admin"] }`,
      ...drill.target,
      'log: { level: warn }',
    ].join('\n'),
  );
  say('Firebreak demo: two drill-mode incidents on the local target, then one drill run by robots');
  say(`  config ${configFile}`);
  const server = await startDevServer({ uiPort: false, logLevel: 'error' });
  say(`  Temporal dev server ${server.address} (throwaway, in memory)`);
  const base = loadConfig({ file: configFile, env: {} });
  const config: Readonly<Config> = { ...base, temporal: { ...base.temporal, address: server.address } };
  const worker = await createWorker({ config, logger: createLogger({ level: 'error' }) });
  const running = worker.run();
  const client = await connectClient(config);
  const redis = new Redis('redis://127.0.0.1:6379/0');
  const kept: string[] = [];
  try {
    say(`  worker ready (${secs(t0)} s)`);
    const leak = await tokenLeakDrill(client, config, redis, envFile);
    const sqli = await sqliDrill(client, config, db, envFile);

    say();
    say(`$ firebreak status ${leak.id}`);
    say(renderStatus(leak, { timeline: 0 }));
    for (const s of [leak, sqli]) {
      const folder = incidentDir(config.dataDir, s.id);
      if (!existsSync(folder)) continue;
      // The final status next to the documents drawn from it (the dev server that held it is gone).
      writeFileSync(join(folder, 'status.json'), `${JSON.stringify(s, null, 2)}\n`);
      kept.push(folder);
    }

    const md = join(incidentDir(config.dataDir, leak.id), 'postmortem.md');
    say();
    say(`Post-mortem draft of ${leak.id}; first lines:`);
    say(readFileSync(md, 'utf8').split('\n').slice(0, 18).map((l) => `  ${l}`).join('\n'));
    const rehearsal = await runDrillDemo(client, config, say);
    if (rehearsal && existsSync(incidentDir(config.dataDir, rehearsal.incidentId))) kept.push(incidentDir(config.dataDir, rehearsal.incidentId));
    const intact = await verifyDemoAudit(client, config, [leak.id, sqli.id, ...(rehearsal ? [rehearsal.incidentId] : [])]);
    say();
    const ok = leak.state === 'completed' && sqli.state === 'completed' && rehearsal?.outcome === 'passed' && intact;
    say(`demo ${ok ? 'completed' : 'FAILED'} in ${secs(t0)} s; nothing left running.`);
    if (!ok) process.exitCode = 1;
  } finally {
    const keys = await redis.keys(`${KEY_PREFIX}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await client.connection.close();
    await worker.close();
    await running.catch(() => undefined);
    await server.stop();
    await db.drop();
    await app.close();
    await drill.close();
    await dropDatabase(ownDb);
    rmSync(dir, { recursive: true, force: true });
  }
  if (kept.length) {
    say();
    say('What the drills produced is kept (git-ignored):');
    for (const k of kept) say(`  ${shown(k)}/  ${readdirSync(k).sort().join(', ')}`);
  }
}

/** `firebreak audit verify` for each incident, once its workflow has returned (the close is in the log then). */
async function verifyDemoAudit(client: Client, config: Readonly<Config>, ids: string[]): Promise<boolean> {
  say();
  say(`$ firebreak audit verify ${ids.join(' ')}   # the audit log: chains, signed checkpoints and decisions, history`);
  const db = await connectAuditDb(config);
  let ok = true;
  try {
    for (const id of ids) {
      await handleFor(client, id).result();
      const r = await verifyAuditLog(config, { incidentId: id, client, db });
      const i = r.incidents[0];
      ok &&= r.ok;
      say(`  ${r.ok ? 'intact  ' : 'TAMPERED'} ${id}: ${i?.records ?? 0} records, ${i?.checkpoints ?? 0} signed checkpoints, ${i?.decisions ?? 0} decisions re-verified${r.first ? ` — ${r.first.message}` : ''}`);
    }
  } finally {
    await db.end();
  }
  return ok;
}

async function dropDatabase(name: string): Promise<void> {
  const a = new pg.Client({ connectionString: ADMIN_URL });
  await a.connect();
  await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await a.end();
}

/** The .env the app reads, with values masked: the demo shows what changed, never a secret. */
function showEnv(envFile: string): void {
  for (const line of readFileSync(envFile, 'utf8').split('\n').filter(Boolean)) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line);
    say(`     ${m ? `${m[1]}=<${m[2]?.length ?? 0} characters>` : line}`);
  }
}

function showProbe(s: IncidentStatus): void {
  const probe = s.steps.find((x) => x.action === 'deploy.probe');
  const table = (probe?.proof?.table ?? []) as Array<{ check: string; passed: boolean; detail: string }>;
  say(`  ${probe?.summary ?? 'no probe'}`);
  for (const r of table) say(`     ${r.passed ? 'PASS' : 'FAIL'}  ${r.check.padEnd(22)} ${r.detail}`);
}

async function tokenLeakDrill(client: Client, config: Readonly<Config>, redis: Redis, envFile: string): Promise<IncidentStatus> {
  say();
  say('1. Leaked refresh token');
  say(`$ firebreak declare token-leak --mode drill --set jtis=3f2c9a --set user_ids=42 --set ban_ips=203.0.113.7 --set lockdown=true`);
  const declared = await declareIncident(client, config, {
    runbook: 'token-leak',
    mode: 'drill',
    summary: 'A refresh token was pasted in a public chat channel and used from 203.0.113.7',
    params: { reason: 'demo: refresh token pasted in a public channel', jtis: ['3f2c9a'], user_ids: ['42'], ban_ips: ['203.0.113.7'], lockdown: 'true' },
    actor: actor('demo-oncall'),
  });
  say(`  declared ${declared.id}  runbook sha256 ${declared.runbookSha256.slice(0, 12)}`);
  const follow = printer();
  await waitFor(client, declared.id, (x) => x.gates.some((g) => g.id === 'lockdown' && g.state === 'open') || TERMINAL.includes(x.state), { onChange: follow, intervalMs: 100 });
  say(`$ firebreak approve ${declared.id} lockdown      (as demo-oncall, the declarer)`);
  await approveGate(client, declared.id, 'lockdown', actor('demo-oncall')).then(
    () => say('  unexpectedly accepted'),
    (err: Error) => say(`  refused: ${err.message}`),
  );
  // The name is not the identity: the declarer's own key signs, and the worker knows whose key it is.
  say(`$ FIREBREAK_USER=demo-alice firebreak approve ${declared.id} lockdown      (demo-oncall again, claiming to be demo-alice)`);
  await approveGate(client, declared.id, 'lockdown', actor('demo-alice', 'demo-oncall')).then(
    () => say('  unexpectedly accepted'),
    (err: Error) => say(`  refused: ${err.message}`),
  );
  for (const who of ['demo-alice', 'demo-bob']) {
    const g = await approveGate(client, declared.id, 'lockdown', actor(who));
    say(`$ firebreak approve ${declared.id} lockdown      (as ${who}): ${g.approvals.length}/${g.required}`);
  }
  await waitFor(client, declared.id, (x) => x.gates.some((g) => g.id === 'rotate-jwt' && g.state === 'open') || TERMINAL.includes(x.state), { onChange: follow, intervalMs: 100 });
  for (const who of ['demo-alice', 'demo-bob']) {
    const g = await approveGate(client, declared.id, 'rotate-jwt', actor(who));
    say(`$ firebreak approve ${declared.id} rotate-jwt      (as ${who}): ${g.approvals.length}/${g.required}`);
  }
  const contained = await waitFor(client, declared.id, (x) => x.state === 'awaiting-resolve' || x.state === 'blocked' || TERMINAL.includes(x.state), { onChange: follow, intervalMs: 100 });
  say(`  the app's .env after the rotation (${envFile}):`);
  showEnv(envFile);
  showProbe(contained);
  say('  what the app now reads from Redis (Django cache keys):');
  await showKeys(redis);
  say(`$ firebreak resolve ${declared.id}      (as demo-alice: the all-clear)`);
  await resolveIncident(client, declared.id, actor('demo-alice'), 'token rotated, attacker banned');
  const s = await waitFor(client, declared.id, (x) => TERMINAL.includes(x.state), { onChange: follow, intervalMs: 100 });
  say('  after the all-clear: the kill-switch is lifted; revocations stay, the ban runs out on its durable timer:');
  await showKeys(redis);
  return s;
}

async function sqliDrill(client: Client, config: Readonly<Config>, db: DemoDb, envFile: string): Promise<IncidentStatus> {
  say();
  say(`2. SQL injection: database ${db.database}, app role ${db.role}`);
  say(`  before:   ${await appWrite(db)}`);
  say('$ firebreak declare sqli --mode drill');
  const declared = await declareIncident(client, config, { runbook: 'sqli', mode: 'drill', summary: 'UNION SELECT payloads against /api/orders in the WAF log', actor: actor('demo-oncall') });
  const follow = printer();
  await waitFor(client, declared.id, (x) => x.gates.some((g) => g.id === 'read-only' && g.state === 'open') || TERMINAL.includes(x.state), { onChange: follow, intervalMs: 100 });
  for (const who of ['demo-alice', 'demo-bob']) {
    const g = await approveGate(client, declared.id, 'read-only', actor(who));
    say(`$ firebreak approve ${declared.id} read-only      (as ${who}): ${g.approvals.length}/${g.required}`);
  }
  await waitFor(client, declared.id, (x) => x.state === 'awaiting-resolve' || TERMINAL.includes(x.state), { onChange: follow, intervalMs: 100 });
  say(`  contained: ${await appWrite(db)}`);
  say(`  the app's .env after rotating the app role's password:`);
  showEnv(envFile);
  say(`$ firebreak resolve ${declared.id}      (as demo-bob)`);
  await resolveIncident(client, declared.id, actor('demo-bob'), 'query patched');
  const s = await waitFor(client, declared.id, (x) => TERMINAL.includes(x.state), { onChange: follow, intervalMs: 100 });
  say(`  after the all-clear: ${await appWrite(db)}`);
  return s;
}

/** The CLI's --wait printer: one line per step change, under the step's own phase. */
function printer(): (s: IncidentStatus) => void {
  return progressPrinter({ progress: (line) => say(line) });
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
