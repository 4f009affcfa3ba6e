/**
 * The activity an edge process (`firebreak edge <name>`) runs on its own host: make the deny
 * file exactly the ban set it is given — rendered whole, written atomically, tested with
 * nginx's own check (the previous file put back when it fails) and reloaded — and answer with
 * the checksum of the file read back from disk. Idempotent: the file converges to the set, it
 * is never appended to; a set older than the one on disk is not written.
 */
import { readFile, unlink } from 'node:fs/promises';
import { writeFileAtomic } from '../../lib/atomic-file.js';
import type { EdgeConfig } from '../../lib/config.js';
import type { Logger } from '../../lib/logger.js';
import type { EdgeApplyInput, EdgeApplyResult } from '../../workflows/edge-definitions.js';
import { runCommand, type CommandOptions } from '../support/command.js';
import { badInput, verificationFailed } from '../support/failures.js';
import { heartbeat } from '../support/context.js';
import { readEdgeDenyFile, renderEdgeDenyFile, setChecksum, unpackNetworks } from './deny-set.js';

const NGINX_COMMAND: CommandOptions = { timeoutMs: 60_000, lines: 5, chars: 800, stdout: true, sayTimeout: true };
/** The workflow's heartbeat timeout for an edge's sync is a few of these (workflows/edges.ts). */
const HEARTBEAT_MS = 3_000;
/** nginx reads it as configuration: readable by its workers, written only by us. */
const DENY_FILE_MODE = 0o644;

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export interface EdgeDeps {
  edge: EdgeConfig;
  logger: Logger;
}

export function createEdgeActivities({ edge, logger }: EdgeDeps) {
  // One sync at a time on this host: two fan-outs never interleave their write, test and reload.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => undefined);
    return next;
  };
  /** The last content this process tested and reloaded: an unchanged file is reloaded once after a start. */
  let reloadedSha: string | undefined;

  async function apply(input: EdgeApplyInput): Promise<EdgeApplyResult> {
    if (input.edge !== edge.name) throw badInput(`edge ${edge.name} was sent the deny set of edge ${input.edge} (task queue ${edge.taskQueue}); nothing was changed`);
    if (input.target !== edge.target) throw badInput(`edge ${edge.name} enforces the bans of target ${edge.target}, not ${input.target}; nothing was changed`);
    if (!/^\d{1,20}$/.test(input.generation)) throw badInput(`edge ${edge.name}: generation ${JSON.stringify(input.generation)} is not a number`);
    let networks: string[];
    try {
      networks = unpackNetworks(input.networks, input.count);
    } catch (err) {
      throw badInput(`edge ${edge.name}: refused the deny set, nothing was changed: ${(err as Error).message}`);
    }
    const content = renderEdgeDenyFile(input.target, networks, input.generation);
    if (setChecksum(networks) !== input.sha256) throw badInput(`edge ${edge.name}: the deny set does not match the checksum it came with (${input.sha256.slice(0, 12)}); nothing was changed`);
    const path = edge.denyFile;
    const previous = await readIfExists(path);
    const current = previous === null ? undefined : readEdgeDenyFile(previous);
    if (current && current.generation > BigInt(input.generation)) {
      return { edge: edge.name, generation: current.generation.toString(), sha256: current.checksum, lines: current.lines, changed: false, reloaded: false, stale: true };
    }
    const changed = previous !== content;
    let reloaded = false;
    if (changed || reloadedSha !== input.sha256) {
      heartbeat('nginx');
      const write = (text: string) => writeFileAtomic(path, text, { mode: DENY_FILE_MODE });
      if (changed) await write(content);
      const test = await runCommand(edge.testCommand, NGINX_COMMAND);
      if (!test.ok) {
        if (changed) await (previous === null ? unlink(path) : write(previous));
        throw verificationFailed(`edge ${edge.name}: nginx configuration test failed (${edge.testCommand.join(' ')}); the previous deny file was put back: ${test.detail}`);
      }
      const reload = await runCommand(edge.reloadCommand, NGINX_COMMAND);
      if (!reload.ok) throw verificationFailed(`edge ${edge.name}: nginx reload failed (${edge.reloadCommand.join(' ')}); the deny file is written and tested: ${reload.detail}`);
      reloadedSha = input.sha256;
      reloaded = true;
    }
    // The answer is what is on disk now, not what was meant to be written.
    const read = readEdgeDenyFile((await readIfExists(path)) ?? '');
    if (read.claimed !== read.lines) throw verificationFailed(`edge ${edge.name}: deny file ${path} has ${read.lines} deny lines, but its header says ${String(read.claimed)}`);
    logger.info({ edge: edge.name, generation: input.generation, lines: read.lines, changed, reloaded }, 'deny file synced');
    return { edge: edge.name, generation: read.generation.toString(), sha256: read.checksum, lines: read.lines, changed, reloaded, stale: false };
  }

  return {
    /** Make this host's deny file the given ban set (whole), test, reload; the checksum read back. */
    edgeApplyDenySet: async (input: EdgeApplyInput): Promise<EdgeApplyResult> => {
      // Beats while it waits its turn and while nginx tests and reloads: an edge killed mid-sync is noticed in seconds.
      const beat = setInterval(() => heartbeat('syncing'), HEARTBEAT_MS);
      try {
        return await serial(() => apply(input));
      } finally {
        clearInterval(beat);
      }
    },
  };
}
