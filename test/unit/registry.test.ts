/** The action catalog and createActivities() agree: every action runs, every undo and expiry exists. */
import { expect, it } from 'vitest';
import { createActivities, TargetClients } from '../../activities/index.js';
import { createValidateActivities } from '../../activities/validate.js';
import { createPolicyActivities } from '../../activities/policy.js';
import { createNotifyActivities } from '../../activities/notify/index.js';
import { createEdgeFanoutActivities } from '../../activities/edge/index.js';
import { ACTIONS, type ActionSpec } from '../../lib/actions.js';
import { loadConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/logger.js';

const config = loadConfig({ env: {}, cwd: '/' });
const deps = { config, logger: createLogger({ level: 'silent', pretty: false }), clients: new TargetClients(config) };
const acts = createActivities(deps) as Record<string, unknown>;
/** The engine's own activities (argument validation, effective arguments): run by the workflow, not by a runbook step. */
const engine = [...Object.keys(createValidateActivities(deps)), ...Object.keys(createPolicyActivities(deps))];
/** The incident channel's (activities/notify): called by the workflow beside the phases, never by a step. */
const notify = Object.keys(createNotifyActivities(deps));
/** The fan-out of a ban set to the nginx edges (activities/edge): called by the workflow after a ban step. */
const edges = Object.keys(createEdgeFanoutActivities(deps));
const catalog = ACTIONS as Record<string, ActionSpec>;

it('every catalog action has its activity, and no activity is unreachable', () => {
  const wanted = Object.values(catalog).filter((a) => !a.human).map((a) => a.activity).sort();
  expect(engine.sort()).toEqual(['effectiveStepArgs', 'loadIncidentPolicy', 'refreshRegistry', 'validateIncidentArgs']);
  expect(notify.sort()).toEqual(['notifyEvent', 'notifyOpenChannel']);
  expect(edges.sort()).toEqual(['edgeDenySet', 'edgeProbe']);
  expect(Object.keys(acts).sort()).toEqual([...wanted, ...engine, ...notify, ...edges].sort());
  for (const name of wanted) expect(typeof acts[name]).toBe('function');
});

it('expiry actions exist, and only reversible actions lift on resolve', () => {
  for (const [name, a] of Object.entries(catalog)) {
    if (a.onExpiry) expect(catalog[a.onExpiry], `${name}.onExpiry`).toBeDefined();
    if (a.liftOnResolve) expect(a.reversible, `${name} lifts on resolve`).toBe(true);
    expect(name).toMatch(/^[a-z]+\.[a-z_]+$/);
    if (a.human) expect(a.activity, `${name} is run by the workflow`).toBeUndefined();
  }
});
