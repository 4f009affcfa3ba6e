/** One new process, timed from spawn to exit, and the floor every CLI benchmark compares with. */
import { spawn } from 'node:child_process';

export interface Timed {
  ms: number;
  stdout: string;
}

/** Spawn, wait for exit, time it; a non-zero exit is an error with its stderr. */
export function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<Timed> {
  return new Promise((resolveRun, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      if (code === 0) resolveRun({ ms, stdout });
      else reject(new Error(`${[cmd, ...args].join(' ')} exited ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}

/** The floor program: node + @temporalio/client + one query, nothing else. */
/** The least a CLI command that talks to Temporal costs: node + @temporalio/client, connect, one status query. */
export const FLOOR_SOURCE = `
import { Client, Connection } from '@temporalio/client';
const [address, namespace, workflowId, query] = process.argv.slice(1);
const connection = await Connection.connect({ address });
const status = await new Client({ connection, namespace }).workflow.getHandle(workflowId).query(query);
await connection.close();
if (!status || typeof status.id !== 'string') process.exit(3);
`;
