/** Run an operator-configured command (nginx -t, nginx -s reload) and say in one line why it failed. */
import { execFile } from 'node:child_process';

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
  return new Promise((resolve) => {
    execFile(file, args, { timeout: opts.timeoutMs, maxBuffer: 4 * 1024 * 1024, windowsHide: true }, (err, stdout, stderr) => {
      if (!err) return resolve({ ok: true, detail: '' });
      const e = err as Error & { killed?: boolean; code?: number | string; signal?: string | null };
      const timedOut = opts.sayTimeout ? `timed out after ${opts.timeoutMs} ms` : 'timed out';
      const why = e.code === 'ENOENT' ? `command not found: ${file}` : e.killed ? timedOut : `exit ${String(e.code ?? e.signal ?? 'error')}`;
      const text = opts.stdout ? `${stderr}\n${stdout}` : stderr;
      const out = text.split('\n').map((l) => l.trim()).filter(Boolean).slice(0, opts.lines).join(' | ');
      resolve({ ok: false, detail: `${why}${out ? `: ${out.slice(0, opts.chars)}` : ''}` });
    });
  });
}
