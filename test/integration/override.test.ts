/**
 * A failed probe blocks the incident; an approver (never the declarer) can
 * override it with a reason, recorded, and the incident goes on.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { declareIncident, overrideStep, TERMINAL, waitFor } from '../../lib/incidents/index.js';
import { DECLARER, startStack, type Stack } from '../helpers/firebreak.js';
import { startProbeApp, type ProbeApp } from '../helpers/probe-app.js';

let stack: Stack;
let app: ProbeApp;

beforeAll(async () => {
  app = await startProbeApp();
  stack = await startStack('override', {
    targetExtra: `    app: { url: "${app.httpsOrigin}", httpUrl: "${app.httpOrigin}", caFile: "${app.caFile}", routes: ["/", "/admin"] }`,
  });
  stack.writeRunbook(
    'probe-only',
    ['name: probe-only', 'title: Probe', 'severity: low', 'phases:', '  recovery:', '    - id: probe', '      action: deploy.probe', '    - id: after', '      action: lockdown.status', '      needs: [probe]'].join('\n'),
  );
});
afterAll(async () => {
  await stack?.stop();
  await app?.close();
});

it('a failed probe blocks; the declarer cannot override; an approver can, and the incident completes', async () => {
  app.state.headers['strict-transport-security'] = 'max-age=300';
  const { id } = await declareIncident(stack.client, stack.config, { runbook: 'probe-only', actor: stack.actor(DECLARER) });
  let s = await waitFor(stack.client, id, (x) => x.state === 'blocked', { timeoutMs: 30_000, intervalMs: 100 });
  expect(s.steps[0]).toMatchObject({ state: 'failed', error: expect.stringMatching(/^FirebreakVerificationFailed: probe: .*failed: hsts/) });
  expect(s.steps[1]?.state).toBe('cancelled');
  await expect(overrideStep(stack.client, id, 'probe', stack.actor(DECLARER), 'fine')).rejects.toThrow(/two-person rule/);
  await expect(overrideStep(stack.client, id, 'probe', stack.actor('alice'), ' ')).rejects.toThrow(/needs a reason/);
  await expect(overrideStep(stack.client, id, 'after', stack.actor('alice'), 'x')).rejects.toThrow(/only a failed step can be overridden/);
  await overrideStep(stack.client, id, 'probe', stack.actor('alice'), 'HSTS is raised at the CDN, not by the origin');
  s = await waitFor(stack.client, id, (x) => TERMINAL.includes(x.state), { timeoutMs: 30_000, intervalMs: 100 });
  expect(s.state).toBe('completed');
  expect(s.steps.map((x) => x.state)).toEqual(['overridden', 'succeeded']);
  expect(s.timeline.some((t) => t.by === 'alice' && t.message.includes('OVERRODE the failure of probe') && t.message.endsWith('HSTS is raised at the CDN, not by the origin'))).toBe(true);
});
