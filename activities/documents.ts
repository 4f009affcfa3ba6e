/** Phase IV: the post-mortem draft and the regulatory notice drafts, written into the evidence folder. */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Hex } from '../lib/canonical.js';
import { deadlineState, generateDocuments, noticeArgsOf, noticeFactsFromArgs, type GeneratedDocument, type NoticeFacts } from '../lib/documents/index.js';
import type { ActionInput, ActionResult } from '../workflows/definitions.js';
import type { ActivityDeps } from './deps.js';
import { badInput } from './failures.js';
import { incidentDir, writeAtomic } from './report.js';

export interface WrittenDocuments {
  /** Document name (`postmortem`, `gdpr-art33`, `gdpr-art34`, `ccpa`) → absolute path. */
  files: Record<string, string>;
  /** Document name → SHA-256 hex of what was written. */
  sha256: Record<string, string>;
}

/** Write the documents into `dir` (created when missing), each atomically. */
export async function writeDocuments(dir: string, docs: GeneratedDocument[]): Promise<WrittenDocuments> {
  await mkdir(dir, { recursive: true });
  const files: Record<string, string> = {};
  const sha256: Record<string, string> = {};
  for (const doc of docs) {
    const path = join(dir, doc.file);
    await writeAtomic(path, doc.content);
    files[doc.name] = path;
    sha256[doc.name] = sha256Hex(doc.content);
  }
  return { files, sha256 };
}

export function createDocumentActivities(deps: ActivityDeps) {
  return {
    /**
     * `report.postmortem`: the post-mortem draft always; the GDPR Art. 33 and
     * California notices with `personal_data`; the Art. 34 notice with
     * `high_risk`. "Generated at" is the step's start (the same on every
     * retry), so a retried step writes the same bytes.
     */
    async reportPostmortem(input: ActionInput): Promise<ActionResult> {
      const status = input.status;
      if (!status) throw badInput('report.postmortem needs the incident status (wantsStatus)');
      let facts: NoticeFacts;
      try {
        facts = noticeFactsFromArgs(input.args, status, input.requestedAt);
      } catch (err) {
        throw badInput(`report.postmortem: ${(err as Error).message}`);
      }
      const dir = incidentDir(deps.config.dataDir, input.incidentId);
      const docs = generateDocuments(status, facts);
      const written = await writeDocuments(dir, docs);
      const notices = docs.length - 1;
      const deadline = facts.personalData ? ` (GDPR Art. 33 deadline ${deadlineState(facts).deadline})` : '';
      deps.logger.info({ incidentId: input.incidentId, step: input.stepId, dir, documents: docs.map((d) => d.file) }, 'post-mortem documents written');
      return {
        summary: `post-mortem${notices ? ` and ${notices} notice draft(s)` : ''} written to ${dir}${deadline}`,
        changed: true,
        proof: { documents: docs.map((d) => d.file), sha256: written.sha256, facts: noticeArgsOf(facts) },
        output: { ...written },
      };
    },
  };
}
