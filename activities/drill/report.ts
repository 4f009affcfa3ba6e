/**
 * The drill report, next to the incident's documents (`<dataDir>/incidents/<id>/drill-report.{json,md}`)
 * and in the drill reports folder, one per schedule (`<reportsDir>/<schedule>/<id>.json`),
 * where the next drill of the schedule finds it: a failed run leaves no completion result.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { buildReport, reportMarkdown } from '../../lib/drill-report.js';
import { writeFileAtomic } from '../../lib/atomic-file.js';
import { drillReportsDir, latestReport, reportGroup } from '../../lib/drill-reports.js';
import type { DrillReport, ReportRequest } from '../../workflows/drill-definitions.js';
import type { ActivityDeps } from '../deps.js';
import { incidentDir } from '../report/folder.js';

export function createReport(deps: ActivityDeps) {
  return async function drillReport(req: ReportRequest): Promise<DrillReport> {
    const group = reportGroup({ scheduleId: req.drill.scheduleId, runbook: req.drill.runbook, target: req.drill.target });
    if (!/^[A-Za-z0-9._-]{1,200}$/.test(group)) throw new Error(`drill report group "${group}" is not a safe folder name`);
    const folder = join(drillReportsDir(deps.config), group);
    const previous = await latestReport(folder, req.incident.incidentId);
    const report = buildReport(req, previous);
    const json = `${JSON.stringify(report, null, 2)}\n`;
    const dir = incidentDir(deps.config.dataDir, req.incident.incidentId);
    await mkdir(dir, { recursive: true, mode: 0o750 });
    await mkdir(folder, { recursive: true, mode: 0o750 });
    await writeFileAtomic(join(dir, 'drill-report.json'), json, { mode: 0o640 });
    await writeFileAtomic(join(dir, 'drill-report.md'), reportMarkdown(report), { mode: 0o640 });
    await writeFileAtomic(join(folder, `${req.incident.incidentId}.json`), json, { mode: 0o640 });
    return report;
  };
}
