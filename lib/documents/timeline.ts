/** The incident's timeline as Markdown: header, every step per phase, every timeline entry. */
import { PHASE_TITLES, PHASES } from '../runbook/types.js';
import { identityCell } from './common.js';
import type { IncidentStatus } from '../../workflows/definitions.js';

export function timelineMarkdown(status: IncidentStatus): string {
  const lines = [
    `# Incident ${status.id}: ${status.runbook.title}`,
    '',
    `- Runbook: \`${status.runbook.name}\` (sha256 \`${status.runbook.sha256.slice(0, 12)}\`)`,
    `- Severity: ${status.severity} · Mode: ${status.mode} · Target: ${status.target}`,
    `- Declared by ${status.declaredBy.user}@${status.declaredBy.host} via ${status.declaredBy.via} at ${status.declaredAt}`,
    `- Identity: ${identityCell(status)}`,
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
