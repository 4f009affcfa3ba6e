#!/usr/bin/env node
/** The `firebreak` command. Exit codes: 0 ok, 1 operation failed, 2 usage or validation error. */
import { Command, CommanderError } from 'commander';
import { jsonSafe, terminalSafe } from '../lib/terminal-text.js';
import { Ctx, prepareContext, type GlobalOptions } from './context.js';
import { registerDev } from './commands/dev.js';
import { registerWorker } from './commands/worker.js';
import { registerEdge } from './commands/edge.js';
import { registerRunbook } from './commands/runbook.js';
import { registerDeclare } from './commands/declare.js';
import { registerStatus } from './commands/status.js';
import { registerList } from './commands/list.js';
import { registerSteer } from './commands/steer.js';
import { registerLockdown } from './commands/lockdown.js';
import { registerCodecServer } from './commands/codec-server.js';
import { registerReport } from './commands/report.js';
import { registerBans } from './commands/bans.js';
import { registerTarget } from './commands/target.js';
import { registerKeys } from './commands/keys.js';
import { registerSlack } from './commands/slack.js';
import { registerDrill } from './commands/drill.js';
import { registerAudit } from './commands/audit.js';
import { exitCodeOf, errorLine } from './errors.js';

/** Commands that run until stopped (they keep zod's compiled validators). */
const LONG_RUNNING = new Set(['worker', 'edge', 'dev', 'codec-server', 'slack']);

export function buildProgram(): { program: Command; ctx: () => Ctx | undefined } {
  let ctx: Ctx | undefined;
  const program = new Command('firebreak')
    .description('Incident-response runbooks as durable Temporal workflows')
    .option('--json', 'machine-readable output (one JSON document on stdout)')
    .option('--verbose', 'show stack traces on errors')
    .option('-c, --config <file>', 'config file (default: $FIREBREAK_CONFIG or ./firebreak.yaml)')
    // Every command's help lists --json, --verbose and --config too (subcommands inherit this).
    .configureHelp({ showGlobalOptions: true })
    // Usage errors are reported by main() as one line (or the JSON document), not by commander.
    .configureOutput({ outputError: () => undefined })
    .exitOverride();
  /** Wrap a command action so it gets a Ctx built from the global options. */
  const run =
    <A extends unknown[]>(fn: (c: Ctx, ...args: A) => Promise<void>) =>
    async (...args: unknown[]) => {
      const cmd = args[args.length - 1] as Command;
      await prepareContext({ longRunning: LONG_RUNNING.has(cmd.name()) });
      ctx = new Ctx(cmd.optsWithGlobals<GlobalOptions>());
      await fn(ctx, ...(args.slice(0, -1) as A));
    };
  for (const register of [registerDev, registerWorker, registerEdge, registerRunbook, registerDeclare, registerStatus, registerList, registerSteer, registerLockdown, registerBans, registerTarget, registerKeys, registerReport, registerCodecServer, registerSlack, registerDrill, registerAudit]) {
    register(program, run);
  }
  program.commands.forEach(function inherit(c: Command) {
    c.exitOverride();
    c.commands.forEach(inherit);
  });
  return { program, ctx: () => ctx };
}

export async function main(argv: string[]): Promise<number> {
  const { program, ctx } = buildProgram();
  const json = argv.includes('--json');
  const verbose = argv.includes('--verbose');
  try {
    await program.parseAsync(argv, { from: 'user' });
    // A command that printed its own result can still fail (`runbook validate` sets exit code 2).
    return Number(process.exitCode ?? 0);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
      // Help shown because a command was missing (`firebreak`, `firebreak runbook`) is a usage error.
      if (err.code === 'commander.help') return err.exitCode === 0 ? 0 : 2;
      const message = err.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
      if (json) process.stdout.write(`${JSON.stringify({ ok: false, error: { code: 'usage', message } })}\n`);
      else process.stderr.write(`firebreak: ${message} (run with --help for usage)\n`);
      return 2;
    }
    const code = exitCodeOf(err);
    if (json) process.stdout.write(`${jsonSafe(JSON.stringify({ ok: false, error: { code: code === 2 ? 'invalid' : 'failed', message: errorLine(err) } }, null, 2))}\n`);
    else process.stderr.write(`firebreak: ${terminalSafe(errorLine(err))}\n`);
    if (verbose && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    return code;
  } finally {
    await ctx()?.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`firebreak: ${String(err)}\n`);
      process.exit(1);
    },
  );
}
