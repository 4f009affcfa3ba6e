/**
 * IP bans (phase II containment). Every banned network is a contract key the
 * app's middleware reads, `djangoKey(fb:ban:<canonical CIDR>)` = unix seconds
 * when the ban ends, expiring at that moment; Firebreak's own sorted set (the
 * ban registry, score = end) lists every ban, and the nginx deny file is
 * rendered from it, tested and reloaded. Expired bans leave the registry and
 * the deny file when the ban's durable timer runs `network.expire_bans`.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { asyncLocalStorage } from '@temporalio/activity';
import type { TargetConfig } from '../lib/config.js';
import { addressFileArg, banTtl, fileEntries, inlineEntries, MAX_INLINE_BAN, parseEntries, showValue, type AddressEntry, type ParsedNetworks } from '../lib/args/network.js';
import { compareNetworks, formatNetwork, tryParseNetwork, type IpNetwork } from '../lib/ip.js';
import { BAN_REGISTRY, contractKeys, djangoKey, ownKey, type KeySpace } from '../lib/redis-keys.js';
import type { ActionInput, ActionResult } from '../workflows/definitions.js';
import { assertModeAllowed, type ActivityDeps } from './deps.js';
import { badInput, onTarget, verificationFailed } from './support/failures.js';

/** Undo records outlive the longest ban. */
const UNDO_TTL_SECONDS = 30 * 24 * 3600;
/** An undo carries at most this many addresses inline; more go through the undo record (Temporal's 2 MB payload limit). */
const MAX_INLINE_UNDO = 20_000;
const MAX_FILE_BYTES = 64 * 1024 * 1024;
const MAX_FILE_ENTRIES = 1_000_000;
/** Networks per Redis script call: each call blocks Redis for about a millisecond. */
const CHUNK = 1_000;
/** Script calls in flight at once. */
const WINDOW = 4;
/** Read-back of big bans: first and last chunk in full, plus this many random keys. */
const VERIFY_RANDOM = 500;
const MAX_REASON = 500;
const PROBLEMS_SHOWN = 5;
const COMMAND_TIMEOUT_MS = 60_000;
const LOCK_TTL_MS = 60_000;
const LOCK_WAIT_MS = 90_000;

// Sets the ban keys of one chunk, never shortening a longer ban, adds them to
// the registry (ZADD GT keeps the later end) and records which networks this
// step banned first, in the same atomic call: a retry after a crash finds its
// own earlier bans in the record and still counts them as new, so the undo
// never lifts a ban that existed before the step, and always lifts its own.
// Batched (MGET, SMISMEMBER, SADD, ZADD) so only the SETs are per network.
// KEYS: registry, undo record, ban keys…; ARGV: end (unix s), record TTL, networks…
const BAN_SCRIPT = `
local at = ARGV[1]
local expires = tonumber(at)
local n = #KEYS - 2
local current = redis.call('MGET', unpack(KEYS, 3, #KEYS))
local existing, where, ours = {}, {}, {}
for i = 1, n do
  if tonumber(current[i]) then
    existing[#existing + 1] = ARGV[i + 2]
    where[#where + 1] = i
  end
end
if #existing > 0 then
  local member = redis.call('SMISMEMBER', KEYS[2], unpack(existing))
  for j = 1, #where do
    if member[j] == 1 then ours[where[j]] = true end
  end
end
local created, kept, extended = 0, 0, 0
local fresh, zargs = {}, {}
for i = 1, n do
  local net, cur = ARGV[i + 2], tonumber(current[i])
  if not cur then
    fresh[#fresh + 1] = net
    created = created + 1
    redis.call('SET', KEYS[i + 2], at, 'EXAT', at)
  elseif ours[i] then
    created = created + 1
    if cur < expires then redis.call('SET', KEYS[i + 2], at, 'EXAT', at) end
  elseif cur >= expires then
    kept = kept + 1
  else
    extended = extended + 1
    redis.call('SET', KEYS[i + 2], at, 'EXAT', at)
  end
  zargs[#zargs + 1] = at
  zargs[#zargs + 1] = net
end
if #fresh > 0 then
  redis.call('SADD', KEYS[2], unpack(fresh))
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[2]))
end
redis.call('ZADD', KEYS[1], 'GT', unpack(zargs))
return { created, kept, extended }
`;

