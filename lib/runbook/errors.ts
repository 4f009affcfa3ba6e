/** Errors of the runbook loader. Exit code 2: the input is wrong, not the system. */

/** One problem in a runbook file, placed on a 1-based line and column. */
export interface RunbookProblem {
  file: string;
  /** Document path, e.g. `phases.containment[1].with.reason` ('' for YAML syntax errors). */
  path: string;
  line: number;
  column: number;
  message: string;
}

/** `FILE:LINE:COL: PATH: MESSAGE` (PATH omitted when empty). */
export function formatProblem(p: RunbookProblem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.path ? `${p.path}: ` : ''}${p.message}`;
}

/** A runbook that does not parse or validate; lists every problem found. */
export class RunbookError extends Error {
  override name = 'RunbookError';
  readonly exitCode = 2;
  constructor(readonly problems: RunbookProblem[]) {
    super(problems.map(formatProblem).join('\n'));
  }
}

/** No runbook by that name; the message lists the known names. */
export class UnknownRunbookError extends Error {
  override name = 'UnknownRunbookError';
  readonly exitCode = 2;
  constructor(
    readonly runbook: string,
    readonly known: string[],
    dir: string,
  ) {
    super(
      known.length > 0
        ? `unknown runbook '${runbook}'; known runbooks: ${known.join(', ')}`
        : `unknown runbook '${runbook}': no runbooks found in ${dir}`,
    );
  }
}

/** Incident parameters that do not fit the runbook; lists every problem. */
export class ParamError extends Error {
  override name = 'ParamError';
  readonly exitCode = 2;
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}
