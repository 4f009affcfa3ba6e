/** The kill-switch as a one-liner; it still runs as an incident, so it is audited. */
import type { Command } from 'commander';
import type { Runner } from '../context.js';
import { statusJson } from '../render.js';
import { progressPrinter } from './progress.js';

const lockdown = () => import('../../lib/incidents/lockdown.js');

export function registerLockdown(program: Command, run: Runner): void {
  const cmd = program.command('lockdown').description('the emergency kill-switch (runbook "lockdown"): the app answers 503 while on');
  cmd
    .command('on')
    .description('declare a lockdown incident and wait until the flag is verified set')
    .option('-t, --target <name>', 'target environment')
    .option('-r, --reason <text>', 'why', 'emergency lockdown')
    .option('-m, --mode <mode>', 'live | dry-run | drill', 'live')
    .action(
      run(async (ctx, o: { target?: string; reason: string; mode: string }) => {
        const { declared: res, status: s, step } = await (await lockdown()).lockdownOn(
          ctx,
          { target: o.target, reason: o.reason, mode: o.mode, actor: await ctx.actor() },
          { onDeclared: (d) => ctx.progress(d.existing ? `lockdown incident ${d.id} is already open` : `declared ${d.id}`), onChange: progressPrinter(ctx) },
        );
        ctx.out({ ok: true, id: res.id, existing: res.existing, status: statusJson(s) }, `${res.id}: ${step?.summary ?? s.state}\nlift it with: firebreak lockdown off${o.target ? ` --target ${o.target}` : ''} (by another responder) or firebreak abort ${res.id} --reason ...`);
      }),
    );
  cmd
    .command('off')
    .description('give the all-clear on the open lockdown incident of the target (two-person rule applies)')
    .option('-t, --target <name>', 'target environment')
    .action(
      run(async (ctx, o: { target?: string }) => {
        const { id, state, gate: g, lift } = await (await lockdown()).lockdownOff(ctx, { target: o.target, actor: await ctx.actor() });
        ctx.out({ ok: true, id, state, gate: g, ...(lift !== undefined && { lift }) }, `${id}: all-clear ${g.approvals.length}/${g.required}; incident ${state}${lift !== undefined ? `; ${lift}` : ''}`);
      }),
    );
}
