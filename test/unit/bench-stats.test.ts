/** The bench summary numbers: nearest-rank p50 / p95 / p99 and the ratio to the floor, and the table showing p99. */
import { describe, expect, it } from 'vitest';
import { formatTable, percentile, summarize } from '../../bench/stats.js';

describe('bench stats', () => {
  it('summarizes with p99 (nearest rank) and the ratio of the medians', () => {
    const samples = Array.from({ length: 200 }, (_, i) => i + 1);
    expect(percentile(samples, 99)).toBe(198);
    expect(summarize(samples, [10, 10, 10])).toEqual({ p50: 100, p95: 190, p99: 198, runs: 200, floor: 10, ratio: 10 });
    expect(summarize([5], [1]).p99).toBe(5);
  });

  it('prints p99, and a dash for an entry recorded before p99 existed', () => {
    const base = { unit: 'ms', p50: 1, p95: 2, runs: 3, floor: 1, ratio: 1, command: 'c', machine: 'm', date: 'd' };
    const table = formatTable([{ ...base, name: 'new', p99: 2.5 }, { ...base, name: 'old' }]);
    expect(table.split('\n')[0]).toMatch(/p95\s+p99/);
    expect(table).toMatch(/new\s+ms\s+1\.00\s+2\.00\s+2\.50/);
    expect(table).toMatch(/old\s+ms\s+1\.00\s+2\.00\s+-/);
  });
});
