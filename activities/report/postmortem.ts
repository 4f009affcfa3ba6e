/**
 * `report.postmortem`: the post-mortem draft always; the GDPR Art. 33 and California notices
 * with `personal_data`; the Art. 34 notice with `high_risk`. "Generated at" is the step's
 * start (the same on every retry), so a retried step writes the same bytes.
 */
import type { ArgsOf } from '../../lib/args/schemas.js';
import { deadlineState, generateDocuments, noticeArgsOf, noticeFactsFromArgs, type NoticeFacts } from '../../lib/documents/index.js';
import { writeDocuments } from '../../lib/documents/files.js';
import type { ActionInput, ActionResult } from '../../workflows/definitions.js';
import type { ActivityDeps } from '../deps.js';
import { badInput } from '../support/failures.js';
import { incidentDir } from './folder.js';
import { publishPostmortem } from './publish.js';

export function createPostmortemActivity(deps: ActivityDeps) {
  return async function reportPostmortem(input: ActionInput): Promise<ActionResult> {
    const status = input.status;
    if (!status) throw badInput('report.postmortem needs the incident status (wantsStatus)');
    // The schema judged the arguments at the activity's entry; noticeFactsFromArgs also builds the facts (and serves `firebreak report`).
    const { open_issue: openIssue, ...noticeArgs } = input.args as ArgsOf<'report.postmortem'>;
    let facts: NoticeFacts;
    try {
      facts = noticeFactsFromArgs(noticeArgs, status, input.requestedAt);
    } catch (err) {
      throw badInput(`report.postmortem: ${(err as Error).message}`);
    }
    const dir = incidentDir(deps.config.dataDir, input.incidentId);
    const docs = generateDocuments(status, facts);
    const written = await writeDocuments(dir, docs);
    const notices = docs.length - 1;
    const deadline = facts.personalData ? ` (GDPR Art. 33 deadline ${deadlineState(facts).deadline})` : '';
    deps.logger.info({ incidentId: input.incidentId, step: input.stepId, dir, documents: docs.map((d) => d.file) }, 'post-mortem documents written');
    const published = input.mode === 'dry-run' ? {} : await publishPostmortem(deps, input, status, docs[0]?.content ?? '', written.files.postmortem ?? dir, openIssue === true);
    const extra = [
      ...(published.issue ? [`; issue #${published.issue.number} ${published.issue.created ? 'opened' : 'updated'} (${published.issue.url})`] : []),
      ...(published.slack ? [`; Slack ${published.slack === 'posted' ? 'notified' : 'already notified'}`] : []),
    ].join('');
    return {
      summary: `post-mortem${notices ? ` and ${notices} notice draft(s)` : ''} written to ${dir}${deadline}${extra}`,
      changed: true,
      proof: {
        documents: docs.map((d) => d.file),
        sha256: written.sha256,
        facts: noticeArgsOf(facts),
        ...(published.issue ? { issue: { number: published.issue.number, url: published.issue.url } } : {}),
        ...(published.slack ? { slack: published.slack } : {}),
      },
      output: { ...written, ...(published.issue ? { issue: { number: published.issue.number, url: published.issue.url } } : {}) },
    };
  };
}
