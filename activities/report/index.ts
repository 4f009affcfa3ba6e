/** Phase IV, the `report.*` action family: the timeline, the post-mortem and notice drafts, and publishing them. */
import type { ActivityDeps } from '../deps.js';
import { createPostmortemActivity } from './postmortem.js';
import { createTimelineActivity } from './timeline.js';

export function createReportActivities(deps: ActivityDeps) {
  return {
    reportTimeline: createTimelineActivity(deps),
    reportPostmortem: createPostmortemActivity(deps),
  };
}

export { incidentDir, writeAtomic } from './folder.js';
export { issueBody, issueTitle, MAX_ISSUE_BODY, postToSlack, SLACK_TIMEOUT_MS, slackText } from './publish.js';
