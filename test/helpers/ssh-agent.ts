/** A private ssh-agent on a socket in a temp folder, with keys made by ssh-keygen: real OpenSSH, no stand-in. */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestAgent {
  dir: string;
  socket: string;
  /** ssh-keygen a key named `name` (no passphrase); returns its `.pub` line. */
  keygen(name: string, type?: string): string;
  /** ssh-add the key named `name` to the agent. */
  add(name: string): void;
  stop(): void;
}

export async function startAgent(): Promise<TestAgent> {
  const dir = mkdtempSync(join(tmpdir(), 'firebreak-ssh-'));
  const socket = join(dir, 'agent.sock');
  const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
  if (!existsSync(socket)) throw new Error(`ssh-agent did not create ${socket}`);
  return {
    dir,
    socket,
    keygen(name, type = 'ed25519') {
      execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', `${name}@laptop`, '-f', join(dir, name)]);
      return readFileSync(join(dir, `${name}.pub`), 'utf8');
    },
    add(name) {
      execFileSync('ssh-add', ['-q', join(dir, name)], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: 'pipe' });
    },
    stop() {
      if (agent.pid) process.kill(agent.pid, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
