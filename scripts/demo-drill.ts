/**
 * The demo's third part: one scheduled-style drill, run once now (`firebreak drill run`), on a
 * drill target of its own — a throwaway database and app role, a Redis namespace, and an
 * HTTPS stand-in of the app behind the shipped Express guard — approved by drill robots whose
 * keys only the worker holds. Prints the report's summary: outcome, times, every outside check,
 * what stays on the drill target.
 */
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { Redis } from 'ioredis';
import { firebreakGuard } from '../examples/express/firebreak-middleware.js';
import type { Config } from '../lib/config.js';
import { createKeyPair, publicLine } from '../lib/identity/keys.js';
import { drillResult, runDrill } from '../lib/incidents/drills.js';
import { startProbeApp, type ProbeApp } from '../test/helpers/probe-app.js';
import type { DrillReport } from '../workflows/drill-definitions.js';
import { ADMIN_URL, createDemoDb, type DemoDb } from './demo-db.js';

export const DRILL_PREFIX = 'firebreak-demo-drill';
const ROBOTS = ['demo-drill-bot-1', 'demo-drill-bot-2', 'demo-drill-bot-3'];

export interface DrillDemo {
  /** Lines under `identity:` (the robots' public keys, as services of kind drill-robot). */
  identity: string[];
  /** Top-level `drills:` section. */
  drills: string[];
  /** The `drill` target. */
  target: string[];
  db: DemoDb;
  close(): Promise<void>;
}

export async function prepareDrillDemo(dir: string): Promise<DrillDemo> {
  const db = await createDemoDb('drill_');
  const redis = new Redis('redis://127.0.0.1:6379/0', { maxRetriesPerRequest: 2 });
  const guard = firebreakGuard({ redis, keyPrefix: DRILL_PREFIX, onError: () => undefined });
  const app: ProbeApp = await startProbeApp({ guard });
  const keys = await Promise.all(ROBOTS.map((name) => createKeyPair(join(dir, 'robots', name))));
  return {
    identity: ['  services:', ...ROBOTS.map((name, i) => `    - { name: ${name}, kind: drill-robot, keys: ["${publicLine(keys[i] as NonNullable<(typeof keys)[number]>, name)}"], may: [declare, approve, resolve, abort] }`)],
    drills: ['drills:', '  approveAfter: 200ms', '  healthEvery: 2s', '  robots:', ...ROBOTS.map((name) => `    - { name: ${name}, keyFile: ${join(dir, 'robots', name, 'firebreak', 'ed25519.key')} }`)],
    target: [
      '  drill:',
      '    description: an isolated copy of the stack for drills (its own database, Redis namespace and app)',
      '    drillTarget: true',
      `    redis: { url: "redis://127.0.0.1:6379/0", keyPrefix: ${DRILL_PREFIX} }`,
      `    postgres: { adminUrl: "${ADMIN_URL}", database: ${db.database}, appRole: ${db.role} }`,
      `    app: { url: "${app.httpsOrigin}/", httpUrl: "${app.httpOrigin}/", caFile: "${app.caFile}", routes: ["/"] }`,
    ],
    db,
    async close() {
      await app.close();
      const left = await redis.keys(`${DRILL_PREFIX}:*`);
      if (left.length) await redis.del(...left);
      redis.disconnect();
      await db.drop();
    },
  };
}

const secs = (ms?: number) => (ms === undefined ? '—' : `${(ms / 1000).toFixed(1)} s`);

/** `firebreak drill run sqli --target drill --set lockdown=true`, then the report's summary. */
export async function runDrillDemo(client: Client, config: Readonly<Config>, say: (line?: string) => void): Promise<DrillReport | undefined> {
  say();
  say('3. A drill: robots rehearse sqli on the drill target (its own database, Redis namespace and app)');
  say('$ firebreak drill run sqli --target drill --set lockdown=true');
  const t0 = performance.now();
  const { workflowId } = await runDrill(client, config, { runbook: 'sqli', target: 'drill', params: { lockdown: 'true' }, actor: { user: 'demo-oncall', host: 'demo', via: 'demo' } });
  const { report, error } = await drillResult(client, workflowId);
  if (!report) {
    say(`  the drill did not report: ${error ?? 'no report'}`);
    return undefined;
  }
  say(`  drill ${report.incidentId} ${report.outcome.toUpperCase()} in ${((performance.now() - t0) / 1000).toFixed(1)} s: time to containment ${secs(report.timeToContainmentMs)}, to full restore ${secs(report.timeToRestoreMs)}`);
  const gated = report.steps.filter((s) => s.outcome !== 'skipped').map((s) => `${s.id} ${s.outcome}`);
  say(`  steps: ${gated.join(', ')}`);
  say('  checked from outside:');
  for (const c of report.postConditions) say(`     ${c.ok ? 'held  ' : 'FAILED'}  after ${c.when === 'containment' ? 'containment  ' : 'the all-clear'}  ${c.check}: ${c.detail}`);
  for (const f of report.failures) say(`  why it did not pass: ${f}`);
  say(`  left on the drill target (not undone): ${report.irreversible.map((e) => `${e.step} (${e.action})`).join(', ') || 'nothing'}`);
  return report;
}
