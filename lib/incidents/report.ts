/**
 * Regenerating an incident's post-mortem and notice drafts from its status, at any time:
 * what its report.postmortem step recorded, then its GDPR clock, then what the person adds now.
 */
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { pastMoment } from './moments.js';
import { generateDocuments, noticeFactsFromArgs, recordedNoticeArgs, type GeneratedDocument, type NoticeArgs, type NoticeFacts } from '../documents/index.js';
import { incidentDir, safeIncidentId, writeDocuments, type WrittenDocuments } from '../documents/files.js';
import type { IncidentStatus } from '../../workflows/definitions.js';
import type { NoticeStatus } from '../../workflows/notice-definitions.js';
import { getNoticeStatus, getStatus } from './queries.js';
import type { FrontDoor } from './types.js';

/** What a person states about personal data when asking for the drafts (the `firebreak report` flags, as given). */
export interface ReportFlags {
  personalData?: boolean;
  highRisk?: boolean;
  awareAt?: string;
  dataCategory?: string[];
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
export function noticeArgsFromFlags(f: ReportFlags): NoticeArgs {
  const args: NoticeArgs = {};
  if (f.personalData) args.personal_data = true;
  if (f.highRisk) args.high_risk = true;
  if (f.awareAt !== undefined) args.aware_at = pastMoment('--aware-at', f.awareAt);
  if (f.dataCategory?.length) args.data_categories = f.dataCategory;
  const subjects = count('--subjects', f.subjects);
  if (subjects !== undefined) args.subjects_approx = subjects;
  const records = count('--records', f.records);
  if (records !== undefined) args.records_approx = records;
  if (f.dpoContact !== undefined) args.dpo_contact = f.dpoContact;
  if (f.organisation !== undefined) args.organisation = f.organisation;
  if (f.delayReasons !== undefined) args.delay_reasons = f.delayReasons;
  if (f.noticeSentAt !== undefined) args.notice_sent_at = f.noticeSentAt;
  if (f.noticeSentBy !== undefined) args.notice_sent_by = f.noticeSentBy;
  return args;
}

/** What the report.postmortem step recorded, then the GDPR clock (awareness, risk, whether the notice went out), overridden by `given`. */
export function mergedNoticeArgs(status: IncidentStatus, clock: NoticeStatus | undefined, given: NoticeArgs): Record<string, unknown> {
  const fromClock: NoticeArgs = status.notice
    ? {
        personal_data: true,
        aware_at: clock?.awareAt ?? status.notice.awareAt,
        ...(status.notice.highRisk ? { high_risk: true } : {}),
        ...(clock?.sentAt ? { notice_sent_at: clock.sentAt, notice_sent_by: clock.sentBy } : {}),
      }
    : {};
  return { ...recordedNoticeArgs(status), ...fromClock, ...given };
}

export interface ReportRequest {
  id: string;
  /** Folder to write to (default: the incident's evidence folder under the config's dataDir). */
  out?: string;
  flags: ReportFlags;
}

export interface RegeneratedReport extends WrittenDocuments {
  id: string;
  dir: string;
  documents: GeneratedDocument[];
  postmortem: string;
}

export async function regenerateReport(door: FrontDoor, req: ReportRequest): Promise<RegeneratedReport> {
  safeIncidentId(req.id);
  // `--out ''` would write into whatever folder the command ran in.
  if (req.out !== undefined && !req.out.trim()) throw new UsageError('--out must name a folder (omit it for <dataDir>/evidence/<id>/)');
  const given = noticeArgsFromFlags(req.flags);
  const client = await door.client();
  const status = await getStatus(client, req.id);
  const clock = status.notice ? await getNoticeStatus(client, req.id) : undefined;
  let facts: NoticeFacts;
  try {
    facts = noticeFactsFromArgs(mergedNoticeArgs(status, clock, given), status, new Date().toISOString());
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const dir = req.out === undefined ? incidentDir(door.config.dataDir, status.id) : resolve(req.out);
  const documents = generateDocuments(status, facts);
  const written = await writeDocuments(dir, documents);
  return { id: status.id, dir, documents, ...written, postmortem: documents.find((d) => d.name === 'postmortem')?.content ?? '' };
}
