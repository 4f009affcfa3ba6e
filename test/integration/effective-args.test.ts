/**
 * Approvers see what a step will act with: database.read_only's gate shows the
 * database, role and schemas from the worker's target config, its hash covers
 * them, and the step refuses when the worker's config changed after approval.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { gateHash } from '../../lib/policy/decisions.js';
import { loadConfig } from '../../lib/config.js';
import { abortIncident, approveGate, declareIncident, TERMINAL, waitFor } from '../../lib/incidents/index.js';
import { createLogger } from '../../lib/logger.js';
import { createWorker, type FirebreakWorker } from '../../worker/create.js';
import type { IncidentStatus } from '../../workflows/definitions.js';
import { createAppDatabase, type AppDatabase } from '../helpers/app-db.js';
import { DECLARER, startStack, type Stack } from '../helpers/firebreak.js';

let app: AppDatabase;
let stack: Stack;
let worker: FirebreakWorker | undefined;
const logger = createLogger({ level: 'error', pretty: false });

async function startWorker(configFile: string): Promise<void> {
  await worker?.close();
  worker = await createWorker({ config: loadConfig({ file: configFile, env: {} }), logger, bundlePath: inject('workflowBundle') });
  void worker.run();
}

beforeAll(async () => {
  app = await createAppDatabase('effargs');
  stack = await startStack('effargs', { worker: false, targetExtra: `    postgres: { database: ${app.name}, appRole: "${app.role}", schemas: [public] }` });
  stack.writeRunbook(
    'db-ro',
    ['name: db-ro', 'title: Read-only', 'severity: critical', 'resolve:', '  approval: { count: 1, group: responders }', 'phases:', '  containment:', '    - id: read-only', '      action: database.read_only', '      approval: { count: 1, group: responders }'].join('\n'),
  );
  await startWorker(stack.configFile);
});
afterAll(async () => {
  await worker?.close();
  await stack?.stop();
  await app?.cleanup();
});

const until = (id: string, pred: (s: IncidentStatus) => boolean) =>
  waitFor(stack.client, id, (s) => pred(s) || s.state === 'blocked' || TERMINAL.includes(s.state), { timeoutMs: 40_000, intervalMs: 100 });

describe('effective arguments on gates', () => {
  it('the gate shows database, role and schemas from the target config, and its hash covers them', async () => {
    const { id } = await declareIncident(stack.client, stack.config, { runbook: 'db-ro', actor: stack.actor(DECLARER) });
    const s = await until(id, (x) => x.state === 'awaiting-approval');
    const gate = s.gates.find((g) => g.id === 'read-only');
    expect(gate?.args).toEqual({ database: app.name, role: app.role, schemas: ['public'] });
    expect(gate?.argsHash).toBe(gateHash(id, 'database.read_only', { database: app.name, role: app.role, schemas: ['public'] }));
    await abortIncident(stack.client, id, 'test done', stack.actor(DECLARER));
    await until(id, () => false);
  });

  it('a config change between approval and action: the step refuses, nothing changed', async () => {
    const grants = await app.grants();
    const settings = await app.settings();
    const { id } = await declareIncident(stack.client, stack.config, { runbook: 'db-ro', actor: stack.actor(DECLARER) });
    await until(id, (x) => x.state === 'awaiting-approval');
    // Restart the worker with another config for the same target: one more schema.
    const changed = join(stack.dir, 'changed.yaml');
    writeFileSync(changed, readFileSync(stack.configFile, 'utf8').replace('schemas: [public]', 'schemas: [public, Billing]'));
    await startWorker(changed);
    await approveGate(stack.client, id, 'read-only', stack.actor('alice'));
    const s = await until(id, () => false);
    expect(s.state).toBe('blocked');
    const step = s.steps.find((x) => x.id === 'read-only');
    expect(step?.state).toBe('failed');
    expect(step?.error).toMatch(/^FirebreakApprovalStale: database\.read_only: the arguments changed since the approval .*"schemas":\["Billing","public"\].*nothing was changed/);
    expect(await app.grants()).toEqual(grants);
    expect(await app.settings()).toEqual(settings);
    await abortIncident(stack.client, id, 'test done', stack.actor(DECLARER));
    expect((await until(id, () => false)).state).toBe('aborted');
  });
});
