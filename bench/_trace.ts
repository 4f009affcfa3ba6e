import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../lib/config.js';
import { startDevServer } from '../lib/dev-server.js';
import { connectClient, declareIncident, resolveIncident, waitFor } from '../lib/incident-client.js';
import { createLogger } from '../lib/logger.js';
import { createWorker } from '../worker/create.js';
import { declareToComplete } from './declare-to-complete.js';
import proto from '@temporalio/proto';
const { temporal } = proto;
const dir = mkdtempSync(join(tmpdir(), 'fbtrace-'));
mkdirSync(join(dir, 'runbooks'));
for (const [f, y] of Object.entries(declareToComplete.runbooks ?? {})) writeFileSync(join(dir, 'runbooks', f), y);
writeFileSync(join(dir, 'c.yaml'), `user: bench-declarer
runbooksDir: ${join(dir, 'runbooks')}
dataDir: ${join(dir, 'data')}
approvers: { groups: { responders: [bench-a] } }
targets:
  local:
    redis: { url: "redis://127.0.0.1:6379/0", keyPrefix: fbtrace-x }
log: { level: warn }
`);
const server = await startDevServer({ uiPort: false, logLevel: 'error' });
const base = loadConfig({ file: join(dir, 'c.yaml'), env: {} });
const config = { ...base, temporal: { ...base.temporal, address: server.address } };
const worker = await createWorker({ config, logger: createLogger({ level: 'warn' }) });
const running = worker.run();
const client = await connectClient(config);
const T = temporal.api.enums.v1.EventType;
try {
  for (let k = 0; k < 4; k++) {
    const d = await declareIncident(client, config, { runbook: 'bench-lockdown', mode: 'live', actor: { user: 'bench-declarer', host: 'h', via: 'api' } });
    await waitFor(client, d.id, (x) => x.state === 'awaiting-resolve', { intervalMs: 5 });
    await resolveIncident(client, d.id, { user: 'bench-a', host: 'h', via: 'api' });
    await client.workflow.getHandle(d.workflowId).result();
    if (k < 3) continue;
    const res = await client.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId: d.workflowId } });
    const evs = res.history?.events ?? [];
    const ms = (e: any) => Number(e.eventTime.seconds.toString()) * 1000 + e.eventTime.nanos / 1e6;
    const t0 = ms(evs[0]); let prev = t0;
    for (const e of evs) { const t = ms(e); console.log(String(e.eventId).padStart(3), (t - t0).toFixed(1).padStart(7), ('+' + (t - prev).toFixed(1)).padStart(7), T[e.eventType as number]); prev = t; }
  }
} finally {
  await client.connection.close(); await worker.close(); await running.catch(() => undefined); await server.stop(); rmSync(dir, { recursive: true, force: true });
}
