/** Where drill reports are kept and finding the newest of a schedule: shared by the worker (writes) and front doors (reads). */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from './config.js';
import type { DrillReport } from '../workflows/drill-definitions.js';

export const drillReportsDir = (config: Pick<Readonly<Config>, 'drills' | 'dataDir'>): string => config.drills.reportsDir ?? join(config.dataDir, 'drills');
/** Runs without a schedule (`drill run`) are kept under the runbook and target they rehearsed. */
export const reportGroup = (r: { scheduleId?: string; runbook: string; target: string }): string => r.scheduleId ?? `run-${r.runbook}-${r.target}`;

/** The newest report in a group folder other than `exclude`, by its start time. */
export async function latestReport(folder: string, exclude?: string): Promise<DrillReport | undefined> {
  const names = await readdir(folder).catch(() => [] as string[]);
  let best: DrillReport | undefined;
  for (const name of names) {
    if (!name.endsWith('.json') || name === `${exclude}.json`) continue;
    try {
      const r = JSON.parse(await readFile(join(folder, name), 'utf8')) as DrillReport;
      if (r.v === 1 && (!best || r.startedAt > best.startedAt)) best = r;
    } catch {
      // a report half-written by hand or by another version is not a baseline
    }
  }
  return best;
}
