/**
 * The reduced chaos campaign (`npm run chaos -- --quick`): its own Redis, PostgreSQL, Temporal
 * dev server and nginx on spare ports (never the shared ones), `firebreak worker` child
 * processes, two `firebreak edge` child processes with an nginx each, and every scenario once
 * with shorter outages. Each run must complete with the
 * target systems exactly as after a fault-free run: nothing lost, nothing doubled. The seed is
 * printed; FIREBREAK_CHAOS_SEED replays one.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, inject, it } from 'vitest';
import { edgesYaml } from '../../bench/chaos/edges.js';
import { loadConfig } from '../../lib/config.js';
import type { Nginx } from '../helpers/nginx.js';
import { diff, type Snapshot } from '../../bench/chaos/effects.js';
import { edgeCount, markdownTable, partition, runChaos } from '../../bench/chaos/run.js';
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

it("the stack's config registers each edge with its own deny file, nginx commands, probe and task queue", () => {
  const dir = mkdtempSync(join(tmpdir(), 'fbt-chaos-edges-'));
  const fake = (i: number) => ({ denyFile: join(dir, `deny-${i}.conf`), testCommand: ['nginx', '-t', '-c', `/x/${i}`], reloadCommand: ['nginx', '-s', 'reload', '-c', `/x/${i}`], url: `http://127.0.0.1:${9000 + i}/` }) as unknown as Nginx;
  const file = join(dir, 'firebreak.yaml');
  writeFileSync(file, ['targets:', '  local: { redis: { url: "redis://127.0.0.1:6379/0", keyPrefix: t } }', ...edgesYaml([fake(1), fake(2)])].join('\n'));
  const config = loadConfig({ file, env: {} });
  expect(config.edges.map((e) => [e.name, e.taskQueue, e.target, e.denyFile, e.probe?.url])).toEqual([
    ['edge-a', 'firebreak-edge-edge-a', 'local', join(dir, 'deny-1.conf'), 'http://127.0.0.1:9001/'],
    ['edge-b', 'firebreak-edge-edge-b', 'local', join(dir, 'deny-2.conf'), 'http://127.0.0.1:9002/'],
  ]);
  expect(config.edges[1]?.reloadCommand).toEqual(['nginx', '-s', 'reload', '-c', '/x/2']);
  expect(edgeCount(true)).toBe(2);
  expect(edgeCount(false)).toBe(3);
});

it('the scenarios are spread over the stacks by weight, the first one also running the baseline', () => {
  const groups = partition(SCENARIOS, 3, 1.5);
  expect(groups.flat().map((s) => s.name).sort()).toEqual(SCENARIOS.map((s) => s.name).sort());
  const weight = (g: typeof SCENARIOS) => g.reduce((n, s) => n + (s.weight ?? 1), 0);
  expect(groups.map((g, i) => weight(g) + (i === 0 ? 1.5 : 0))).toEqual([7, 6.5, 6.5]);
  expect(groups[1]?.map((s) => s.name)).toEqual(['worker-kills', 'redis-outage']);
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
  expect(rows.map((r) => r.name)).toEqual(['baseline', 'worker-kills', 'two-workers', 'edge-kill', 'redis-outage', 'postgres-read-only', 'postgres-rotation', 'temporal-restart', 'nginx-broken']);
  expect(rows.every((r) => r.runs >= 1 && r.passed === r.runs)).toBe(true);
  // Every run compared each edge process's deny file too (edge-a and edge-b, their own nginx each).
  expect(rows.every((r) => /, 2 edges' deny files \(\d+ lines\)/.test(r.effects))).toBe(true);
  expect(rows.find((r) => r.name === 'worker-kills')?.outcome).toMatch(/3 kills, 2 of edges/);
}, 480_000);
