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
