import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Statement } from '../../lib/identity/statement.js';
import type { identityVerifyWorkflow, IdentityVerifyInput } from '../fixtures/identity-workflow.js';
import { aliceApproves, HASH, INCIDENT, keys, registry, signWith } from '../fixtures/identity-people.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
/** The modules workflow code may import: they must stay free of Node and of I/O. */
const SANDBOX_MODULES = ['statement', 'ed25519', 'registry', 'verify', 'sshsig', 'base64', 'time'];
const quiet = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

describe('lib/identity in the workflow sandbox', () => {
  it('its sandbox modules import only each other, lib/canonical and @noble (no node:*, no Buffer, no clock)', () => {
    for (const name of SANDBOX_MODULES) {
      const source = readFileSync(join(root, 'lib/identity', `${name}.ts`), 'utf8');
      const imports = [...source.matchAll(/^import\s[^;]*?from\s+'([^']+)'/gm)].map((m) => m[1]);
      for (const spec of imports) {
        const allowed = SANDBOX_MODULES.some((m) => spec === `./${m}.js`) || spec === '../canonical.js' || /^@noble\/(curves|hashes)\//.test(spec ?? '');
        expect(allowed, `${name}.ts imports ${spec}`).toBe(true);
      }
      const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
      expect(code, name).not.toMatch(/\b(Buffer|process|Date\.now|Math\.random|require)\b|new Date\(\)/);
    }
  });

  describe('bundled and run by a real worker', () => {
    let env: TestWorkflowEnvironment;
    let code: string;
    beforeAll(async () => {
      [env, { code }] = await Promise.all([
        TestWorkflowEnvironment.createFromExistingServer({ address: inject('temporalAddress') }),
        bundleWorkflowCode({ workflowsPath: join(root, 'test/fixtures/identity-workflow.ts'), logger: quiet }),
      ]);
    });
    afterAll(async () => {
      await env?.teardown();
    });

    it('verifies and refuses inside the sandbox, with workflow time as now', async () => {
      const taskQueue = `identity-sandbox-${process.pid}`;
      const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: { code } });
      const run = (signed: unknown, seenNonces: string[] = []) =>
        env.client.workflow.execute<typeof identityVerifyWorkflow>('identityVerifyWorkflow', {
          taskQueue,
          workflowId: `identity-sandbox-${process.pid}-${Math.random().toString(36).slice(2)}`,
          args: [{ signed, registry: registry(), expect: { kind: 'approve', incidentId: INCIDENT, gate: 'lockdown', argsHash: HASH }, seenNonces, mode: 'live', drillTarget: false } satisfies IdentityVerifyInput],
        });
      const fresh = (over: Partial<Statement> = {}) => signWith(keys.alice, aliceApproves({ at: new Date().toISOString(), ...over }));
      await worker.runUntil(async () => {
        const good = fresh();
        expect(await run(good)).toMatchObject({ ok: true, responder: 'alice', via: 'personal' });
        expect(await run(good, [good.statement.nonce])).toMatchObject({ ok: false, reason: 'nonce-reused' });
        expect(await run({ ...good, statement: { ...good.statement, responder: 'bob' } })).toMatchObject({ ok: false, reason: 'bad-signature' });
        expect(await run(fresh({ at: new Date(Date.now() - 10 * 60_000).toISOString() }))).toMatchObject({ ok: false, reason: 'timestamp-skew' });
        expect(await run(signWith(keys.slack, aliceApproves({ at: new Date().toISOString(), responder: 'bob', keyId: keys.slack.id, frontDoor: 'slack', attests: { slack: { team: 'T0001', user: 'U0ALICE' } } })))).toMatchObject({
          ok: false,
          reason: 'slack-id-not-mapped',
        });
      });
    });
  });
});
