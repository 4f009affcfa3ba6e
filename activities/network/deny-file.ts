/**
 * The nginx deny file (ngx_http_access_module): rendered from the ban registry,
 * written atomically, tested with nginx's own check (the previous file is put
 * back when the test fails) and reloaded. One writer at a time per host and
 * file, through a lock in the target Redis (deny-lock.ts), renewed while held.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../../lib/atomic-file.js';
import { compareNetworks, formatNetwork, tryParseNetwork, type IpNetwork } from '../../lib/ip.js';
import { runCommand, type CommandOptions } from '../support/command.js';
import { badInput, onTarget, verificationFailed } from '../support/failures.js';
import { heartbeatProgress } from '../support/context.js';
import { RECORD_TTL_SECONDS } from '../support/records.js';
import { withDenyFileLock } from './deny-lock.js';
import { onRedis, type NetworkContext } from './registry.js';

/** nginx -t and reload: slow on a big config, and stdout carries some of its errors. */
const NGINX_COMMAND: CommandOptions = { timeoutMs: 60_000, lines: 5, chars: 800, stdout: true, sayTimeout: true };
/** nginx reads it as configuration: readable by its workers, written only by us. */
const DENY_FILE_MODE = 0o644;

export interface NginxState {
  path: string;
  lines: number;
  sha256: string;
  /** The file content changed. */
  changed: boolean;
  /** The test and reload commands ran (content or the last applied version differed). */
  reloaded: boolean;
}

const onNginx = <T>(fn: () => Promise<T>): Promise<T> => onTarget('nginx deny file', fn);

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * The nginx deny file for a set of banned networks (canonical CIDRs, already
 * sorted): a header comment, then one `deny <network>;` line each. Only ever
 * fed canonical networks, so nothing else can reach nginx's configuration.
 */
export function renderDenyFile(networks: readonly string[], registryKey: string): string {
  const header = [
    '# Firebreak IP bans (nginx ngx_http_access_module). Generated: do not edit.',
    `# Rendered from the ban registry ${registryKey} on every ban, unban and expiry.`,
    `# active bans: ${networks.length}`,
  ];
  return `${[...header, ...networks.map((n) => `deny ${n};`)].join('\n')}\n`;
}

