import type { Command } from 'commander';
import { UsageError } from '../../lib/errors.js';
import { jsonSafe, terminalSafe } from '../../lib/terminal-text.js';
import type { Runner } from '../context.js';
import { renderStatus, statusJson } from '../render.js';

export function registerStatus(program: Command, run: Runner): void {
  program
    .command('status <id>')
    .description('show an incident: phase, every step, open gates, timeline')
    .option('-w, --watch', 'follow live until the incident ends (Ctrl-C to stop)')
    .option('--timeline <n>', 'timeline entries to show', '8')
    .action(
      run(async (ctx, id: string, o: { watch?: boolean; timeline: string }) => {
        const client = await ctx.client();
        const n = Number(o.timeline);
        if (!Number.isInteger(n) || n < 0) throw new UsageError(`--timeline expects a whole number, got "${o.timeline}"`);
        const { getStatus, isTerminal, waitFor } = await import('../../lib/incidents/queries.js');
        if (!o.watch) {
          const s = await getStatus(client, id);
          ctx.out(statusJson(s), () => renderStatus(s, { timeline: n }));
          return;
        }
        const tty = process.stdout.isTTY && !ctx.json;
        const final = await waitFor(client, id, isTerminal, {
          timeoutMs: 7 * 24 * 3600 * 1000,
          intervalMs: 500,
          onChange: (s) => {
            // --json --watch streams one status document per change (NDJSON).
            if (ctx.json) process.stdout.write(`${jsonSafe(JSON.stringify(statusJson(s)))}\n`);
            else process.stdout.write(`${tty ? '\x1b[2J\x1b[H' : '\n'}${terminalSafe(renderStatus(s, { timeline: n }))}\n`);
          },
        });
        if (!ctx.json) process.stdout.write(`\n${final.id} ${final.state}\n`);
      }),
    );
}
