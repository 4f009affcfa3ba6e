/** Phase IV documents: post-mortem draft and regulatory notice drafts, as pure functions of the incident status. */
import type { IncidentStatus } from '../../workflows/definitions.js';
import { ccpaMarkdown } from './ccpa.js';
import type { GeneratedDocument, NoticeFacts } from './common.js';
import { gdprArt33Markdown, gdprArt34Markdown } from './gdpr.js';
import { postmortemMarkdown } from './postmortem.js';

export { CCPA_HEADINGS, ccpaMarkdown } from './ccpa.js';
export {
  GDPR_DEADLINE_HOURS,
  TODO,
  deadlineState,
  gdprDeadline,
  proofSummary,
  redact,
  rotatedSecrets,
  type DeadlineState,
  type GeneratedDocument,
  type NoticeFacts,
  type RotatedSecret,
} from './common.js';
export { noticeArgsOf, noticeArgsProblems, noticeFactsFromArgs, recordedNoticeArgs, type NoticeArgs } from './notice-args.js';
export { timelineMarkdown } from './timeline.js';
export { gdprArt33Markdown, gdprArt34Markdown } from './gdpr.js';
export { GANTT_DATE_FORMAT, ganttBlock, ganttChart, ganttText, type GanttOptions } from './mermaid.js';
export { postmortemMarkdown } from './postmortem.js';

/**
 * Every document that applies: always the post-mortem; with personal data the
 * GDPR Art. 33 and California notices; with high risk the Art. 34 notice too.
 */
export function generateDocuments(status: IncidentStatus, facts: NoticeFacts): GeneratedDocument[] {
  const docs: GeneratedDocument[] = [{ name: 'postmortem', file: 'postmortem.md', content: postmortemMarkdown(status, facts) }];
  if (facts.personalData) {
    docs.push({ name: 'gdpr-art33', file: 'gdpr-art33.md', content: gdprArt33Markdown(status, facts) });
    if (facts.highRisk) docs.push({ name: 'gdpr-art34', file: 'gdpr-art34.md', content: gdprArt34Markdown(status, facts) });
    docs.push({ name: 'ccpa', file: 'ccpa.md', content: ccpaMarkdown(status, facts) });
  }
  return docs;
}
