/** Phase IV: the incident's own record, written where responders keep evidence. */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Hex } from '../lib/canonical.js';
import { PHASE_TITLES, PHASES } from '../lib/runbook/types.js';
import type { ActionInput, ActionResult, IncidentStatus } from '../workflows/definitions.js';
import type { ActivityDeps } from './deps.js';
import { badInput } from './support/failures.js';

export function incidentDir(dataDir: string, incidentId: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(incidentId)) throw badInput(`incident id "${incidentId}" is not a safe folder name`);
  return join(dataDir, 'evidence', incidentId);
}

/** Write atomically: a reader never sees half a file. */
export async function writeAtomic(path: string, content: string, mode = 0o640): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, content, { mode });
  await rename(tmp, path);
}

export function timelineMarkdown(status: IncidentStatus): string {
  const lines = [
    `# Incident ${status.id}: ${status.runbook.title}`,
    '',
    `- Runbook: \`${status.runbook.name}\` (sha256 \`${status.runbook.sha256.slice(0, 12)}\`)`,
    `- Severity: ${status.severity} · Mode: ${status.mode} · Target: ${status.target}`,
    `- Declared by ${status.declaredBy.user}@${status.declaredBy.host} via ${status.declaredBy.via} at ${status.declaredAt}`,
    '',
    '## Steps',
    '',
    '| phase | step | action | state | summary |',
    '| --- | --- | --- | --- | --- |',
    ...PHASES.flatMap((phase) =>
      status.steps.filter((s) => s.phase === phase).map((s) => `| ${PHASE_TITLES[phase]} | ${s.id} | \`${s.action}\` | ${s.state} | ${(s.summary ?? s.error ?? '').replace(/\|/g, '\\|')} |`),
    ),
    '',
    '## Timeline',
    '',
    ...status.timeline.map((t) => `- ${t.at} — ${t.message.replace(/\n/g, ' ')}`),
    '',
  ];
  return lines.join('\n');
}

export function createReportActivities(deps: ActivityDeps) {
  return {
    async reportTimeline(input: ActionInput): Promise<ActionResult> {
      const status = input.status;
      if (!status) throw badInput('report.timeline needs the incident status');
      const dir = incidentDir(deps.config.dataDir, input.incidentId);
      await mkdir(dir, { recursive: true });
      const json = JSON.stringify(status, null, 2);
      const md = timelineMarkdown(status);
      await writeAtomic(join(dir, 'timeline.json'), json);
      await writeAtomic(join(dir, 'timeline.md'), md);
      return {
        summary: `timeline written to ${join(dir, 'timeline.md')}`,
        changed: true,
        proof: { sha256: sha256Hex(md) },
        output: { dir, markdown: join(dir, 'timeline.md'), json: join(dir, 'timeline.json') },
      };
    },
  };
}
