/** `firebreak report <id>`: regenerate the post-mortem and notice drafts from the incident's status, at any time. */
import type { Command } from 'commander';
import type { ReportFlags } from '../../lib/incidents/report.js';
import type { Runner } from '../context.js';

const collect = (v: string, prev: string[]) => [...prev, v];

export interface ReportOptions extends ReportFlags {
  open?: boolean;
  out?: string;
  dataCategory: string[];
}

export function registerReport(program: Command, run: Runner): void {
  program
    .command('report <id>')
    .description('regenerate the post-mortem draft and, with personal data, the GDPR and California notice drafts from the incident status')
    .option('--open', 'also print the post-mortem to stdout')
    .option('-o, --out <dir>', 'folder to write to (default: <dataDir>/evidence/<id>/)')
    .option('--personal-data', 'personal data was affected: draft the GDPR Art. 33 and California notices')
    .option('--high-risk', 'high risk to data subjects: draft the GDPR Art. 34 notice too (implies --personal-data)')
    .option('--aware-at <iso>', 'when the organisation became aware: the 72 h clock starts here (default: recorded, else the declaration)')
    .option('--data-category <text>', 'category of personal data involved (repeatable)', collect, [])
    .option('--subjects <n>', 'approximate number of data subjects')
    .option('--records <n>', 'approximate number of personal data records')
    .option('--dpo-contact <text>', 'name and contact details of the DPO or other contact point')
    .option('--organisation <name>', 'the controller / business sending the notices')
    .option('--delay-reasons <text>', 'why the Art. 33 notification is later than 72 h')
    .option('--notice-sent-at <iso>', 'when the Art. 33 notification was sent')
    .option('--notice-sent-by <name>', 'who sent it')
    .action(
      run(async (ctx, id: string, o: ReportOptions) => {
        const { open, out, ...flags } = o;
        const { regenerateReport } = await import('../../lib/incidents/report.js');
        const r = await regenerateReport(ctx, { id, out, flags });
        if (ctx.json) {
          ctx.out({ ok: true, id: r.id, files: r.files, sha256: r.sha256, ...(open ? { postmortem: r.postmortem } : {}) }, '');
          return;
        }
        if (open) process.stdout.write(`${r.postmortem}\n`);
        const list = Object.values(r.files).join('\n');
        if (open) ctx.progress(list);
        else ctx.out({}, list);
      }),
    );
}
