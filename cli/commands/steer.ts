/** approve, abort, resolve, note, retry: updates validated inside the workflow. */
import type { Command } from 'commander';
import { UsageError } from '../../lib/errors.js';
import type { Runner } from '../context.js';

/** The Temporal client code, loaded when a command runs (not for --help). */
const incidents = () => import('../../lib/incidents/steer.js');

export function registerSteer(program: Command, run: Runner): void {
  program
    .command('approve <id> <gate>')
    .description('approve a gate as yourself (two-person rule: never the declarer)')
    .option('--hash <prefix>', 'refuse unless the gate’s argument hash starts with these 12+ hex digits (as status shows them)')
    .option('--comment <text>', 'recorded with the vote')
    .action(
      run(async (ctx, id: string, gate: string, o: { hash?: string; comment?: string }) => {
        const g = await (await incidents()).approveGate(await ctx.client(), id, gate, await ctx.actor(), o.comment, o.hash);
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
        const state = await (await incidents()).abortIncident(await ctx.client(), id, o.reason, await ctx.actor());
        ctx.out({ ok: true, id, state }, `${id}: ${state}`);
      }),
    );
  program
    .command('resolve <id>')
    .description('give the all-clear: lifts containment, then phase IV runs')
    .option('--comment <text>', 'recorded with the all-clear')
    .action(
      run(async (ctx, id: string, o: { comment?: string }) => {
        const g = await (await incidents()).resolveIncident(await ctx.client(), id, await ctx.actor(), o.comment);
        ctx.out({ ok: true, id, gate: g }, `${id}: all-clear ${g.approvals.length}/${g.required} (${g.state})`);
      }),
    );
  program
    .command('note <id> <text...>')
    .description('add a note to the incident timeline')
    .action(
      run(async (ctx, id: string, text: string[]) => {
        const n = await (await incidents()).addNote(await ctx.client(), id, text.join(' '), await ctx.actor());
        ctx.out({ ok: true, id, timelineLength: n }, `${id}: note added`);
      }),
    );
  program
    .command('confirm <id> <step> <item>')
    .description('confirm a checklist item (secrets.manual) was rotated by hand')
    .option('--note <text>', 'recorded with the confirmation (never the secret itself)')
    .action(
      run(async (ctx, id: string, step: string, item: string, o: { note?: string }) => {
        const c = await (await incidents()).confirmItem(await ctx.client(), id, step, item, await ctx.actor(), o.note);
        const open = c.items.filter((i) => i.state === 'open').map((i) => i.name);
        ctx.out({ ok: true, id, checklist: c }, `${id}: ${item} confirmed; open: ${open.join(', ') || 'none'}`);
      }),
    );
  program
    .command('waive <id> <step> <item>')
    .description('waive a checklist item (approvers only, never the declarer; recorded)')
    .requiredOption('-r, --reason <text>', 'why it need not be rotated')
    .action(
      run(async (ctx, id: string, step: string, item: string, o: { reason: string }) => {
        const c = await (await incidents()).waiveItem(await ctx.client(), id, step, item, await ctx.actor(), o.reason);
        ctx.out({ ok: true, id, checklist: c }, `${id}: ${item} waived`);
      }),
    );
  program
    .command('override <id> <step>')
    .description('go on despite a failed step whose action allows it (e.g. deploy.probe); approvers only, recorded')
    .requiredOption('-r, --reason <text>', 'why it is safe to go on')
    .action(
      run(async (ctx, id: string, step: string, o: { reason: string }) => {
        const st = await (await incidents()).overrideStep(await ctx.client(), id, step, await ctx.actor(), o.reason);
        ctx.out({ ok: true, id, step: st }, `${id}: ${step} ${st.state}`);
      }),
    );
  program
    .command('personal-data <id>')
    .description('mark personal data as affected: starts the GDPR Art. 33 72-hour clock (live mode)')
    .option('--aware-at <iso>', 'moment of awareness (default: when the incident was declared)')
    .option('--high-risk', 'high risk to data subjects (Art. 34 notice too)')
    .action(
      run(async (ctx, id: string, o: { awareAt?: string; highRisk?: boolean }) => {
        const n = await (await incidents()).markPersonalData(await ctx.client(), id, await ctx.actor(), { awareAt: o.awareAt, highRisk: o.highRisk });
        ctx.out({ ok: true, id, notice: n }, `${id}: GDPR Art. 33 notice due by ${n.deadline}`);
      }),
    );
  program
    .command('notice-sent <id>')
    .description('record that the GDPR Art. 33 notice was sent: stops the reminders')
    .option('--at <iso>', 'when it was sent (default: now)')
    .option('--reference <text>', "the authority's case number")
    .action(
      run(async (ctx, id: string, o: { at?: string; reference?: string }) => {
        const n = await (await incidents()).recordNoticeSent(await ctx.client(), id, await ctx.actor(), { at: o.at, reference: o.reference });
        ctx.out({ ok: true, id, notice: n }, `${id}: notice recorded as sent by ${n.sentBy} at ${n.sentAt}${n.missed ? ' (after the deadline)' : ''}`);
      }),
    );
  program
    .command('retry <id>')
    .description('retry the failed steps of a blocked incident')
    .action(
      run(async (ctx, id: string) => {
        const steps = await (await incidents()).retryIncident(await ctx.client(), id, await ctx.actor());
        ctx.out({ ok: true, id, steps }, `${id}: retrying ${steps.join(', ')}`);
      }),
    );
}
