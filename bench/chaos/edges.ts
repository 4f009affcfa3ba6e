/**
 * The chaos stack's edge fleet: each edge host is a real nginx of its own (spare port, its own
 * deny file) and a `firebreak edge <name>` child process polling its own task queue on the
 * private Temporal server, registered in the stack's config (`edges:`), so every ban, unban
 * and expiry fans out to it. The runner SIGKILLs an edge's process and starts it again; its
 * nginx and deny file stay, as on a host whose agent crashed.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startNginx, type Nginx } from '../../test/helpers/nginx.js';
import { spawnFirebreak, type FirebreakProcess } from './processes.js';

export const EDGE_NAMES = ['edge-a', 'edge-b', 'edge-c'] as const;
/** What an edge's deny file holds before its first sync (and after a reset). */
export const EMPTY_DENY_FILE = '# empty until the first ban\n';

export interface ChaosEdge {
  name: string;
  nginx: Nginx;
  /** The edge process now (the last one started; it may be dead). */
  process?: FirebreakProcess;
  alive(): boolean;
  /** Start `firebreak edge <name>` (a new process); resolves when it logged "edge ready". */
  start(): Promise<FirebreakProcess>;
  /** SIGKILL the edge process (its nginx keeps serving the deny file it has). */
  kill(): Promise<void>;
  /** The deny file emptied and nginx reloaded. */
  reset(): void;
}

/** One nginx per edge host (realip, so a banned client can be told apart). */
export async function startEdgeNginxes(count: number): Promise<Nginx[]> {
  const started = await Promise.allSettled(Array.from({ length: count }, () => startNginx({ serverExtra: ['set_real_ip_from 127.0.0.1;', 'real_ip_header X-Real-IP;'] })));
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) {
    await Promise.allSettled(started.flatMap((r) => (r.status === 'fulfilled' ? [r.value.stop()] : [])));
    throw failed.reason;
  }
  return started.map((r) => (r as PromiseFulfilledResult<Nginx>).value);
}

/** The config's `edges:` section: each edge with its nginx's deny file, commands and probe. */
export function edgesYaml(nginxes: readonly Nginx[]): string[] {
  return [
    'edges:',
    ...nginxes.map(
      (n, i) =>
        `  - { name: ${EDGE_NAMES[i]}, denyFile: ${JSON.stringify(n.denyFile)}, testCommand: ${JSON.stringify(n.testCommand)}, reloadCommand: ${JSON.stringify(n.reloadCommand)}, probe: { url: "${n.url}", header: X-Real-IP } }`,
    ),
  ];
}

export function chaosEdges(nginxes: readonly Nginx[], opts: { dir: string; env: NodeJS.ProcessEnv }): ChaosEdge[] {
  return nginxes.map((nginx, i) => {
    const name = EDGE_NAMES[i] as string;
    let n = 0;
    const edge: ChaosEdge = {
      name,
      nginx,
      alive: () => edge.process?.alive() ?? false,
      async start() {
        const p = await spawnFirebreak({ args: ['edge', name], env: opts.env, logFile: join(opts.dir, `${name}-${++n}.log`), ready: 'edge ready' });
        edge.process = p;
        return p;
      },
      async kill() {
        await edge.process?.kill('SIGKILL');
      },
      reset() {
        writeFileSync(nginx.denyFile, EMPTY_DENY_FILE, { mode: 0o644 });
        execFileSync(nginx.reloadCommand[0] as string, nginx.reloadCommand.slice(1), { stdio: 'ignore' });
      },
    };
    return edge;
  });
}
