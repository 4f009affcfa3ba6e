import { readdirSync } from 'node:fs';
import type { Command } from 'commander';
import type { Runner } from '../context.js';

/** Loaded when a runbook command runs (yaml, zod), not for --help. */
const loader = () => import('../../lib/runbook/loader.js');

export function registerRunbook(program: Command, run: Runner): void {
  const rb = program.command('runbook').description('list, show and validate runbooks');
  rb.command('list')
    .description('every runbook in the runbooks folder, with its validity')
    .action(
      run(async (ctx) => {
        const { listRunbooks } = await loader();
        const items = listRunbooks(ctx.config.runbooksDir);
        ctx.out({ runbooksDir: ctx.config.runbooksDir, runbooks: items }, () =>
          items.length
            ? items.map((r) => `${r.valid ? '✓' : '✗'} ${r.name.padEnd(20)} ${r.severity.padEnd(9)} ${r.title}${r.error ? `\n    ${r.error.split('\n')[0]}` : ''}`).join('\n')
            : `no runbooks in ${ctx.config.runbooksDir}`,
        );
      }),
    );
  rb.command('show <name>')
    .description('a runbook’s parameters and steps per phase')
    .action(
      run(async (ctx, name: string) => {
        const [{ loadRunbook }, { PHASES, PHASE_TITLES }] = await Promise.all([loader(), import('../../lib/runbook/types.js')]);
        const snap = loadRunbook(ctx.config.runbooksDir, name);
        const d = snap.doc;
        ctx.out({ file: snap.file, sha256: snap.sha256, runbook: d }, () => {
          const lines = [`${d.name}: ${d.title} (default severity ${d.severity})`, `  file ${snap.file}  sha256 ${snap.sha256.slice(0, 12)}`];
          if (d.description) lines.push('', `  ${d.description.trim().replace(/\n/g, '\n  ')}`);
          lines.push('', 'Parameters');
          for (const [k, p] of Object.entries(d.params)) {
            lines.push(`  ${k} (${p.type}${p.required ? ', required' : ''}${p.default !== undefined ? `, default ${JSON.stringify(p.default)}` : ''}${p.sensitive ? ', sensitive' : ''})${p.description ? `: ${p.description}` : ''}`);
          }
          for (const phase of PHASES) {
            lines.push('', PHASE_TITLES[phase]);
            for (const s of d.phases[phase]) {
              const extra = [s.needs.length ? `needs ${s.needs.join(',')}` : '', s.approval ? `approval ${s.approval.count}×${s.approval.group}` : '', s.when ? `when ${s.when}` : ''].filter(Boolean).join('; ');
              lines.push(`  ${s.id.padEnd(18)} ${s.action.padEnd(18)} ${extra}`);
            }
          }
          lines.push('', `All-clear: ${d.resolve.approval.count}×${d.resolve.approval.group}`);
          return lines.join('\n');
        });
      }),
    );
  rb.command('validate [names...]')
    .description('validate runbooks (all when none named); exit 2 on any error')
    .action(
      run(async (ctx, names: string[]) => {
        const [{ loadRunbook, RunbookError }, { approvalProblems }] = await Promise.all([loader(), import('../../lib/runbook/approvals.js')]);
        const dir = ctx.config.runbooksDir;
        const targets = names.length ? names : readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));
        const results = targets.map((n) => {
          try {
            const s = loadRunbook(dir, n);
            // Gates no one could pass under this config's approver groups.
            const gates = approvalProblems(s.doc, ctx.config.approvers.groups, ctx.config.source);
            if (gates.length) return { name: n, valid: false, sha256: s.sha256, problems: gates.map((message) => ({ message })), message: gates.join('\n') };
            return { name: n, valid: true, sha256: s.sha256, problems: [] as unknown[] };
          } catch (err) {
            if (err instanceof RunbookError) return { name: n, valid: false, problems: err.problems, message: err.message };
            return { name: n, valid: false, problems: [], message: (err as Error).message };
          }
        });
        ctx.out({ valid: results.every((r) => r.valid), results }, () => results.map((r) => (r.valid ? `✓ ${r.name}` : `✗ ${r.name}\n${'message' in r ? r.message : ''}`)).join('\n'));
        if (!results.every((r) => r.valid)) process.exitCode = 2;
      }),
    );
  rb.command('actions')
    .description('the actions a runbook step may name')
    .action(
      run(async (ctx) => {
        const { ACTIONS } = await import('../../lib/actions.js');
        ctx.out({ actions: ACTIONS }, () =>
          Object.entries(ACTIONS)
            .map(([name, a]) => `${name.padEnd(18)} ${a.reversible ? 'reversible ' : ''}${a.liftOnResolve ? 'lifted-on-resolve ' : ''}\n    ${a.description}${Object.keys(a.args).length ? `\n    args: ${Object.entries(a.args).map(([k, v]) => `${k}:${(v as { type: string }).type}`).join(', ')}` : ''}`)
            .join('\n'),
        );
      }),
    );
}
