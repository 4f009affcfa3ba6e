/** `temporal.worker`: parsed once with the config, refused when out of range, mapped onto Worker.create options. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { tuningOptions } from '../../worker/create.js';
import { stormSvg, stormTable, type SizeRow } from '../../bench/storm-report.js';

const dir = mkdtempSync(join(tmpdir(), 'fbt-tuning-'));
const configWith = (temporal: string): string => {
  const file = join(dir, `c-${Math.random().toString(16).slice(2)}.yaml`);
  writeFileSync(file, `temporal: ${temporal}\ntargets:\n  local: { redis: { url: "redis://127.0.0.1:6379/0", keyPrefix: t } }\n`);
  return file;
};

describe('worker tuning', () => {
  it('parses temporal.worker and maps it onto Worker.create options; unset fields keep the defaults', () => {
    const c = loadConfig({ file: configWith('{ worker: { maxConcurrentActivityTaskExecutions: 300, maxCachedWorkflows: 500, workflowTaskPollers: 4, activityTaskPollers: 6, workflowThreads: 2, stickyQueueScheduleToStartTimeout: 1500ms } }'), env: {} });
    expect(tuningOptions(c.temporal.worker)).toEqual({ maxConcurrentActivityTaskExecutions: 300, maxCachedWorkflows: 500, maxConcurrentWorkflowTaskPolls: 4, maxConcurrentActivityTaskPolls: 6, workflowThreadPoolSize: 2, stickyQueueScheduleToStartTimeout: 1500 });
    const none = loadConfig({ file: configWith('{ address: "x:1" }'), env: {} });
    expect(none.temporal.worker).toEqual({});
    expect(tuningOptions(none.temporal.worker)).toEqual({});
    expect(tuningOptions(loadConfig({ env: {}, cwd: dir }).temporal.worker)).toEqual({});
  });

  it('refuses unknown or out-of-range settings with the path', () => {
    expect(() => loadConfig({ file: configWith('{ worker: { maxConcurrentActivityTaskExecutions: 0 } }'), env: {} })).toThrow(/temporal\.worker\.maxConcurrentActivityTaskExecutions/);
    expect(() => loadConfig({ file: configWith('{ worker: { pollers: 3 } }'), env: {} })).toThrow(/temporal\.worker/);
    expect(() => loadConfig({ file: configWith('{ worker: { stickyQueueScheduleToStartTimeout: 10 } }'), env: {} })).toThrow(/temporal\.worker\.stickyQueueScheduleToStartTimeout/);
    expect(() => loadConfig({ file: configWith('{ worker: { stickyQueueScheduleToStartTimeout: 20ms } }'), env: {} })).toThrow(/not a duration from 0.1s to 600s/);
  });

  it('writes the incident-storm table with the marginal cost and an SVG with both series', () => {
    const row = (n: number, cpu: number): SizeRow => ({ n, incidents: n, failures: 0, p50: 100 + n, p99: 200 + n, wallMs: 500, cpuMsPerIncident: cpu, idleCpuMs: 1, processCores: 0.5, machineBusy: 0.4, workflowTasks: 6, activities: 6 });
    const table = stormTable([row(1, 50), row(10, 14)], 3, { idleCpuMsPerS: 2, tuning: {} });
    // 10 × 14 − 1 × 50 = 90 ms over 9 more incidents.
    expect(table).toMatch(/\| 10 \| 10 \| 0 \| 110 \| 210 \| 500 \| 14\.0 \| 1\.0 \| 10\.0 \|/);
    expect(table).toMatch(/\| 1 \| 1 \| 0 \| 101 \| 201 \| 500 \| 50\.0 \| 1\.0 \| - \|/);
    const svg = stormSvg([row(1, 50), row(10, 14), row(200, 9)]);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<polyline/g)).toHaveLength(3);
    expect(svg).toContain('>200</text>');
  });
});
