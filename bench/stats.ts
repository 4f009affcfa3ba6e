/** Percentiles, rounding, the machine line and the results table. Pure helpers. */
import { cpus, release, totalmem, type } from 'node:os';
import type { ResultEntry } from './types.js';

/** Nearest-rank percentile (p in (0, 100]) of `values`: the smallest value with at least p% of them at or below it. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error('percentile of no values');
  if (!(p > 0 && p <= 100)) throw new Error(`percentile ${p} is not in (0, 100]`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(Math.max(rank, 1), sorted.length) - 1] as number;
}

export function round(value: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(value * f) / f;
}

/** Summary numbers of one benchmark: milliseconds rounded to 3 decimals, ratio (from unrounded values) to 2. */
export function summarize(samples: readonly number[], floorSamples: readonly number[]): Pick<ResultEntry, 'p50' | 'p95' | 'p99' | 'runs' | 'floor' | 'ratio'> {
  const p50 = percentile(samples, 50);
  const floor = percentile(floorSamples, 50);
  return {
    p50: round(p50, 3),
    p95: round(percentile(samples, 95), 3),
    p99: round(percentile(samples, 99), 3),
    runs: samples.length,
    floor: round(floor, 3),
    ratio: floor > 0 ? round(p50 / floor, 2) : Number.POSITIVE_INFINITY,
  };
}

/** CPU model, cores, memory, Node version, OS release: results only compare on the same line. */
export function machineLine(): string {
  const list = cpus();
  const model = list[0]?.model.trim().replace(/\s+/g, ' ') ?? 'unknown CPU';
  const gib = round(totalmem() / 1024 ** 3, 1);
  return `${model}, ${list.length} cores, ${gib} GiB, Node ${process.version}, ${type()} ${release()}`;
}

/** Fixed-width text table of results. */
export function formatTable(entries: readonly ResultEntry[]): string {
  const header = ['benchmark', 'unit', 'p50', 'p95', 'p99', 'runs', 'floor', 'ratio'];
  const rows = entries.map((e) => [e.name, e.unit, e.p50.toFixed(2), e.p95.toFixed(2), e.p99 === undefined ? '-' : e.p99.toFixed(2), String(e.runs), e.floor.toFixed(3), e.ratio.toFixed(2)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const numeric = (i: number): boolean => i >= 2;
  const line = (cells: string[]): string =>
    cells.map((c, i) => (numeric(i) ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

