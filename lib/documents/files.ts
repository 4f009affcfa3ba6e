/** Where an incident's documents live, and writing them there: each file atomically and durably. */
import { join } from 'node:path';
import { ensurePrivateDir, writeFileAtomic } from '../atomic-file.js';
import { sha256Hex } from '../canonical.js';
import { UsageError } from '../errors.js';
import type { IncidentStatus } from '../../workflows/definitions.js';
import type { GeneratedDocument } from './common.js';
import { timelineMarkdown } from './timeline.js';

/** The id as a folder name, or a usage error: an id never walks out of the evidence folder. */
export function safeIncidentId(incidentId: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(incidentId)) throw new UsageError(`incident id "${incidentId}" is not a safe folder name`);
  return incidentId;
}

/** `<dataDir>/evidence/<incident id>/`: the post-mortem, notices, timeline and evidence bundles. */
export function incidentDir(dataDir: string, incidentId: string): string {
  return join(dataDir, 'evidence', safeIncidentId(incidentId));
}

export interface WrittenDocuments {
  /** Document name (`postmortem`, `gdpr-art33`, `gdpr-art34`, `ccpa`) → absolute path. */
  files: Record<string, string>;
  /** Document name → SHA-256 hex of what was written. */
  sha256: Record<string, string>;
}

/** Write the documents into `dir` (created when missing), each atomically. */
export async function writeDocuments(dir: string, docs: GeneratedDocument[]): Promise<WrittenDocuments> {
  await ensurePrivateDir(dir);
  const files: Record<string, string> = {};
  const sha256: Record<string, string> = {};
  for (const doc of docs) {
    const path = join(dir, doc.file);
    await writeFileAtomic(path, doc.content);
    files[doc.name] = path;
    sha256[doc.name] = sha256Hex(doc.content);
  }
  return { files, sha256 };
}

export interface WrittenTimeline {
  markdown: string;
  json: string;
  /** SHA-256 hex of the Markdown. */
  sha256: string;
}

/** `timeline.json` (the status as it is) and `timeline.md` into `dir` (created when missing). */
export async function writeTimeline(dir: string, status: IncidentStatus): Promise<WrittenTimeline> {
  await ensurePrivateDir(dir);
  const md = timelineMarkdown(status);
  const paths = { json: join(dir, 'timeline.json'), markdown: join(dir, 'timeline.md') };
  await writeFileAtomic(paths.json, JSON.stringify(status, null, 2));
  await writeFileAtomic(paths.markdown, md);
  return { ...paths, sha256: sha256Hex(md) };
}