const UNLOCK_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

interface NginxState {
  path: string;
  lines: number;
  sha256: string;
  /** The file content changed. */
  changed: boolean;
  /** The test and reload commands ran (content or the last applied version differed). */
  reloaded: boolean;
}

function heartbeat(details: unknown): void {
  // Outside a worker (tests, the bench) there is no activity context to report to.
  asyncLocalStorage.getStore()?.heartbeat(details);
}

function show(text: string): string {
  return JSON.stringify(text.length > 48 ? `${text.slice(0, 48)}…` : text);
}

function refuse(action: string, problems: string[]): ReturnType<typeof badInput> {
  const shown = problems.slice(0, PROBLEMS_SHOWN).join('; ');
  const more = problems.length > PROBLEMS_SHOWN ? `; and ${problems.length - PROBLEMS_SHOWN} more` : '';
  const what = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  return badInput(`${action} refused, nothing was changed: ${what}: ${shown}${more}`, { problems: problems.slice(0, 100), count: problems.length });
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function requestedSeconds(input: ActionInput): number {
  const ms = Date.parse(input.requestedAt);
  if (!Number.isFinite(ms)) throw badInput(`${input.action}: requestedAt ${show(String(input.requestedAt))} is not an ISO time`);
  return Math.floor(ms / 1000);
}

/** Inline entries and/or the lines of `addresses_file` on this worker. */
async function collectEntries(args: Record<string, unknown>, maxInline: number, problems: string[]): Promise<AddressEntry[]> {
  const entries = inlineEntries(args, maxInline, problems);
  const file = addressFileArg(args, problems);
  if (file === undefined) return entries;
  const text = await readAddressFile(file, problems);
  return text === undefined ? entries : [...entries, ...fileEntries(file, text, MAX_FILE_ENTRIES, problems)];
}

async function readAddressFile(file: string, problems: string[]): Promise<string | undefined> {
  try {
    const st = await stat(file);
    if (!st.isFile()) {
      problems.push(`addresses_file ${file} is not a regular file`);
      return undefined;
    }
    if (st.size > MAX_FILE_BYTES) {
      problems.push(`addresses_file ${file} is ${st.size} bytes, at most ${MAX_FILE_BYTES}`);
      return undefined;
    }
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    problems.push(code === 'ENOENT' ? `addresses_file ${file} does not exist on this worker` : `addresses_file ${file} cannot be read (${code})`);
    return undefined;
  }
}

/**
 * Every argument of a ban checked with this worker's target config and files:
 * the one validator of network.ban_ips (the ban itself and the incident's
 * up-front validation both call it).
 */
export async function checkBanInput(target: TargetConfig, targetName: string, args: Record<string, unknown>): Promise<{ problems: string[]; ttl: number; parsed: ParsedNetworks }> {
  const problems: string[] = [];
  const ttl = banTtl(args, target.network.banTtlSeconds, problems);
  if (args.reason !== undefined && typeof args.reason !== 'string') problems.push('reason must be a string');
  const entries = await collectEntries(args, MAX_INLINE_BAN, problems);
  const parsed = parseEntries(entries, problems, { policy: { targetName, ...target.network } });
  if (!problems.length && !parsed.canonical.length) problems.push('no addresses to ban (give addresses or addresses_file)');
  return { problems, ttl, parsed };
}

function sortNetworks(canonical: Iterable<string>): string[] {
  const nets: IpNetwork[] = [];
  for (const c of canonical) {
    const r = tryParseNetwork(c);
    if ('network' in r) nets.push(r.network);
  }
  return nets.sort(compareNetworks).map(formatNetwork);
}

function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Indices to read back: everything for small bans; first and last chunk plus a random sample for big ones. */
function sampleIndices(n: number): { indices: number[]; all: boolean } {
  if (n <= 2 * CHUNK + VERIFY_RANDOM) return { indices: Array.from({ length: n }, (_, i) => i), all: true };
  const picked = new Set<number>();
  for (let i = 0; i < CHUNK; i += 1) {
    picked.add(i);
    picked.add(n - 1 - i);
  }
  while (picked.size < 2 * CHUNK + VERIFY_RANDOM) picked.add(Math.floor(Math.random() * n));
  return { indices: [...picked].sort((a, b) => a - b), all: false };
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

interface CommandResult {
  ok: boolean;
  detail: string;
}

function runCommand(cmd: readonly string[]): Promise<CommandResult> {
  const [file, ...args] = cmd as [string, ...string[]];
  return new Promise((resolve) => {
    execFile(file, args, { timeout: COMMAND_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024, windowsHide: true }, (err, stdout, stderr) => {
      if (!err) return resolve({ ok: true, detail: '' });
      const e = err as Error & { killed?: boolean; code?: number | string; signal?: string | null };
      const why = e.code === 'ENOENT' ? `command not found: ${file}` : e.killed ? `timed out after ${COMMAND_TIMEOUT_MS} ms` : `exit ${String(e.code ?? e.signal ?? 'error')}`;
      const out = `${stderr}\n${stdout}`.split('\n').map((l) => l.trim()).filter(Boolean).slice(0, 5).join(' | ');
      resolve({ ok: false, detail: `${why}${out ? `: ${out.slice(0, 800)}` : ''}` });
    });
  });
}

/** Write-then-rename in the same directory, fsynced, so nginx never reads a half-written file. */
async function writeAtomic(path: string, content: string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', 0o644);
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export function createNetworkActivities(deps: ActivityDeps) {
  const { clients, logger } = deps;
  const run = <T>(fn: () => Promise<T>): Promise<T> => onTarget('redis', fn);
  const onNginx = <T>(fn: () => Promise<T>): Promise<T> => onTarget('nginx deny file', fn);

  function context(input: ActionInput) {
    const target = clients.target(input.target);
    assertModeAllowed(target, input.target, input.mode);
    const space: KeySpace = target.redis;
    // Lock and "applied" marker per host and file: the deny file lives on the worker's machine.
    const fileId = target.nginx ? sha256(`${hostname()}\0${target.nginx.denyFile}`).slice(0, 16) : '';
    return {
      target,
      space,
      redis: clients.redis(input.target),
      registry: ownKey(space, BAN_REGISTRY),
      banKey: (net: string) => djangoKey(space, contractKeys.ban(net)),
      record: (incidentId: string, stepId: string) => ownKey(space, 'undo', incidentId, stepId),
      lockKey: ownKey(space, 'nginx', 'lock', fileId),
      appliedKey: ownKey(space, 'nginx', 'applied', fileId),
    };
  }
  type Ctx = ReturnType<typeof context>;

  /** Before any effect: the deny file's directory is writable and nginx's config passes its test as it is now. */
  async function nginxPreflight(ctx: Ctx, action: string): Promise<void> {
    const nginx = ctx.target.nginx;
    if (!nginx) return;
    const dir = dirname(nginx.denyFile);
    try {
      await access(dir, constants.W_OK);
    } catch (err) {
      throw badInput(`${action}: nginx.denyFile ${nginx.denyFile}: directory ${dir} is not writable by the worker (${(err as NodeJS.ErrnoException).code ?? 'error'}); nothing was changed`);
    }
    if ((await onNginx(() => readIfExists(nginx.denyFile))) === null) return;
    const test = await runCommand(nginx.testCommand);
    if (!test.ok) throw verificationFailed(`${action}: nginx configuration test fails before any change (${nginx.testCommand.join(' ')}), nothing was changed: ${test.detail}`);
  }

  async function withLock<T>(ctx: Ctx, fn: () => Promise<T>): Promise<T> {
    const token = randomBytes(12).toString('hex');
    const deadline = Date.now() + LOCK_WAIT_MS;
    while ((await run(() => ctx.redis.set(ctx.lockKey, token, 'PX', LOCK_TTL_MS, 'NX'))) !== 'OK') {
      if (Date.now() > deadline) throw verificationFailed(`nginx deny file is locked by another worker (${ctx.lockKey}) for more than ${LOCK_WAIT_MS / 1000} s`);
      heartbeat({ phase: 'waiting for the deny file lock' });
      await new Promise((r) => setTimeout(r, 25));
    }
    try {
      return await fn();
    } finally {
      await run(() => ctx.redis.eval(UNLOCK_SCRIPT, 1, ctx.lockKey, token)).catch(() => undefined);
    }
  }

  /**
   * Render the deny file from the registry (bans ending after `cutoff`), write
   * it atomically, test nginx's configuration (restoring the previous file if
   * the test fails) and reload. Skips all of it when the file already holds
   * exactly this content and this content was the last one reloaded.
   */
  async function syncNginx(ctx: Ctx, cutoff: number, action: string, parsed?: ReadonlyMap<string, IpNetwork>): Promise<NginxState | undefined> {
    const nginx = ctx.target.nginx;
    if (!nginx) return undefined;
    return withLock(ctx, async () => {
      const members = await run(() => ctx.redis.zrangebyscore(ctx.registry, `(${cutoff}`, '+inf'));
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
      if (skipped) logger.warn({ registry: ctx.registry, skipped }, 'ban registry holds entries that are not networks; left out of the deny file');
      networks.sort(compareNetworks);
      const content = renderDenyFile(networks.map(formatNetwork), ctx.registry);
      const hash = sha256(content);
      const previous = await onNginx(() => readIfExists(nginx.denyFile));
      const applied = await run(() => ctx.redis.get(ctx.appliedKey));
      const state: NginxState = { path: nginx.denyFile, lines: networks.length, sha256: hash, changed: previous !== content, reloaded: false };
      if (!state.changed && applied === hash) return state;
      heartbeat({ phase: 'nginx', lines: networks.length });
      if (state.changed) await onNginx(() => writeAtomic(nginx.denyFile, content));
      const test = await runCommand(nginx.testCommand);
      if (!test.ok) {
        if (state.changed) {
          await onNginx(() => (previous === null ? unlink(nginx.denyFile) : writeAtomic(nginx.denyFile, previous)));
        }
        throw verificationFailed(`${action}: nginx configuration test failed (${nginx.testCommand.join(' ')}); the previous deny file was put back: ${test.detail}`);
      }
      const reload = await runCommand(nginx.reloadCommand);
      if (!reload.ok) throw verificationFailed(`${action}: nginx reload failed (${nginx.reloadCommand.join(' ')}); the deny file is written and tested: ${reload.detail}`);
      await run(() => ctx.redis.set(ctx.appliedKey, hash, 'EX', UNDO_TTL_SECONDS));
      state.reloaded = true;
      return state;
    });
  }

  async function readDenyFile(ctx: Ctx): Promise<ReturnType<typeof parseDenyFile> & { sha256: string }> {
    const path = ctx.target.nginx?.denyFile as string;
    const content = (await onNginx(() => readIfExists(path))) ?? '';
    const parsed = parseDenyFile(content);
    if (parsed.claimed !== parsed.lines) throw verificationFailed(`deny file ${path}: ${parsed.lines} deny lines, but its header says ${String(parsed.claimed)}`);
    return { ...parsed, sha256: sha256(content) };
  }

  async function existingEnds(ctx: Ctx, canonical: string[]): Promise<Array<number | null>> {
    const out: Array<number | null> = [];
    for (const part of chunks(canonical, 5_000)) {
      const values = await run(() => ctx.redis.mget(...part.map(ctx.banKey)));
      for (const v of values) out.push(v === null || !/^-?\d+$/.test(v) ? null : Number(v));
    }
    return out;
  }

  function nginxPlan(ctx: Ctx, currentLines: number | undefined, nextLines: number): string[] {
    const nginx = ctx.target.nginx;
    if (!nginx) return [];
    return [
      `deny file ${nginx.denyFile}: ${currentLines === undefined ? 'absent' : `${currentLines} deny lines`} → ${nextLines} deny lines (atomic write), then ${nginx.testCommand.join(' ')} and ${nginx.reloadCommand.join(' ')}`,
    ];
  }

  async function currentDenyLines(ctx: Ctx): Promise<number | undefined> {
    const path = ctx.target.nginx?.denyFile;
    if (!path) return undefined;
    const content = await onNginx(() => readIfExists(path));
    return content === null ? undefined : parseDenyFile(content).lines;
  }

  return {
    /** Ban addresses and CIDRs until `requestedAt + ttl_seconds`: Redis keys for the app, the registry, the nginx deny file. */
    async networkBanIps(input: ActionInput): Promise<ActionResult> {
      const action = 'network.ban_ips';
      const started = performance.now();
      const ctx = context(input);
      const args = input.args;
      const { problems, ttl, parsed } = await checkBanInput(ctx.target, input.target, args);
      if (problems.length) throw refuse(action, problems);
      const { canonical, byCanonical } = parsed;
      const reason = typeof args.reason === 'string' ? args.reason.slice(0, MAX_REASON) : '';

      const expiresAt = requestedSeconds(input) + ttl;
      const expiresIso = new Date(expiresAt * 1000).toISOString();
      const now = Math.floor(Date.now() / 1000);
      const n = canonical.length;
      const noun = n === 1 ? 'network' : 'networks';

      if (input.mode === 'dry-run') {
        const ends = await existingEnds(ctx, canonical);
        const fresh = ends.filter((e) => e === null).length;
        const longer = ends.filter((e) => e !== null && e >= expiresAt).length;
        const active = await run(() => ctx.redis.zcount(ctx.registry, `(${now}`, '+inf'));
        const inRegistry = await run(async () => {
          let count = 0;
          for (const part of chunks(canonical, 5_000)) {
            const scores = await ctx.redis.zmscore(ctx.registry, ...part);
            count += scores.filter((s) => s !== null && Number(s) > now).length;
          }
          return count;
        });
        const sample = canonical.slice(0, 5).map((c) => `SET ${ctx.banKey(c)} ${expiresAt} EXAT ${expiresAt} (keeps a later end) and ZADD ${ctx.registry} GT ${expiresAt} ${c}`);
        return {
          summary: `would ban ${n} ${noun} until ${expiresIso} (${fresh} new, ${n - fresh} already banned, ${longer} of them until later)`,
          changed: false,
          plan: [
            `would ban ${n} ${noun} for ${ttl} s, until ${expiresIso}: ${fresh} new, ${n - fresh} already banned (${longer} until later, kept)`,
            ...sample,
            ...(n > sample.length ? [`… and ${n - sample.length} more`] : []),
            ...nginxPlan(ctx, await currentDenyLines(ctx), active + n - inRegistry),
          ],
          output: { planned: n, expiresAt: expiresIso },
        };
      }

      if (expiresAt <= now) {
        // A retry long after the step started: the ban window is already over.
        return {
          summary: `ban window already over (it ended ${expiresIso}); nothing banned`,
          changed: false,
          output: { banned: 0, expiresAt: expiresIso },
        };
      }

      const validatedAt = performance.now();
      await nginxPreflight(ctx, action);
      const record = ctx.record(input.incidentId, input.stepId);
      await run(() =>
        ctx.redis.set(
          `${record}:meta`,
          JSON.stringify({ at: new Date().toISOString(), requestedAt: input.requestedAt, reason, expiresAt: expiresIso, networks: n }),
          'EX',
          UNDO_TTL_SECONDS,
          'NX',
        ),
      );
      let created = 0;
      let kept = 0;
      let extended = 0;
      const parts = chunks(canonical);
      for (let w = 0; w < parts.length; w += WINDOW) {
        const results = await run(() =>
          Promise.all(
            parts.slice(w, w + WINDOW).map(
              (part) =>
                ctx.redis.eval(BAN_SCRIPT, 2 + part.length, ctx.registry, record, ...part.map(ctx.banKey), String(expiresAt), String(UNDO_TTL_SECONDS), ...part) as Promise<
                  [number, number, number]
                >,
            ),
          ),
        );
        for (const [c, k, e] of results) {
          created += c;
          kept += k;
          extended += e;
        }
        heartbeat({ phase: 'redis', done: Math.min(n, (w + WINDOW) * CHUNK), total: n });
      }

      const redisDoneAt = performance.now();
      const nginx = await syncNginx(ctx, now, action, byCanonical);
      const nginxDoneAt = performance.now();

      // ---- proof -------------------------------------------------------------
      const { indices, all } = sampleIndices(n);
      const sampled = indices.map((i) => canonical[i] as string);
      const bad: string[] = [];
      let example: { key: string; value: string | null; ttl: number } | undefined;
      for (const part of chunks(sampled)) {
        const pipe = ctx.redis.pipeline();
        for (const c of part) pipe.get(ctx.banKey(c)).ttl(ctx.banKey(c));
        pipe.zmscore(ctx.registry, ...part);
        const res = (await run(() => pipe.exec())) ?? [];
        part.forEach((c, i) => {
          const value = res[2 * i]?.[1] as string | null;
          const ttlLeft = res[2 * i + 1]?.[1] as number;
          const score = (res[2 * part.length]?.[1] as Array<string | null> | undefined)?.[i];
          example ??= { key: ctx.banKey(c), value, ttl: ttlLeft };
          if (value === null || !(Number(value) >= expiresAt) || !(ttlLeft > 0)) bad.push(`${ctx.banKey(c)} = ${value ?? 'nil'} (ttl ${ttlLeft})`);
          else if (score === null || score === undefined || !(Number(score) >= expiresAt)) bad.push(`registry ${c} score ${score ?? 'nil'}`);
        });
      }
      if (bad.length) throw verificationFailed(`${action}: read back ${bad.length} of ${sampled.length} checked bans wrong, e.g. ${bad.slice(0, 3).join('; ')}`);
      let denyProof: Record<string, unknown> | undefined;
      if (nginx) {
        const file = await readDenyFile(ctx);
        const missing = canonical.filter((c) => !file.networks.has(c));
        if (missing.length) throw verificationFailed(`${action}: deny file ${nginx.path} lacks ${missing.length} banned networks, e.g. ${missing.slice(0, 3).join(', ')}`);
        denyProof = { path: nginx.path, lines: file.lines, sha256: file.sha256.slice(0, 12), reloaded: nginx.reloaded };
      }

      // ---- undo ----------------------------------------------------------------
      const newCount = await run(() => ctx.redis.scard(record));
      let undo: ActionResult['undo'];
      if (newCount > MAX_INLINE_UNDO) {
        undo = { action: 'network.unban_ips', args: { addresses: [], from_record: `${input.incidentId}/${input.stepId}` } };
      } else if (newCount > 0) {
        undo = { action: 'network.unban_ips', args: { addresses: sortNetworks(await run(() => ctx.redis.smembers(record))) } };
      }

      const already = kept + extended;
      logger.info({ incidentId: input.incidentId, step: input.stepId, networks: n, created, kept, extended, expiresAt: expiresIso }, 'networks banned');
      return {
        summary:
          `banned ${n} ${noun} until ${expiresIso} (${created} new, ${already} already banned${kept ? `, ${kept} until later` : ''})` +
          (nginx ? `; nginx deny file ${nginx.path}: ${nginx.lines} lines${nginx.reloaded ? ', reloaded' : ', unchanged'}` : ''),
        changed: created + extended > 0 || Boolean(nginx?.changed),
        proof: {
          keys: { checked: sampled.length, of: n, all, example },
          registry: ctx.registry,
          ...(denyProof ? { denyFile: denyProof } : {}),
          timingsMs: {
            validate: Math.round(validatedAt - started),
            redis: Math.round(redisDoneAt - validatedAt),
            nginx: Math.round(nginxDoneAt - redisDoneAt),
            verify: Math.round(performance.now() - nginxDoneAt),
          },
        },
        output: { banned: n, newlyBanned: newCount, expiresAt: expiresIso, ...(nginx ? { denyFile: nginx.path } : {}) },
        undo,
      };
    },

    /** Lift bans: delete the keys, drop them from the registry, re-render the deny file. Idempotent. */
    async networkUnbanIps(input: ActionInput): Promise<ActionResult> {
      const action = 'network.unban_ips';
      const ctx = context(input);
      const problems: string[] = [];
      const entries = await collectEntries({ addresses: input.args.addresses ?? [] }, MAX_INLINE_UNDO, problems);
      const fromRecord = input.args.from_record;
      let recordKey: string | undefined;
      if (fromRecord !== undefined) {
        const m = typeof fromRecord === 'string' ? /^([A-Za-z0-9._-]{1,120})\/([a-z][a-z0-9_-]{0,119})$/.exec(fromRecord) : null;
        if (!m) problems.push(`from_record must be "<incident>/<step>", got ${showValue(fromRecord)}`);
        else recordKey = ctx.record(m[1] as string, m[2] as string);
      }
      // Lifting is never dangerous: no minimum prefix or never-ban check, so a ban made under older settings can always be lifted.
      const listed = parseEntries(entries, problems);
      if (!problems.length && !listed.canonical.length && !recordKey) problems.push('no addresses to unban');
      if (problems.length) throw refuse(action, problems);
      const all = new Set(listed.canonical);
      if (recordKey) {
        const key = recordKey;
        for (const m of await run(() => ctx.redis.smembers(key))) {
          const r = tryParseNetwork(m);
          if ('network' in r) all.add(formatNetwork(r.network));
        }
      }
      const canonical = sortNetworks(all);
      const n = canonical.length;
      const noun = n === 1 ? 'network' : 'networks';
      if (input.mode === 'dry-run') {
        const ends = await existingEnds(ctx, canonical);
        const banned = ends.filter((e) => e !== null).length;
        const now = Math.floor(Date.now() / 1000);
        const active = await run(() => ctx.redis.zcount(ctx.registry, `(${now}`, '+inf'));
        return {
          summary: `would lift ${n} ${noun} (${banned} banned now)`,
          changed: false,
          plan: [
            `would DEL ${n} ban keys and ZREM them from ${ctx.registry} (${banned} banned now)`,
            ...canonical.slice(0, 5).map((c) => `DEL ${ctx.banKey(c)}`),
            ...(n > 5 ? [`… and ${n - 5} more`] : []),
            ...nginxPlan(ctx, await currentDenyLines(ctx), Math.max(0, active - banned)),
          ],
          output: { planned: n },
        };
      }
      if (n) await nginxPreflight(ctx, action);
      let removed = 0;
      const parts = chunks(canonical);
      for (let w = 0; w < parts.length; w += WINDOW) {
        const window = parts.slice(w, w + WINDOW);
        const deleted = await run(() => Promise.all(window.map((part) => ctx.redis.unlink(...part.map(ctx.banKey)))));
        await run(() => Promise.all(window.map((part) => ctx.redis.zrem(ctx.registry, ...part))));
        for (const d of deleted) removed += d;
        heartbeat({ phase: 'redis', done: Math.min(n, (w + WINDOW) * CHUNK), total: n });
      }
      const now = Math.floor(Date.now() / 1000);
      const nginx = await syncNginx(ctx, now, action);

      // Every lifted key is checked: EXISTS of a whole chunk is one command.
      const left: string[] = [];
      for (const part of chunks(canonical)) {
        const [exists, scores] = await run(() => Promise.all([ctx.redis.exists(...part.map(ctx.banKey)), ctx.redis.zmscore(ctx.registry, ...part)]));
        if (exists > 0) {
          const each = await run(() => Promise.all(part.map((c) => ctx.redis.exists(ctx.banKey(c)))));
          part.forEach((c, i) => {
            if (each[i]) left.push(`${ctx.banKey(c)} still exists`);
          });
        }
        part.forEach((c, i) => {
          if (scores[i] !== null && scores[i] !== undefined) left.push(`${c} still in the registry`);
        });
      }
      if (left.length) throw verificationFailed(`${action}: ${left.length} bans still in force after lifting, e.g. ${left.slice(0, 3).join('; ')}`);
      let denyProof: Record<string, unknown> | undefined;
      if (nginx) {
        const file = await readDenyFile(ctx);
        const still = canonical.filter((c) => file.networks.has(c));
        if (still.length) throw verificationFailed(`${action}: deny file ${nginx.path} still denies ${still.length} lifted networks, e.g. ${still.slice(0, 3).join(', ')}`);
        denyProof = { path: nginx.path, lines: file.lines, sha256: file.sha256.slice(0, 12), reloaded: nginx.reloaded };
      }
      logger.info({ incidentId: input.incidentId, step: input.stepId, networks: n, removed }, 'bans lifted');
      return {
        summary:
          `lifted ${removed} of ${n} ${noun}${removed < n ? ` (${n - removed} were not banned)` : ''}` +
          (nginx ? `; nginx deny file ${nginx.path}: ${nginx.lines} lines${nginx.reloaded ? ', reloaded' : ', unchanged'}` : ''),
        changed: removed > 0 || Boolean(nginx?.changed),
        proof: { keysGone: n, registry: ctx.registry, ...(denyProof ? { denyFile: denyProof } : {}) },
        output: { unbanned: removed, requested: n, ...(nginx ? { denyFile: nginx.path } : {}) },
      };
    },

    /**
     * Drop bans that have ended from the registry and the deny file (the ban
     * keys expire by themselves). Ended means by the later of now and the
     * moment the timer fired (`requestedAt`). Idempotent.
     */
    async networkExpireBans(input: ActionInput): Promise<ActionResult> {
      const action = 'network.expire_bans';
      const ctx = context(input);
      const cutoff = Math.max(Math.floor(Date.now() / 1000), requestedSeconds(input));
      const cutoffIso = new Date(cutoff * 1000).toISOString();
      if (input.mode === 'dry-run') {
        const ended = await run(() => ctx.redis.zcount(ctx.registry, '-inf', cutoff));
        const active = await run(() => ctx.redis.zcount(ctx.registry, `(${cutoff}`, '+inf'));
        return {
          summary: `would drop ${ended} ended bans (${active} stay)`,
          changed: false,
          plan: [`ZREMRANGEBYSCORE ${ctx.registry} -inf ${cutoff} (${ended} entries)`, ...nginxPlan(ctx, await currentDenyLines(ctx), active)],
          output: { planned: ended },
        };
      }
      const removed = await run(() => ctx.redis.zremrangebyscore(ctx.registry, '-inf', cutoff));
      const nginx = await syncNginx(ctx, cutoff, action);
      const left = await run(() => ctx.redis.zcount(ctx.registry, '-inf', cutoff));
      if (left) throw verificationFailed(`${action}: ${left} ended bans still in ${ctx.registry}`);
      let denyProof: Record<string, unknown> | undefined;
      if (nginx) {
        const file = await readDenyFile(ctx);
        const listed = [...file.networks];
        const stale: string[] = [];
        for (const part of chunks(listed, 5_000)) {
          const scores = await run(() => ctx.redis.zmscore(ctx.registry, ...part));
          part.forEach((c, i) => {
            const s = scores[i];
            if (s === null || s === undefined || Number(s) <= cutoff) stale.push(c);
          });
        }
        if (stale.length) throw verificationFailed(`${action}: deny file ${nginx.path} still denies ${stale.length} networks whose ban ended, e.g. ${stale.slice(0, 3).join(', ')}`);
        denyProof = { path: nginx.path, lines: file.lines, sha256: file.sha256.slice(0, 12), reloaded: nginx.reloaded };
      }
      const active = await run(() => ctx.redis.zcard(ctx.registry));
      logger.info({ incidentId: input.incidentId, step: input.stepId, removed, active }, 'ended bans dropped');
      return {
        summary:
          `dropped ${removed} ended ${removed === 1 ? 'ban' : 'bans'} (as of ${cutoffIso}); ${active} active` +
          (nginx ? `; nginx deny file ${nginx.path}: ${nginx.lines} lines${nginx.reloaded ? ', reloaded' : ', unchanged'}` : ''),
        changed: removed > 0 || Boolean(nginx?.changed),
        proof: { registry: ctx.registry, endedLeft: 0, active, ...(denyProof ? { denyFile: denyProof } : {}) },
        output: { removed, active, ...(nginx ? { denyFile: nginx.path } : {}) },
      };
    },
  };
}
