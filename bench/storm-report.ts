/** incident-storm's table (markdown) and plot (hand-written SVG). Pure helpers. */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineLine } from './stats.js';

export const STORM_DIR = join(dirname(fileURLToPath(import.meta.url)), 'storm');

export interface SizeRow {
  n: number;
  incidents: number;
  failures: number;
  /** Time to containment, ms. */
  p50: number;
  p99: number;
  /** Mean wall time of a round: first declare → all N contained, ms. */
  wallMs: number;
  cpuMsPerIncident: number;
  /** The idle share of cpuMsPerIncident: the process's idle CPU rate × the round's wall time, per incident. */
  idleCpuMs: number;
  /** CPU of the bench process (worker + client) over the wall time: cores it kept busy. */
  processCores: number;
  /** Whole machine busy fraction over the same windows (Temporal server, Redis, other work too). */
  machineBusy: number;
  workflowTasks: number;
  activities: number;
}

const f = (x: number, d = 0): string => (Number.isFinite(x) ? x.toFixed(d) : '-');

/** CPU ms the round at row i added per extra incident over the row before (the marginal cost). */
function marginal(rows: readonly SizeRow[], i: number): number {
  const r = rows[i] as SizeRow;
  const prev = rows[i - 1];
  if (!prev) return Number.NaN;
  return (r.cpuMsPerIncident * r.n - prev.cpuMsPerIncident * prev.n) / (r.n - prev.n);
}

export function stormTable(rows: readonly SizeRow[], runs: number, about: { idleCpuMsPerS: number; tuning: object }): string {
  return [
    `incident-storm, ${runs} round(s) per N, ${new Date().toISOString()}; machine: ${machineLine()}`,
    `worker tuning (temporal.worker, unset = defaults): ${JSON.stringify(about.tuning)}; idle CPU of the bench process: ${f(about.idleCpuMsPerS, 1)} ms/s`,
    '',
    '| N | incidents | failures | containment p50 ms | p99 ms | round wall ms | CPU ms / incident | of it idle | marginal CPU ms / extra incident | process cores | machine busy | workflow tasks / incident | activities / incident |',
    '|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...rows.map(
      (r, i) =>
        `| ${r.n} | ${r.incidents} | ${r.failures} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.wallMs)} | ${f(r.cpuMsPerIncident, 1)} | ${f(r.idleCpuMs, 1)} | ${f(marginal(rows, i), 1)} | ${f(r.processCores, 2)} | ${f(r.machineBusy * 100)}% | ${f(r.workflowTasks, 1)} | ${f(r.activities, 1)} |`,
    ),
  ].join('\n');
}

const W = 720;
const H = 360;
const M = { left: 64, right: 72, top: 40, bottom: 48 };

/** Nice upper bound for an axis. */
function niceMax(x: number): number {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  return ([1, 2, 5, 10].find((k) => k * p >= x) ?? 10) * p;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/**
 * Time to containment p50/p99 (left axis, ms) and CPU ms per incident (right axis) against N,
 * N on a log scale (the sizes grow ×5 – ×20).
 */
export function stormSvg(rows: readonly SizeRow[]): string {
  const ns = rows.map((r) => r.n);
  const lo = Math.log10(Math.min(...ns));
  const hi = Math.max(Math.log10(Math.max(...ns)), lo + 1);
  const x = (n: number): number => M.left + ((Math.log10(n) - lo) / (hi - lo)) * (W - M.left - M.right);
  const msMax = niceMax(Math.max(...rows.map((r) => r.p99).filter(Number.isFinite)));
  const cpuMax = niceMax(Math.max(...rows.map((r) => r.cpuMsPerIncident)));
  const yL = (v: number): number => H - M.bottom - (v / msMax) * (H - M.top - M.bottom);
  const yR = (v: number): number => H - M.bottom - (v / cpuMax) * (H - M.top - M.bottom);
  const line = (pts: [number, number][], color: string, dash = ''): string =>
    `<polyline fill="none" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''} points="${pts.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' ')}"/>` +
    pts.map(([a, b]) => `<circle cx="${a.toFixed(1)}" cy="${b.toFixed(1)}" r="3.5" fill="${color}"/>`).join('');
  const ok = rows.filter((r) => Number.isFinite(r.p50));
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">incident-storm: N concurrent gate-free incidents on one worker</text>`,
    ...ticks.map((t) => {
      const y = H - M.bottom - t * (H - M.top - M.bottom);
      return `<line x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}" stroke="#ddd"/><text x="${M.left - 6}" y="${y + 4}" text-anchor="end">${f(t * msMax)}</text><text x="${W - M.right + 6}" y="${y + 4}" fill="#b35900">${f(t * cpuMax, cpuMax < 10 ? 1 : 0)}</text>`;
    }),
    ...rows.map((r) => `<line x1="${x(r.n)}" x2="${x(r.n)}" y1="${H - M.bottom}" y2="${H - M.bottom + 5}" stroke="black"/><text x="${x(r.n)}" y="${H - M.bottom + 18}" text-anchor="middle">${r.n}</text>`),
    `<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="black"/>`,
    `<text x="${W / 2}" y="${H - 10}" text-anchor="middle">N concurrent incidents (log scale)</text>`,
    `<text transform="translate(16 ${H / 2}) rotate(-90)" text-anchor="middle">time to containment, ms</text>`,
    `<text transform="translate(${W - 16} ${H / 2}) rotate(90)" text-anchor="middle" fill="#b35900">worker CPU ms per incident</text>`,
    line(ok.map((r) => [x(r.n), yL(r.p50)]), '#1f5fbf'),
    line(ok.map((r) => [x(r.n), yL(r.p99)]), '#1f5fbf', '6 4'),
    line(rows.map((r) => [x(r.n), yR(r.cpuMsPerIncident)]), '#b35900'),
    `<g transform="translate(${M.left + 12} ${M.top + 6})"><line x1="0" x2="24" y1="0" y2="0" stroke="#1f5fbf" stroke-width="2"/><text x="30" y="4">containment p50</text>` +
      `<line x1="0" x2="24" y1="18" y2="18" stroke="#1f5fbf" stroke-width="2" stroke-dasharray="6 4"/><text x="30" y="22">containment p99</text>` +
      `<line x1="0" x2="24" y1="36" y2="36" stroke="#b35900" stroke-width="2"/><text x="30" y="40">CPU ms / incident (right axis)</text></g>`,
    `<text x="${W - M.right}" y="${M.top - 8}" text-anchor="end" font-size="10" fill="#666">${esc(machineLine().slice(0, 90))}</text>`,
    '</svg>',
  ];
  return `${parts.join('\n')}\n`;
}
