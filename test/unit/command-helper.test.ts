/**
 * Operator commands run through the command helper (activities/support/command-runner.ts): the
 * command's parent is the helper, not this process; results read as before (exit code, output,
 * timeout, not found); a helper that dies mid-command costs nothing but a re-run here; an idle
 * helper does not keep a worker alive.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { execCommand } from '../../activities/support/command-runner.js';
import { runCommand } from '../../activities/support/command.js';

const OPTS = { timeoutMs: 5_000, lines: 3, chars: 200, stdout: true };
const run$ = promisify(execFile);

describe('the command helper', () => {
  it('starts the command from a process of its own, and reads the outcome as execFile would', async () => {
    const { err, stdout } = await execCommand({ file: '/bin/sh', args: ['-c', 'echo $PPID'], timeoutMs: 5_000, maxBuffer: 1 << 20 });
    expect(err).toBeNull();
    const parent = Number(stdout.trim());
    expect(parent).toBeGreaterThan(1);
    expect(parent).not.toBe(process.pid);
    const { stdout: parentOfParent } = await run$('ps', ['-o', 'ppid=', '-p', String(parent)]);
    expect(Number(parentOfParent.trim())).toBe(process.pid);

    expect(await runCommand(['/bin/sh', '-c', 'exit 0'], OPTS)).toEqual({ ok: true, detail: '' });
    expect(await runCommand(['/bin/sh', '-c', 'echo "emerg: bad directive" >&2; exit 3'], OPTS)).toEqual({ ok: false, detail: 'exit 3: emerg: bad directive' });
    expect(await runCommand(['/no/such/nginx', '-t'], OPTS)).toEqual({ ok: false, detail: 'command not found: /no/such/nginx' });
    expect(await runCommand(['/bin/sleep', '5'], { ...OPTS, timeoutMs: 200, sayTimeout: true })).toEqual({ ok: false, detail: 'timed out after 200 ms' });
  });

  it('a helper killed while a command runs: the command is run again here and its outcome returned', async () => {
    const first = await execCommand({ file: '/bin/sh', args: ['-c', 'echo $PPID'], timeoutMs: 5_000, maxBuffer: 1 << 20 });
    const helper = Number(first.stdout.trim());
    const slow = execCommand({ file: '/bin/sh', args: ['-c', 'sleep 0.3; echo done $PPID'], timeoutMs: 5_000, maxBuffer: 1 << 20 });
    await new Promise((r) => setTimeout(r, 100));
    process.kill(helper, 'SIGKILL');
    const out = await slow;
    expect(out.err).toBeNull();
    expect(out.stdout.trim()).toBe(`done ${process.pid}`);
    // The next command gets a new helper.
    const next = await execCommand({ file: '/bin/sh', args: ['-c', 'echo $PPID'], timeoutMs: 5_000, maxBuffer: 1 << 20 });
    expect(Number(next.stdout.trim())).not.toBe(helper);
    expect(Number(next.stdout.trim())).not.toBe(process.pid);
  });

  it('an idle helper does not keep its process alive', async () => {
    const module = fileURLToPath(new URL('../../activities/support/command.ts', import.meta.url));
    const script = `import(${JSON.stringify(module)}).then(async ({ runCommand }) => console.log(JSON.stringify(await runCommand(['/bin/true'], { timeoutMs: 5000, lines: 1, chars: 10 }))));`;
    const t0 = Date.now();
    const { stdout } = await run$('npx', ['tsx', '--eval', script], { timeout: 20_000 });
    expect(JSON.parse(stdout.trim())).toEqual({ ok: true, detail: '' });
    expect(Date.now() - t0).toBeLessThan(20_000);
  });
});
