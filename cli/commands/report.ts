/** `firebreak report <id>`: regenerate the post-mortem and notice drafts from the incident's status, at any time. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { NoticeArgs } from '../../lib/documents/index.js';
import { UsageError } from '../../lib/errors.js';
import type { Runner } from '../context.js';

const collect = (v: string, prev: string[]) => [...prev, v];

export interface ReportOptions {
  open?: boolean;
  out?: string;
  personalData?: boolean;
  highRisk?: boolean;
  awareAt?: string;
  dataCategory: string[];
  subjects?: string;
  records?: string;
  dpoContact?: string;
  organisation?: string;
  delayReasons?: string;
  noticeSentAt?: string;
  noticeSentBy?: string;
}

function count(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim())) throw new UsageError(`${flag} expects a whole number, got "${value}"`);
  return Number(value.trim());
}

/** Flags as `report.postmortem` arguments; only what was given (flags add to, never clear, what the incident recorded). */
export function noticeArgsFromOptions(o: ReportOptions): NoticeArgs {
  const args: NoticeArgs = {};
  if (o.personalData) args.personal_data = true;
  if (o.highRisk) args.high_risk = true;
  if (o.awareAt !== undefined) args.aware_at = o.awareAt;
  if (o.dataCategory.length) args.data_categories = o.dataCategory;
  const subjects = count('--subjects', o.subjects);
  if (subjects !== undefined) args.subjects_approx = subjects;
  const records = count('--records', o.records);
  if (records !== undefined) args.records_approx = records;
  if (o.dpoContact !== undefined) args.dpo_contact = o.dpoContact;
  if (o.organisation !== undefined) args.organisation = o.organisation;
  if (o.delayReasons !== undefined) args.delay_reasons = o.delayReasons;
  if (o.noticeSentAt !== undefined) args.notice_sent_at = o.noticeSentAt;
  if (o.noticeSentBy !== undefined) args.notice_sent_by = o.noticeSentBy;
  return args;
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
        if (!/^[A-Za-z0-9._-]+$/.test(id)) throw new UsageError(`incident id "${id}" is not a safe folder name`);
        const flags = noticeArgsFromOptions(o);
        const [{ generateDocuments, noticeFactsFromArgs, recordedNoticeArgs }, { getNoticeStatus, getStatus }, { writeDocuments }, { incidentDir }] = await Promise.all([
          import('../../lib/documents/index.js'),
          import('../../lib/incident-client.js'),
          import('../../activities/documents.js'),
          import('../../activities/report.js'),
        ]);
        const client = await ctx.client();
        const status = await getStatus(client, id);
        // The GDPR clock knows awareness, risk and whether the notice went out.
        const clock = status.notice ? await getNoticeStatus(client, id) : undefined;
        const fromClock: NoticeArgs = status.notice
          ? {
              personal_data: true,
              aware_at: clock?.awareAt ?? status.notice.awareAt,
              ...(status.notice.highRisk ? { high_risk: true } : {}),
              ...(clock?.sentAt ? { notice_sent_at: clock.sentAt, notice_sent_by: clock.sentBy } : {}),
            }
          : {};
        // What the incident's report.postmortem step recorded, then the clock, overridden by the flags given now.
        const args = { ...recordedNoticeArgs(status), ...fromClock, ...flags };
        let facts;
        try {
          facts = noticeFactsFromArgs(args, status, new Date().toISOString());
        } catch (err) {
          throw new UsageError((err as Error).message);
        }
        const dir = o.out === undefined ? incidentDir(ctx.config.dataDir, status.id) : resolve(o.out);
        const docs = generateDocuments(status, facts);
        const { files, sha256 } = await writeDocuments(dir, docs);
        const postmortem = docs.find((d) => d.name === 'postmortem')?.content ?? '';
        if (ctx.json) {
          ctx.out({ ok: true, id: status.id, files, sha256, ...(o.open ? { postmortem } : {}) }, '');
          return;
        }
        if (o.open) process.stdout.write(`${postmortem}\n`);
        const list = Object.values(files).join('\n');
        if (o.open) ctx.progress(list);
        else ctx.out({}, list);
      }),
    );
}
