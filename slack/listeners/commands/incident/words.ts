/** Checks shared by subcommands on the words they were given (before the ack). */
import { UsageError } from '../../../../lib/errors.js';
import { toWorkflowId } from '../../../../lib/incidents/handles.js';
import { textProblem, type TextKind } from '../../../../lib/limits.js';

/** The incident id at `words[i]`, checked for form. */
export function incidentId(words: string[], i: number, usage: string): string {
  const id = words[i];
  if (id === undefined) throw new UsageError(`missing the incident id: ${usage}`);
  toWorkflowId(id);
  return id;
}

/** Words from `i` on, joined by one space; refused when empty (if required) or over the text's limit. */
export function restText(words: string[], i: number, kind: TextKind, what: string, usage: string, required = true): string {
  const text = words.slice(i).join(' ');
  if (required && !text.trim()) throw new UsageError(`missing the ${what}: ${usage}`);
  const problem = textProblem(kind, text, `the ${what}`);
  if (problem) throw new UsageError(problem);
  return text;
}

export function noMore(words: string[], n: number, usage: string): void {
  if (words.length > n) throw new UsageError(`unexpected "${words.slice(n).join(' ').slice(0, 40)}": ${usage}`);
}
