/** The evidence folder as the report activities (and evidence bundles) see it: a bad id is a non-retryable failure. */
import { incidentDir as folderOf } from '../../lib/documents/files.js';
import { writeFileAtomic } from '../../lib/atomic-file.js';
import { badInput } from '../support/failures.js';

export function incidentDir(dataDir: string, incidentId: string): string {
  try {
    return folderOf(dataDir, incidentId);
  } catch (err) {
    throw badInput((err as Error).message);
  }
}

/** Kept for the evidence bundle writer: the one atomic writer, mode 0o640 unless given. */
export const writeAtomic = (path: string, content: string, mode = 0o640): Promise<void> => writeFileAtomic(path, content, { mode });
