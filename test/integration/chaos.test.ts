/**
 * The reduced chaos campaign (`npm run chaos -- --quick`): its own Redis, PostgreSQL, Temporal
 * dev server and nginx on spare ports (never the shared ones), `firebreak worker` child
 * processes, and every scenario once with shorter outages. Each run must complete with the
 * target systems exactly as after a fault-free run: nothing lost, nothing doubled. The seed is
 * printed; FIREBREAK_CHAOS_SEED replays one.
 */
import { expect, inject, it } from 'vitest';
import { diff, type Snapshot } from '../../bench/chaos/effects.js';
import { markdownTable, partition, runChaos } from '../../bench/chaos/run.js';
import { SCENARIOS } from '../../bench/chaos/scenarios.js';
import { seededRandom } from '../../bench/chaos/scenario-kit.js';
import { withStepTimeout } from '../../bench/chaos/stack.js';

const snap = (lines: string[]): Snapshot => ({ lines, counts: { redisKeys: 0, denyLines: 0, grants: 0, records: 0, issues: 0 } });

it('the effect comparison names a lost and a doubled effect', () => {
  const want = snap(['deny-file deny 203.0.113.7/32;', 'redis chaos:1:fb:revoked:jti:a string 1 ttl', 'grant public.orders SELECT']);
  expect(diff(want, want)).toEqual([]);
  const got = snap(['deny-file deny 203.0.113.7/32;', 'deny-file deny 203.0.113.7/32;', 'grant public.orders SELECT']);
  expect(diff(want, got)).toEqual(['- redis chaos:1:fb:revoked:jti:a string 1 ttl', '+ deny-file deny 203.0.113.7/32;']);
});

it('the seeded generator repeats itself, and the runbook copies get a timeout on every activity step', () => {
  const a = seededRandom(42);
  const b = seededRandom(42);
  const first = [a(), a(), a()];
  expect([b(), b(), b()]).toEqual(first);
  expect(first.every((x) => x >= 0 && x < 1)).toBe(true);
  const yaml = withStepTimeout(['name: x', 'phases:', '  containment:', '    - { id: a, action: lockdown.enable }', '    - { id: b, action: secrets.manual }'].join('\n'), '6s');
  expect(yaml).toMatch(/id: a, action: lockdown.enable, timeout: 6s/);
  expect(yaml).not.toMatch(/id: b, action: secrets.manual, timeout/);
});

it('the scenarios are spread over the stacks by weight, the first one also running the baseline', () => {
  const groups = partition(SCENARIOS, 3, 2);
  expect(groups.flat().map((s) => s.name).sort()).toEqual(SCENARIOS.map((s) => s.name).sort());
  const weight = (g: typeof SCENARIOS) => g.reduce((n, s) => n + (s.weight ?? 1), 0);
  expect(groups.map((g, i) => weight(g) + (i === 0 ? 2 : 0))).toEqual([5, 6, 5]);
  expect(partition(SCENARIOS, 1)).toEqual([SCENARIOS]);
});

it('every fault of the quick campaign ends with each effect applied exactly once', async () => {
  const seed = process.env.FIREBREAK_CHAOS_SEED ? Number(process.env.FIREBREAK_CHAOS_SEED) : Math.floor(Math.random() * 2 ** 31);
  const lines: string[] = [];
  const t0 = performance.now();
  const { rows, ok } = await runChaos({ quick: true, seed, bundlePath: inject('workflowBundle'), log: (l) => lines.push(l) });
  const seconds = (performance.now() - t0) / 1000;
  const report = `seed ${seed}, ${seconds.toFixed(0)} s\n${markdownTable(rows)}\n${rows.flatMap((r) => r.failures.map((f) => `${r.name} ${f}`)).join('\n')}`;
  console.log(report);
  expect(ok, `${report}\n${lines.join('\n')}`).toBe(true);
  expect(rows.map((r) => r.name)).toEqual(['baseline', 'worker-kills', 'two-workers', 'redis-outage', 'postgres-read-only', 'postgres-rotation', 'temporal-restart', 'nginx-broken']);
  expect(rows.every((r) => r.runs >= 1 && r.passed === r.runs)).toBe(true);
}, 480_000);
