/** YAML text → validated RunbookDoc, or a RunbookError listing every problem with its line. */
import { basename, extname } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { ACTIONS } from '../actions.js';
import type { ActionCatalog } from '../actions.js';
import { checkNotice, checkSteps } from './checks.js';
import { RunbookError } from './errors.js';
import type { RunbookProblem } from './errors.js';
import { StepGraph, checkGraph } from './graph.js';
import type { StepEntry } from './graph.js';
import { formatPath, locate } from './locate.js';
import { PARAM_NAME, paramSchema, parseWith, rootSchema, stepSchema } from './schema.js';
import type { RawProblem } from './schema.js';
import { PHASES } from './types.js';
import type { ParamSpec, PhaseName, RunbookDoc, StepSpec } from './types.js';

export interface ValidateOptions {
  /** Action catalog to check against (default: ACTIONS); tests pass their own. */
  actions?: ActionCatalog;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parse and validate runbook YAML. `file` names the source in problems and,
 * when it ends in .yaml/.yml, must match the runbook's `name`.
 * @throws RunbookError with every problem found.
 */
export function validateRunbook(content: string, file: string, options: ValidateOptions = {}): RunbookDoc {
  const tooBig = sizeProblem(Buffer.byteLength(content, 'utf8'), file);
  if (tooBig) throw new RunbookError([tooBig]);
  const lc = new LineCounter();
  const doc = parseDocument(content, { lineCounter: lc, prettyErrors: false });
  const at = (offset: number): { line: number; column: number } => {
    const { line, col } = lc.linePos(offset);
    return { line: Math.max(line, 1), column: col };
  };
  if (doc.errors.length > 0) {
    const errors = doc.errors.map((e) => ({ ...at(e.pos[0]), message: e.message }));
    throw new RunbookError(syntaxProblems(content, file, errors));
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new RunbookError([{ file, path: '', line: 1, column: 1, message: `YAML error: ${(e as Error).message}` }]);
  }
  const steps = stepCount(raw);
  if (steps > MAX_RUNBOOK_STEPS) {
    throw new RunbookError([{ file, path: 'phases', ...locate(doc, lc, ['phases']), message: `${steps} steps; a runbook has at most ${MAX_RUNBOOK_STEPS} (split it, or loop over a list argument inside one step)` }]);
  }
  const problems: RawProblem[] = [];
  const result = validateValue(raw, file, problems, options.actions ?? ACTIONS);
  if (!result || problems.length > 0) {
    const placed: RunbookProblem[] = problems.map((p) => ({ file, path: formatPath(p.path), ...locate(doc, lc, p.path, p.at), message: p.message }));
    placed.sort((a, b) => a.line - b.line || a.column - b.column);
    throw new RunbookError(placed);
  }
  return result;
}

/** Largest runbook accepted: it is snapshotted into the workflow input (Temporal's payload limit is 2 MB). */
export const MAX_RUNBOOK_BYTES = 256 * 1024;
/** Most steps in one runbook: every step adds history events, a gate and status entries. */
export const MAX_RUNBOOK_STEPS = 200;

/** A runbook over the size limit, found before anything parses it. */
export function sizeProblem(bytes: number, file: string): RunbookProblem | undefined {
  if (bytes <= MAX_RUNBOOK_BYTES) return undefined;
  return { file, path: '', line: 1, column: 1, message: `${bytes} bytes; a runbook has at most ${MAX_RUNBOOK_BYTES} (256 KiB)` };
}

function stepCount(raw: unknown): number {
  const phases = (raw as { phases?: unknown } | null)?.phases;
  if (!phases || typeof phases !== 'object') return 0;
  return Object.values(phases).reduce<number>((n, list) => n + (Array.isArray(list) ? list.length : 0), 0);
}

/**
 * One problem per line (the parser cascades after the first), at most 10, with a
 * hint for the classic trap: `string[]` unquoted inside a `{ }` flow mapping.
 */
function syntaxProblems(content: string, file: string, errors: Array<{ line: number; column: number; message: string }>): RunbookProblem[] {
  const lines = content.split(/\r?\n/);
  const seen = new Set<number>();
  const out: RunbookProblem[] = [];
  for (const e of errors) {
    if (seen.has(e.line) || out.length >= 10) continue;
    seen.add(e.line);
    const text = lines[e.line - 1] ?? '';
    const hint = /\{[^}]*:\s*string\[\]/.test(text) ? ' (hint: inside { } write type: "string[]" with quotes)' : '';
    out.push({ file, path: '', line: e.line, column: e.column, message: `YAML syntax error: ${e.message}${hint}` });
  }
  return out;
}

function validateValue(raw: unknown, file: string, problems: RawProblem[], actions: ActionCatalog): RunbookDoc | undefined {
  if (!isRecord(raw)) {
    problems.push({ path: [], message: 'a runbook must be a YAML mapping (name, title, severity, params, phases…)' });
    return undefined;
  }
  const root = parseWith(rootSchema, raw, [], problems);

  const ext = extname(file).toLowerCase();
  const expected = basename(file, extname(file));
  if ((ext === '.yaml' || ext === '.yml') && typeof raw.name === 'string' && raw.name !== expected) {
    problems.push({ path: ['name'], message: `name '${raw.name}' must equal the file's base name '${expected}'` });
  }

  const params: Record<string, ParamSpec> = {};
  const paramNames = new Set<string>();
  for (const [name, spec] of Object.entries(isRecord(raw.params) ? raw.params : {})) {
    paramNames.add(name);
    if (!PARAM_NAME.test(name)) problems.push({ path: ['params', name], at: 'key', message: `param name '${name}' must match [a-z][a-z0-9_]*` });
    const parsed = parseWith(paramSchema, spec, ['params', name], problems);
    if (parsed && PARAM_NAME.test(name)) params[name] = parsed;
  }

  const rawPhases = isRecord(raw.phases) ? raw.phases : {};
  const entries: StepEntry[] = [];
  for (const phase of PHASES) {
    const list = rawPhases[phase];
    if (!Array.isArray(list)) continue;
    list.forEach((item: unknown, i) => {
      const path = ['phases', phase, i];
      const id = isRecord(item) && typeof item.id === 'string' ? item.id : undefined;
      const spec = parseWith(stepSchema, item, path, problems) ?? salvageStep(item);
      entries.push({ phase, path, ...(id !== undefined && { id }), ...(spec && { spec }) });
    });
  }

  const graph = new StepGraph(entries);
  checkGraph(graph, problems);
  checkSteps({ actions, params, paramNames, graph, problems });
  checkNotice(root?.notice?.gdpr, { params, paramNames, problems });

  // Salvaged steps only feed the checks above; with problems there is no doc.
  if (!root || problems.length > 0) return undefined;
  const phases = Object.fromEntries(PHASES.map((p) => [p, [] as StepSpec[]])) as Record<PhaseName, StepSpec[]>;
  for (const e of entries) if (e.spec) phases[e.phase].push(e.spec);
  return {
    name: root.name,
    title: root.title,
    ...(root.description !== undefined && { description: root.description }),
    severity: root.severity,
    params,
    phases,
    resolve: root.resolve,
    ...(root.notice?.gdpr && { notice: { gdpr: root.notice.gdpr } }),
  };
}

/**
 * The fields the cross-reference checks need from a step that failed the schema
 * (say, a typo in `timeout`), so its other problems are reported in the same run.
 */
function salvageStep(item: unknown): StepSpec | undefined {
  if (!isRecord(item) || typeof item.id !== 'string' || typeof item.action !== 'string') return undefined;
  return {
    id: item.id,
    action: item.action,
    with: isRecord(item.with) ? item.with : {},
    needs: Array.isArray(item.needs) ? item.needs.filter((n): n is string => typeof n === 'string') : [],
    ...(typeof item.when === 'string' && { when: item.when }),
    continueOnError: false,
  };
}
