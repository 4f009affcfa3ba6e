import type { Command } from 'commander';
import { UsageError } from '../../lib/errors.js';
import type { Runner } from '../context.js';
import { renderList } from '../render.js';

export function registerList(program: Command, run: Runner): void {
  program
    .command('list')
    .description('list incidents (Temporal visibility), newest first')
    .option('--open', 'only incidents still running')
    .option('-n, --limit <n>', 'at most this many', '50')
    .action(
      run(async (ctx, o: { open?: boolean; limit: string }) => {
        const limit = Number(o.limit);
        if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit expects a whole number of at least 1, got "${o.limit}"`);
        const { listIncidents } = await import('../../lib/incidents/queries.js');
        const items = await listIncidents(await ctx.client(), { open: o.open, limit });
        ctx.out({ incidents: items }, () => renderList(items));
      }),
    );
}
