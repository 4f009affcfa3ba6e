/** Finds runbook files, validates them and snapshots them for a workflow. */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, isAbsolute, join, relative, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { RunbookError, UnknownRunbookError } from './errors.js';
import type { RunbookSnapshot } from './types.js';
import { sizeProblem, validateRunbook } from './validate.js';
import type { ValidateOptions } from './validate.js';

export { ParamError, RunbookError, UnknownRunbookError, formatProblem } from './errors.js';
export type { RunbookProblem } from './errors.js';
export { coerceParams } from './params.js';
export type { RawParamValue } from './params.js';
export type { ValidateOptions } from './validate.js';

const EXTENSIONS = ['.yaml', '.yml'];

/**
 * Validate runbook YAML and snapshot it (content + SHA-256). `file` is used
 * as given in problems and in the snapshot.
 * @throws RunbookError listing every problem.
 */
export function parseRunbook(content: string, file: string, options: ValidateOptions = {}): RunbookSnapshot {
  const doc = validateRunbook(content, file, options);
  const sha256 = createHash('sha256').update(content, 'utf8').digest('hex');
  return { file, content, sha256, doc };
}

function runbookFiles(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  return readdirSync(dir)
    .filter((f) => EXTENSIONS.includes(extname(f).toLowerCase()))
    .sort();
}

/**
 * Load one runbook: `name` is a runbook name (`token-leak`, looked up in
 * `dir`) or a path to a .yaml/.yml file.
 * @throws UnknownRunbookError (lists the known names) or RunbookError.
 */
export function loadRunbook(dir: string, name: string, options: ValidateOptions = {}): RunbookSnapshot {
  const known = (): string[] => [...new Set(runbookFiles(dir).map((f) => basename(f, extname(f))))];
  let path: string | undefined;
  if (EXTENSIONS.includes(extname(name).toLowerCase()) || name.includes('/') || name.includes('\\')) {
    // A bare file name (`sqli.yaml`) is looked up in the runbooks folder first.
    const bare = !name.includes('/') && !name.includes('\\');
    const candidates = isAbsolute(name) ? [name] : bare ? [resolve(dir, name), resolve(name)] : [resolve(name), resolve(dir, name)];
    path = candidates.find((p) => existsSync(p) && statSync(p).isFile());
  } else if (/^[a-z0-9-]+$/.test(name)) {
    path = EXTENSIONS.map((ext) => join(dir, name + ext)).find((p) => existsSync(p));
  }
  if (!path) throw new UnknownRunbookError(name, known(), dir);
  const rel = relative(resolve(dir), path);
  const file = rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : name;
  // A 50 MB file is refused before it is read, not after the YAML parser has held it in memory.
  const tooBig = sizeProblem(statSync(path).size, file);
  if (tooBig) throw new RunbookError([tooBig]);
  return parseRunbook(readFileSync(path, 'utf8'), file, options);
}

export interface RunbookListing {
  name: string;
  file: string;
  title: string;
  severity: string;
  valid: boolean;
  error?: string;
}

/** Every runbook file in `dir`, valid or not (invalid ones carry the error text). */
export function listRunbooks(dir: string, options: ValidateOptions = {}): RunbookListing[] {
  return runbookFiles(dir).map((file) => {
    const name = basename(file, extname(file));
    const content = readFileSync(join(dir, file), 'utf8');
    try {
      const { doc } = parseRunbook(content, file, options);
      return { name, file, title: doc.title, severity: doc.severity, valid: true };
    } catch (e) {
      if (!(e instanceof RunbookError)) throw e;
      return { name, file, ...bestEffortHeader(content), valid: false, error: e.message };
    }
  });
}

/** Title and severity of an invalid file, for the listing. */
function bestEffortHeader(content: string): { title: string; severity: string } {
  try {
    const raw: unknown = parseYaml(content, { logLevel: 'silent' });
    const r = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
    return { title: typeof r.title === 'string' ? r.title : '', severity: typeof r.severity === 'string' ? r.severity : '' };
  } catch {
    return { title: '', severity: '' };
  }
}
