/** approve, abort, resolve, note, retry: updates validated inside the workflow. */
import type { Command } from 'commander';
import { UsageError } from '../../lib/errors.js';
import { abortIncident, addNote, approveGate, resolveIncident, retryIncident } from '../../lib/incident-client.js';
import type { Runner } from '../context.js';

export function registerSteer(program: Command, run: Runner): void {
  program
    .command('approve <id> <gate>')
    .description('approve a gate as yourself (two-person rule: never the declarer)')
    .option('--hash <prefix>', 'refuse unless the gate’s arguments hash starts with this (as shown by status)')
    .option('--comment <text>', 'recorded with the vote')
    .action(
      run(async (ctx, id: string, gate: string, o: { hash?: string; comment?: string }) => {
        const g = await approveGate(await ctx.client(), id, gate, ctx.actor(), o.comment, o.hash);
        ctx.out({ ok: true, gate: g }, `${gate}: ${g.approvals.length}/${g.required} approvals (${g.state})`);
      }),
    );
  program
    .command('abort <id>')
    .description('stop the incident and undo its reversible steps, newest first')
    .requiredOption('-r, --reason <text>', 'why (recorded)')
    .action(
      run(async (ctx, id: string, o: { reason: string }) => {
        if (!o.reason.trim()) throw new UsageError('--reason must not be empty');
        const state = await abortIncident(await ctx.client(), id, o.reason, ctx.actor());
        ctx.out({ ok: true, id, state }, `${id}: ${state}`);
      }),
    );
  program
    .command('resolve <id>')
    .description('give the all-clear: lifts containment, then phase IV runs')
    .option('--comment <text>', 'recorded with the all-clear')
    .action(
      run(async (ctx, id: string, o: { comment?: string }) => {
        const g = await resolveIncident(await ctx.client(), id, ctx.actor(), o.comment);
        ctx.out({ ok: true, id, gate: g }, `${id}: all-clear ${g.approvals.length}/${g.required} (${g.state})`);
      }),
    );
  program
    .command('note <id> <text...>')
    .description('add a note to the incident timeline')
    .action(
      run(async (ctx, id: string, text: string[]) => {
        const n = await addNote(await ctx.client(), id, text.join(' '), ctx.actor());
        ctx.out({ ok: true, id, timelineLength: n }, `${id}: note added`);
      }),
    );
  program
    .command('retry <id>')
    .description('retry the failed steps of a blocked incident')
    .action(
      run(async (ctx, id: string) => {
        const steps = await retryIncident(await ctx.client(), id, ctx.actor());
        ctx.out({ ok: true, id, steps }, `${id}: retrying ${steps.join(', ')}`);
      }),
    );
}
