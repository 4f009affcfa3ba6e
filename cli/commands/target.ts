/** `firebreak target check <name>`: the worker checks what it can reach and read on a target. */
import type { Command } from 'commander';
import type { CheckRow, TargetCheckResult } from '../../lib/incidents/types.js';
import type { Runner } from '../context.js';
import { timeoutMs } from './timeout.js';

const MARK: Record<CheckRow['state'], string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

export function renderTargetCheck(r: TargetCheckResult): string {
  const width = Math.max(...r.checks.map((c) => c.check.length), 5);
  const lines = [`target ${r.target}, checked by worker ${r.worker} at ${r.at}`, ...r.checks.map((c) => `  ${MARK[c.state]}  ${c.check.padEnd(width)}  ${c.detail}`)];
  const warn = r.checks.filter((c) => c.state === 'warn');
  const fail = r.checks.filter((c) => c.state === 'fail');
  if (warn.some((c) => c.check === 'namespace readers')) lines.push('', `!!! ${warn.find((c) => c.check === 'namespace readers')?.detail ?? ''}`);
  if (r.judgedHolds?.length) {
    lines.push('', 'Containment in force (kind, what, held by)');
    for (const h of r.judgedHolds) {
      for (const x of h.holders) lines.push(`  ${x.standing === 'orphaned' ? 'ORPHANED' : x.standing.padEnd(8)}  ${h.kind.padEnd(12)}  ${h.subject}  ${x.incidentId} (${x.stepId}, since ${x.since}): ${x.why}`);
    }
  }
  lines.push(r.ok ? 'all checks ok' : `${fail.length} failed, ${warn.length} ${warn.length === 1 ? 'warning' : 'warnings'}`);
  return lines.join('\n');
}

export function registerTarget(program: Command, run: Runner): void {
  const cmd = program.command('target').description('targets as the worker sees them');
  cmd
    .command('check <name>')
    .description('Redis, namespace readers, PostgreSQL, secret references, nginx and GitHub, checked on the worker; exit 1 unless every check is ok')
    .option('--timeout <sec>', 'how long to wait for the worker', '30')
    .action(
      run(async (ctx, name: string, o: { timeout?: string }) => {
        const ms = timeoutMs(o.timeout, 30);
        const { checkTarget } = await import('../../lib/incidents/inspect.js');
        const r = await checkTarget(ctx, { target: name, actor: await ctx.actor(), timeoutMs: ms });
        ctx.out(r, () => renderTargetCheck(r));
        // The document is printed either way; the exit code says whether the target is ready.
        if (!r.ok) process.exitCode = 1;
      }),
    );
}
