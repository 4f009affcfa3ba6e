/** Typed errors shared by front doors. Exit codes follow the CLI contract. */

export class UsageError extends Error {
  override name = 'UsageError';
  readonly exitCode = 2;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly exitCode = 2;
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

export class OperationError extends Error {
  override name = 'OperationError';
  readonly exitCode = 1;
}

/** Step arguments that cannot work, every one listed; nothing was started. */
export class InvalidArgumentsError extends UsageError {
  override name = 'InvalidArgumentsError';
  constructor(readonly problems: string[]) {
    super(`invalid step arguments, nothing was started:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}
