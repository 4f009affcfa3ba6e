/** Run an operator-configured command (nginx -t, nginx -s reload) and say in one line why it failed. */
import { execCommand } from './command-runner.js';

export interface CommandResult {
  ok: boolean;
  /** Empty on success; else why (not found, timed out, exit code) and the first lines of its output. */
  detail: string;
}

export interface CommandOptions {
  timeoutMs: number;
  /** Output lines kept in `detail` (stderr first). */
  lines: number;
  /** Characters of output kept in `detail`. */
  chars: number;
  /** Also keep stdout (nginx writes some errors there). */
  stdout?: boolean;
  /** Name the timeout in the message. */
  sayTimeout?: boolean;
}

export function runCommand(cmd: readonly string[], opts: CommandOptions): Promise<CommandResult> {
  const [file, ...args] = cmd as [string, ...string[]];
  return execCommand({ file, args, timeoutMs: opts.timeoutMs, maxBuffer: 4 * 1024 * 1024 }).then(({ err, stdout, stderr }) => {
    if (!err) return { ok: true, detail: '' };
    const timedOut = opts.sayTimeout ? `timed out after ${opts.timeoutMs} ms` : 'timed out';
    const why = err.code === 'ENOENT' ? `command not found: ${file}` : err.killed ? timedOut : `exit ${String(err.code ?? err.signal ?? 'error')}`;
    const text = opts.stdout ? `${stderr}\n${stdout}` : stderr;
    const out = text.split('\n').map((l) => l.trim()).filter(Boolean).slice(0, opts.lines).join(' | ');
    return { ok: false, detail: `${why}${out ? `: ${out.slice(0, opts.chars)}` : ''}` };
  });
}
