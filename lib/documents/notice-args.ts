/**
 * The `report.postmortem` arguments (also what `firebreak report` takes as flags): validated,
 * turned into the facts the notices need, and recorded back so the drafts can be regenerated.
 */
import type { IncidentStatus } from '../../workflows/definitions.js';
import { parseTime, type NoticeFacts } from './common.js';

/** The `report.postmortem` arguments (also what `firebreak report` takes as flags). */
export interface NoticeArgs {
  personal_data?: boolean;
  high_risk?: boolean;
  aware_at?: string;
  data_categories?: string[];
  subjects_approx?: number;
  records_approx?: number;
  dpo_contact?: string;
  organisation?: string;
  delay_reasons?: string;
  notice_sent_at?: string;
  notice_sent_by?: string;
}

const ARG_TYPES: Record<keyof NoticeArgs, 'boolean' | 'string' | 'string[]' | 'integer'> = {
  personal_data: 'boolean',
  high_risk: 'boolean',
  aware_at: 'string',
  data_categories: 'string[]',
  subjects_approx: 'integer',
  records_approx: 'integer',
  dpo_contact: 'string',
  organisation: 'string',
  delay_reasons: 'string',
  notice_sent_at: 'string',
  notice_sent_by: 'string',
};

/** Validate `report.postmortem` arguments (every problem, one line each); unknown keys are refused. */
export function noticeArgsProblems(args: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(args)) {
    if (value === undefined || value === null) continue;
    const type = ARG_TYPES[key as keyof NoticeArgs] as string | undefined;
    if (!type) {
      problems.push(`unknown argument "${key}" (known: ${Object.keys(ARG_TYPES).join(', ')})`);
      continue;
    }
    const ok =
      type === 'boolean'
        ? typeof value === 'boolean'
        : type === 'integer'
          ? typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
          : type === 'string[]'
            ? Array.isArray(value) && value.every((v) => typeof v === 'string' && v.length <= 200) && value.length <= 50
            : typeof value === 'string' && value.length <= 4000;
    if (!ok) problems.push(`${key} must be ${type === 'integer' ? 'a whole number ≥ 0' : type === 'string[]' ? 'a list of at most 50 strings (200 characters each)' : type === 'string' ? 'a string of at most 4000 characters' : 'true or false'}`);
  }
  for (const key of ['aware_at', 'notice_sent_at'] as const) {
    const v = args[key];
    if (typeof v === 'string') {
      try {
        parseTime(v, key);
      } catch (err) {
        problems.push((err as Error).message);
      }
    }
  }
  return problems;
}

/**
 * Facts from validated arguments. `awareAt` defaults to the declaration; an
 * Art. 34 notice implies personal data. Throws one Error listing every problem.
 */
export function noticeFactsFromArgs(args: Record<string, unknown>, status: Pick<IncidentStatus, 'declaredAt'>, generatedAt: string): NoticeFacts {
  const problems = noticeArgsProblems(args);
  if (problems.length) throw new Error(problems.join('; '));
  parseTime(generatedAt, 'generatedAt');
  const a = args as NoticeArgs;
  const text = (v: string | undefined) => (v !== undefined && v.trim() ? v.trim() : undefined);
  const categories = a.data_categories?.map((c) => c.trim()).filter(Boolean);
  const facts: NoticeFacts = {
    personalData: Boolean(a.personal_data) || Boolean(a.high_risk),
    highRisk: Boolean(a.high_risk),
    awareAt: new Date(parseTime(a.aware_at ?? status.declaredAt, 'aware_at')).toISOString(),
    generatedAt: new Date(parseTime(generatedAt, 'generatedAt')).toISOString(),
  };
  if (a.notice_sent_at !== undefined) facts.noticeSentAt = new Date(parseTime(a.notice_sent_at, 'notice_sent_at')).toISOString();
  if (text(a.notice_sent_by)) facts.noticeSentBy = text(a.notice_sent_by);
  if (categories?.length) facts.dataCategories = categories;
  if (a.subjects_approx !== undefined) facts.subjectsApprox = a.subjects_approx;
  if (a.records_approx !== undefined) facts.recordsApprox = a.records_approx;
  if (text(a.dpo_contact)) facts.dpoContact = text(a.dpo_contact);
  if (text(a.organisation)) facts.organisation = text(a.organisation);
  if (text(a.delay_reasons)) facts.delayReasons = text(a.delay_reasons);
  return facts;
}

/** The arguments that reproduce `facts` (recorded in the step's proof so `firebreak report` can regenerate). */
export function noticeArgsOf(facts: NoticeFacts): NoticeArgs {
  const out: NoticeArgs = { personal_data: facts.personalData, high_risk: facts.highRisk, aware_at: facts.awareAt };
  if (facts.dataCategories) out.data_categories = facts.dataCategories;
  if (facts.subjectsApprox !== undefined) out.subjects_approx = facts.subjectsApprox;
  if (facts.recordsApprox !== undefined) out.records_approx = facts.recordsApprox;
  if (facts.dpoContact) out.dpo_contact = facts.dpoContact;
  if (facts.organisation) out.organisation = facts.organisation;
  if (facts.delayReasons) out.delay_reasons = facts.delayReasons;
  if (facts.noticeSentAt) out.notice_sent_at = facts.noticeSentAt;
  if (facts.noticeSentBy) out.notice_sent_by = facts.noticeSentBy;
  return out;
}

/** The facts a `report.postmortem` step recorded in its proof, as arguments (empty when none), so documents can be regenerated later. */
export function recordedNoticeArgs(status: IncidentStatus): Record<string, unknown> {
  const step = status.steps.filter((s) => s.action === 'report.postmortem' && s.proof?.facts && typeof s.proof.facts === 'object' && !Array.isArray(s.proof.facts)).at(-1);
  return step ? { ...(step.proof?.facts as Record<string, unknown>) } : {};
}
