/** `report.timeline`: the incident's own record (status JSON and Markdown timeline) in its evidence folder. */
import { writeTimeline } from '../../lib/documents/files.js';
import type { ActionInput, ActionResult } from '../../workflows/definitions.js';
import type { ActivityDeps } from '../deps.js';
import { badInput } from '../support/failures.js';
import { incidentDir } from './folder.js';

export function createTimelineActivity(deps: ActivityDeps) {
  return async function reportTimeline(input: ActionInput): Promise<ActionResult> {
    const status = input.status;
    if (!status) throw badInput('report.timeline needs the incident status');
    const dir = incidentDir(deps.config.dataDir, input.incidentId);
    const written = await writeTimeline(dir, status);
    return {
      summary: `timeline written to ${written.markdown}`,
      changed: true,
      proof: { sha256: written.sha256 },
      output: { dir, markdown: written.markdown, json: written.json },
    };
  };
}
