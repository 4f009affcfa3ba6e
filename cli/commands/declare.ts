import type { Command } from 'commander';
import { UsageError } from '../../lib/errors.js';
import type { Runner } from '../context.js';
import { renderStatus, statusJson } from '../render.js';
import { progressPrinter } from './progress.js';

const collect = (v: string, prev: string[]) => [...prev, v];

/** `--set k=v` pairs; a repeated key builds a list. */
export function parseSets(sets: string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const s of sets) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set expects key=value, got "${s}"`);
    const k = s.slice(0, eq);
    const v = s.slice(eq + 1);
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

export function registerDeclare(program: Command, run: Runner): void {
  program
    .command('declare <runbook>')
    .description('declare an incident: validate the runbook and parameters, then start its workflow')
    .option('-t, --target <name>', 'target environment (default: config defaultTarget)')
    .option('-s, --set <key=value>', 'runbook parameter (repeatable)', collect, [])
    .option('--severity <level>', 'low | medium | high | critical (default: the runbook’s)')
    .option('-m, --mode <mode>', 'live | dry-run | drill', 'live')
    .option('--dedup-key <key>', 'return the open incident with this key instead of starting another')
    .option('--summary <text>', 'one line on what happened')
    .option('-w, --wait', 'follow progress until a human is needed or the incident ends (exit 2 rejected, 1 blocked or aborted)')
    .option('--timeout <seconds>', 'with --wait: give up after this long', '600')
    .action(
      run(async (ctx, runbook: string, o: { target?: string; set: string[]; severity?: string; mode: string; dedupKey?: string; summary?: string; wait?: boolean; timeout: string }) => {
        // Checked before anything starts; NaN would make --wait wait forever.
        const timeoutS = Number(o.timeout);
        if (!(timeoutS > 0)) throw new UsageError(`--timeout expects a number of seconds, got "${o.timeout}"`);
        const [{ prepareDeclaration, startDeclared }, { needsHumanOrEnded, waitExitCode, waitFor }] = await Promise.all([import('../../lib/incidents/declare.js'), import('../../lib/incidents/queries.js')]);
        const prepared = prepareDeclaration(ctx.config, {
          runbook,
          params: parseSets(o.set),
          severity: o.severity,
          mode: o.mode,
          target: o.target,
          dedupKey: o.dedupKey,
          summary: o.summary,
          actor: await ctx.actor(),
        });
        // Input is validated before Temporal is contacted: bad input exits 2 even when it is down.
        const client = await ctx.client();
        const res = await startDeclared(client, prepared);
        ctx.progress(res.existing ? `${res.id} is already open for dedup key ${o.dedupKey}` : `declared ${res.id} (${res.runbook}, ${res.mode}, target ${res.target})`);
        if (!o.wait) {
          ctx.out({ ok: true, ...res }, res.id);
          return;
        }
        const status = await waitFor(client, res.id, needsHumanOrEnded, {
          timeoutMs: timeoutS * 1000,
          onChange: progressPrinter(ctx),
        });
        const code = waitExitCode(status.state);
        ctx.out({ ok: code === 0, ...res, status: statusJson(status) }, () => renderStatus(status));
        // Rejected: invalid arguments (2); blocked or aborted: it did not work (1).
        if (code) process.exitCode = code;
      }),
    );
}