/** The networks of a deny file's `deny …;` lines, and the count its header claims. */
function parseDenyFile(content: string): { networks: Set<string>; lines: number; claimed: number | undefined } {
  const networks = new Set<string>();
  let lines = 0;
  let claimed: number | undefined;
  for (const line of content.split('\n')) {
    if (line.startsWith('deny ') && line.endsWith(';')) {
      networks.add(line.slice(5, -1));
      lines += 1;
    } else if (line.startsWith('# active bans: ')) claimed = Number(line.slice(15));
  }
  return { networks, lines, claimed };
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Before any effect: the deny file's directory is writable and nginx's config passes its test as it is now. */
export async function nginxPreflight(ctx: NetworkContext, action: string): Promise<void> {
  const nginx = ctx.target.nginx;
  if (!nginx) return;
  const dir = dirname(nginx.denyFile);
  try {
    await access(dir, constants.W_OK);
  } catch (err) {
    throw badInput(`${action}: nginx.denyFile ${nginx.denyFile}: directory ${dir} is not writable by the worker (${(err as NodeJS.ErrnoException).code ?? 'error'}); nothing was changed`);
  }
  if ((await onNginx(() => readIfExists(nginx.denyFile))) === null) return;
  const test = await runCommand(nginx.testCommand, NGINX_COMMAND);
  if (!test.ok) throw verificationFailed(`${action}: nginx configuration test fails before any change (${nginx.testCommand.join(' ')}), nothing was changed: ${test.detail}`);
}

/**
 * Render the deny file from the registry (bans ending after `cutoff`), write
 * it atomically, test nginx's configuration (restoring the previous file if
 * the test fails) and reload. Skips all of it when the file already holds
 * exactly this content and this content was the last one reloaded.
 */
export async function syncNginx(ctx: NetworkContext, cutoff: number, action: string, parsed?: ReadonlyMap<string, IpNetwork>): Promise<NginxState | undefined> {
  const nginx = ctx.target.nginx;
  if (!nginx) return undefined;
  const write = (content: string) => writeFileAtomic(nginx.denyFile, content, { mode: DENY_FILE_MODE });
  return withDenyFileLock(ctx, async () => {
    const members = await onRedis(() => ctx.redis.zrangebyscore(ctx.registry, `(${cutoff}`, '+inf'));
    const networks: IpNetwork[] = [];
    let skipped = 0;
    for (const m of members) {
      // Members this call just validated need no second parse; everything else is parsed strictly.
      const known = parsed?.get(m);
      if (known) {
        networks.push(known);
        continue;
      }
      const r = tryParseNetwork(m);
      if ('network' in r) networks.push(r.network);
      else skipped += 1;
    }
    if (skipped) ctx.logger.warn({ registry: ctx.registry, skipped }, 'ban registry holds entries that are not networks; left out of the deny file');
    networks.sort(compareNetworks);
    const content = renderDenyFile(networks.map(formatNetwork), ctx.registry);
    const hash = sha256(content);
    const previous = await onNginx(() => readIfExists(nginx.denyFile));
    const applied = await onRedis(() => ctx.redis.get(ctx.appliedKey));
    const state: NginxState = { path: nginx.denyFile, lines: networks.length, sha256: hash, changed: previous !== content, reloaded: false };
    if (!state.changed && applied === hash) return state;
    heartbeatProgress({ phase: 'nginx', lines: networks.length });
    if (state.changed) await onNginx(() => write(content));
    const test = await runCommand(nginx.testCommand, NGINX_COMMAND);
    if (!test.ok) {
      if (state.changed) {
        await onNginx(() => (previous === null ? unlink(nginx.denyFile) : write(previous)));
      }
      throw verificationFailed(`${action}: nginx configuration test failed (${nginx.testCommand.join(' ')}); the previous deny file was put back: ${test.detail}`);
    }
    const reload = await runCommand(nginx.reloadCommand, NGINX_COMMAND);
    if (!reload.ok) throw verificationFailed(`${action}: nginx reload failed (${nginx.reloadCommand.join(' ')}); the deny file is written and tested: ${reload.detail}`);
    await onRedis(() => ctx.redis.set(ctx.appliedKey, hash, 'EX', RECORD_TTL_SECONDS));
    state.reloaded = true;
    return state;
  });
}

/** The deny file as it is on disk, checked against its own header. */
export async function readDenyFile(ctx: NetworkContext): Promise<ReturnType<typeof parseDenyFile> & { sha256: string }> {
  const path = ctx.target.nginx?.denyFile as string;
  const content = (await onNginx(() => readIfExists(path))) ?? '';
  const parsed = parseDenyFile(content);
  if (parsed.claimed !== parsed.lines) throw verificationFailed(`deny file ${path}: ${parsed.lines} deny lines, but its header says ${String(parsed.claimed)}`);
  return { ...parsed, sha256: sha256(content) };
}

/** The proof of a deny file that was synced: where, how many lines, which content, reloaded or not. */
export function denyFileProof(state: NginxState, file: { lines: number; sha256: string }): Record<string, unknown> {
  return { path: state.path, lines: file.lines, sha256: file.sha256.slice(0, 12), reloaded: state.reloaded };
}

/** The summary's clause about the deny file. */
export function denyFileSummary(state: NginxState | undefined): string {
  return state ? `; nginx deny file ${state.path}: ${state.lines} lines${state.reloaded ? ', reloaded' : ', unchanged'}` : '';
}

export function nginxPlan(ctx: NetworkContext, currentLines: number | undefined, nextLines: number): string[] {
  const nginx = ctx.target.nginx;
  if (!nginx) return [];
  return [
    `deny file ${nginx.denyFile}: ${currentLines === undefined ? 'absent' : `${currentLines} deny lines`} → ${nextLines} deny lines (atomic write), then ${nginx.testCommand.join(' ')} and ${nginx.reloadCommand.join(' ')}`,
  ];
}

export async function currentDenyLines(ctx: NetworkContext): Promise<number | undefined> {
  const path = ctx.target.nginx?.denyFile;
  if (!path) return undefined;
  const content = await onNginx(() => readIfExists(path));
  return content === null ? undefined : parseDenyFile(content).lines;
}
