/** `firebreak drill …`: scheduled rehearsals of runbooks on drill targets (Temporal Schedules), one-off drills, their reports. */
import type { Command } from 'commander';
import type { Runner } from '../context.js';
import { UsageError } from '../../lib/errors.js';

const drills = () => import('../../lib/incidents/drills.js');

/** `--set k=v` (repeatable): a value with commas is a list. */
function collectSet(value: string, prev: Record<string, string | string[]>): Record<string, string | string[]> {
  const eq = value.indexOf('=');
  if (eq < 1) throw new UsageError(`--set takes key=value, not "${value}"`);
  const v = value.slice(eq + 1);
  return { ...prev, [value.slice(0, eq)]: v.includes(',') ? v.split(',').map((x) => x.trim()) : v };
}

type Info = Awaited<ReturnType<Awaited<ReturnType<typeof drills>>['describeDrillSchedule']>>;
const line = (s: Info): string =>
  `${s.id}  ${s.runbook} on ${s.target}  ${s.spec}  ${s.paused ? 'PAUSED' : `next ${s.nextRun ?? '—'}`}  last ${s.lastRun ? `${s.lastRun.result} (${s.lastRun.at})` : '—'}  missed ${s.missed}  skipped ${s.skipped}${s.note && s.paused ? `  note: ${s.note}` : ''}`;

export function registerDrill(program: Command, run: Runner): void {
  const cmd = program.command('drill').description('rehearse runbooks on drill targets: schedules, one-off drills and their reports');
  const schedule = cmd.command('schedule').description('drill schedules (Temporal Schedules)');
  schedule
    .command('create <runbook>')
    .description('schedule a drill of <runbook> on a drill target')
    .requiredOption('-t, --target <name>', 'the drill target')
    .option('--cron <expression>', 'five-field cron expression, e.g. "0 3 * * 1"')
    .option('--every <duration>', 'interval, e.g. 24h')
    .option('--timezone <zone>', 'IANA time zone of the cron expression')
    .option('--set <key=value>', 'a runbook parameter (repeatable)', collectSet, {})
    .option('--catchup-window <duration>', 'missed runs within this are still taken after an outage', '1h')
    .option('--pause-on-failure', 'pause the schedule when a drill fails')
    .option('--id <id>', 'schedule id (default drill-<runbook>-<target>-<random>)')
    .option('--note <text>', 'note kept on the schedule')
    .action(
      run(async (ctx, runbook: string, o: { target: string; cron?: string; every?: string; timezone?: string; set: Record<string, string | string[]>; catchupWindow: string; pauseOnFailure?: boolean; id?: string; note?: string }) => {
        const d = await drills();
        const actor = await ctx.actor();
        // Validate before contacting Temporal: bad input exits 2 with nothing changed.
        d.drillInput(ctx.config, { runbook, target: o.target, params: o.set, actor });
        const info = await d.createDrillSchedule(await ctx.client(), ctx.config, {
          runbook,
          target: o.target,
          cron: o.cron,
          every: o.every,
          timezone: o.timezone,
          params: o.set,
          catchupWindow: o.catchupWindow,
          pauseOnFailure: o.pauseOnFailure,
          id: o.id,
          note: o.note,
          actor: { user: actor.user, host: actor.host, via: actor.via },
        });
        ctx.out({ ok: true, schedule: info }, `created ${line(info)}`);
      }),
    );
  cmd
    .command('list')
    .description('drill schedules: next run, last result, missed and skipped counts')
    .action(
      run(async (ctx) => {
        const list = await (await drills()).listDrillSchedules(await ctx.client(), ctx.config);
        ctx.out({ ok: true, schedules: list }, list.length ? list.map(line).join('\n') : 'no drill schedules');
      }),
    );
  for (const [name, paused] of [['pause', true], ['unpause', false]] as const) {
    cmd
      .command(`${name} <id>`)
      .description(`${name} a drill schedule`)
      .option('--note <text>', 'why (kept on the schedule)')
      .action(
        run(async (ctx, id: string, o: { note?: string }) => {
          const info = await (await drills()).pauseDrillSchedule(await ctx.client(), ctx.config, id, paused, o.note);
          ctx.out({ ok: true, schedule: info }, line(info));
        }),
      );
  }
  cmd
    .command('trigger <id>')
    .description('fire a drill schedule now (skipped while its last drill still runs)')
    .action(
      run(async (ctx, id: string) => {
        await (await drills()).triggerDrillSchedule(await ctx.client(), ctx.config, id);
        ctx.out({ ok: true, id }, `triggered ${id}`);
      }),
    );
  cmd
    .command('delete <id>')
    .description('delete a drill schedule (its reports stay)')
    .action(
      run(async (ctx, id: string) => {
        await (await drills()).deleteDrillSchedule(await ctx.client(), ctx.config, id);
        ctx.out({ ok: true, id }, `deleted ${id}`);
      }),
    );
  cmd
    .command('run <runbook>')
    .description('one drill now on a drill target, and wait for its result')
    .requiredOption('-t, --target <name>', 'the drill target')
    .option('--set <key=value>', 'a runbook parameter (repeatable)', collectSet, {})
    .option('--no-wait', 'start it and return')
    .action(
      run(async (ctx, runbook: string, o: { target: string; set: Record<string, string | string[]>; wait: boolean }) => {
        const d = await drills();
        const actor = await ctx.actor();
        d.drillInput(ctx.config, { runbook, target: o.target, params: o.set, actor });
        const client = await ctx.client();
        const { workflowId } = await d.runDrill(client, ctx.config, { runbook, target: o.target, params: o.set, actor: { user: actor.user, host: actor.host, via: actor.via } });
        if (!o.wait) return ctx.out({ ok: true, workflowId }, `started ${workflowId}`);
        ctx.progress(`started ${workflowId}`);
        const result = await d.drillResult(client, workflowId);
        if (result.report?.outcome !== 'passed') process.exitCode = 1;
        ctx.out({ ok: result.report?.outcome === 'passed', workflowId, report: result.report, error: result.error }, result.report ? `${result.report.incidentId}: ${result.report.outcome}${result.report.failures.length ? `\n  ${result.report.failures.join('\n  ')}` : ''}` : `drill failed: ${result.error ?? 'no report'}`);
      }),
    );
  cmd
    .command('report <id>')
    .description('a drill report: the newest of a schedule, or of an incident (INC-…)')
    .action(
      run(async (ctx, id: string) => {
        const d = await drills();
        const report = await d.readDrillReport(ctx.config, id);
        const { reportMarkdown } = await import('../../lib/drill-report.js');
        ctx.out({ ok: true, report }, () => reportMarkdown(report));
      }),
    );
}
