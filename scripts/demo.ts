/**
 * `npm run demo`: a throwaway Temporal dev server and worker, one token-leak
 * incident in drill mode on the local target, steered through all four phases
 * by a declarer and two approvers. Leaves nothing running.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { renderStatus } from '../cli/render.js';
import { loadConfig, PROJECT_ROOT } from '../lib/config.js';
import { startDevServer } from '../lib/dev-server.js';
import {
  approveGate,
  connectClient,
  declareIncident,
  getStatus,
  resolveIncident,
  TERMINAL,
  waitFor,
} from '../lib/incident-client.js';
import { createLogger } from '../lib/logger.js';
import { djangoKey, LOCKDOWN_KEY } from '../lib/redis-keys.js';
import { createWorker } from '../worker/create.js';
import type { Actor, IncidentStatus } from '../workflows/definitions.js';

const KEY_PREFIX = 'firebreak-demo';
const say = (line = '') => process.stdout.write(`${line}\n`);
const actor = (user: string): Actor => ({ user, host: 'demo', via: 'demo' });

async function main(): Promise<void> {
  const t0 = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'firebreak-demo-'));
  const configFile = join(dir, 'firebreak.yaml');
  writeFileSync(
    configFile,
    [
      'user: demo-oncall',
      `runbooksDir: ${join(PROJECT_ROOT, 'runbooks')}`,
      `dataDir: ${join(dir, 'data')}`,
      'approvers:',
      '  groups:',
      '    responders: [demo-alice, demo-bob]',
      'targets:',
      '  local:',
      '    description: this machine (demo key prefix, so a real local app is untouched)',
      '    redis: { url: "redis://127.0.0.1:6379/0", keyPrefix: ' + KEY_PREFIX + ' }',
      'log: { level: warn }',
    ].join('\n'),
  );
  say('Firebreak demo: a leaked-token drill on the local target');
  say(`  config ${configFile}`);
  const server = await startDevServer({ uiPort: false, logLevel: 'error' });
  say(`  Temporal dev server ${server.address} (throwaway, in memory)`);
  const base = loadConfig({ file: configFile, env: {} });
  const config = { ...base, temporal: { ...base.temporal, address: server.address } };
  const logger = createLogger({ level: 'warn' });
  const worker = await createWorker({ config, logger });
  const running = worker.run();
  const client = await connectClient(config);
  const redis = new Redis('redis://127.0.0.1:6379/0');
  const flagKey = djangoKey({ keyPrefix: KEY_PREFIX, keyVersion: 1 }, LOCKDOWN_KEY);
  try {
    say(`  worker ready (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    say();
    const declared = await declareIncident(client, config, {
      runbook: 'token-leak',
      mode: 'drill',
      params: { reason: 'demo: refresh token pasted in a public channel', lockdown: true },
      summary: 'A refresh token was pasted in a public chat channel',
      actor: actor('demo-oncall'),
    });
    say(`$ firebreak declare token-leak --mode drill      (as demo-oncall)`);
    say(`  declared ${declared.id}  runbook sha256 ${declared.runbookSha256.slice(0, 12)}`);
    const follow = printer();
    let s = await waitFor(client, declared.id, (x) => x.state === 'awaiting-approval' || TERMINAL.includes(x.state), { onChange: follow });

    say();
    say(`$ firebreak approve ${declared.id} lockdown      (as demo-oncall, the declarer)`);
    await approveGate(client, declared.id, 'lockdown', actor('demo-oncall')).then(
      () => say('  unexpectedly accepted'),
      (err: Error) => say(`  refused: ${err.message}`),
    );
    for (const who of ['demo-alice', 'demo-bob']) {
      say(`$ firebreak approve ${declared.id} lockdown      (as ${who})`);
      const g = await approveGate(client, declared.id, 'lockdown', actor(who));
      say(`  ${g.approvals.length}/${g.required} approvals`);
    }
    s = await waitFor(client, declared.id, (x) => x.state === 'awaiting-resolve' || TERMINAL.includes(x.state), { onChange: follow });
    say(`  Redis ${flagKey} = ${await redis.get(flagKey)}   (the app's middleware now answers 503)`);

    say();
    say(`$ firebreak resolve ${declared.id}      (as demo-alice: the all-clear)`);
    await resolveIncident(client, declared.id, actor('demo-alice'), 'token revoked and rotated');
    s = await waitFor(client, declared.id, (x) => TERMINAL.includes(x.state), { onChange: follow });
    say(`  Redis ${flagKey} = ${(await redis.get(flagKey)) ?? '(unset)'}   (lockdown lifted)`);

    say();
    say(`$ firebreak status ${declared.id}`);
    s = await getStatus(client, declared.id);
    say(renderStatus(s, { timeline: 0 }));
    const timeline = s.steps.find((x) => x.action === 'report.timeline');
    const md = join(config.dataDir, 'evidence', s.id, 'timeline.md');
    if (timeline?.state === 'succeeded') {
      say();
      say(`Timeline written to ${md}; first lines:`);
      say(readFileSync(md, 'utf8').split('\n').slice(0, 8).map((l) => `  ${l}`).join('\n'));
    }
    say();
    say(`demo ${s.state} in ${((performance.now() - t0) / 1000).toFixed(1)} s; nothing left running.`);
    if (s.state !== 'completed') process.exitCode = 1;
  } finally {
    await redis.del(flagKey).catch(() => undefined);
    redis.disconnect();
    await client.connection.close();
    await worker.close();
    await running.catch(() => undefined);
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One line per phase and step change. */
function printer(): (s: IncidentStatus) => void {
  const seen = new Map<string, string>();
  let phase = '';
  return (s) => {
    if (s.phase !== phase) {
      phase = s.phase;
      say(`  ── phase ${phase}`);
    }
    for (const st of s.steps) {
      if (st.state !== 'pending' && seen.get(st.id) !== st.state) {
        seen.set(st.id, st.state);
        say(`     ${st.id}: ${st.state}${st.summary ? ` — ${st.summary}` : ''}${st.error ? ` — ${st.error}` : ''}`);
      }
    }
  };
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
