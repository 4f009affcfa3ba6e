/** The kill-switch as a one-liner; it still runs as an incident, so it is audited. */
import type { Command } from 'commander';
import { OperationError } from '../../lib/errors.js';
import type { Runner } from '../context.js';
import { statusJson } from '../render.js';
import { progressPrinter } from './progress.js';

const dedupKey = (target: string) => `lockdown:${target}`;

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
        const target = o.target ?? ctx.config.defaultTarget;
        const { prepareDeclaration, startDeclared, NEEDS_HUMAN, TERMINAL, waitFor } = await import('../../lib/incident-client.js');
        const prepared = prepareDeclaration(ctx.config, {
          runbook: 'lockdown',
          params: { reason: o.reason },
          mode: o.mode,
          target,
          dedupKey: dedupKey(target),
          actor: ctx.actor(),
        });
        const client = await ctx.client();
        const res = await startDeclared(client, prepared);
        ctx.progress(res.existing ? `lockdown incident ${res.id} is already open` : `declared ${res.id}`);
        const s = await waitFor(client, res.id, (x) => TERMINAL.includes(x.state) || NEEDS_HUMAN.includes(x.state), { timeoutMs: 60_000, onChange: progressPrinter(ctx) });
        const step = s.steps.find((x) => x.action === 'lockdown.enable');
        if (s.mode !== 'dry-run' && step?.state !== 'succeeded') throw new OperationError(`lockdown not confirmed: ${step?.error ?? s.state}`);
        ctx.out({ ok: true, id: res.id, existing: res.existing, status: statusJson(s) }, `${res.id}: ${step?.summary ?? s.state}\nlift it with: firebreak lockdown off${o.target ? ` --target ${o.target}` : ''} (by another responder) or firebreak abort ${res.id} --reason ...`);
      }),
    );
  cmd
    .command('off')
    .description('give the all-clear on the open lockdown incident of the target (two-person rule applies)')
    .option('-t, --target <name>', 'target environment')
    .action(
      run(async (ctx, o: { target?: string }) => {
        const client = await ctx.client();
        const target = o.target ?? ctx.config.defaultTarget;
        const { findOpenByDedupKey, resolveIncident, TERMINAL, waitFor } = await import('../../lib/incident-client.js');
        const open = await findOpenByDedupKey(client, dedupKey(target), ctx.config.temporal.taskQueue);
        if (!open) throw new OperationError(`no open lockdown incident for target ${target}`);
        const g = await resolveIncident(client, open.incidentId, ctx.actor());
        // Votes still missing: the incident stays awaiting-resolve. All-clear complete: wait until
        // containment is lifted and the incident ends, or blocks because the lift failed.
        const s = await waitFor(client, open.incidentId, (x) => TERMINAL.includes(x.state) || x.state === 'blocked' || (g.state !== 'approved' && x.state === 'awaiting-resolve'), { timeoutMs: 60_000 });
        const step = s.steps.find((x) => x.action === 'lockdown.enable');
        if (g.state === 'approved' && step?.state === 'succeeded') throw new OperationError(`lockdown not lifted: incident ${open.incidentId} is ${s.state} with the flag still set (see firebreak status ${open.incidentId}; then firebreak retry ${open.incidentId})`);
        ctx.out({ ok: true, id: open.incidentId, state: s.state, gate: g }, `${open.incidentId}: all-clear ${g.approvals.length}/${g.required}; incident ${s.state}`);
      }),
    );
}
