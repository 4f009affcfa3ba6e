/**
 * `npm run bench [-- NAME ...] [--runs N]`: runs the benchmarks of bench/ against
 * ONE throwaway Temporal dev server and in-process worker, on a bench target
 * whose Redis keys live under a unique prefix. Writes (merges) bench/results.json
 * and prints a table. Leaves nothing behind, also when a run fails.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { Redis } from 'ioredis';
import { loadConfig, type Config, type WorkerTuning } from '../lib/config.js';
import { workerTuning } from '../lib/config-worker.js';
import { createKeyPair, publicLine, type KeyPair } from '../lib/identity/keys.js';
import { keyPairSigner } from '../lib/identity/signer.js';
import { startDevServer, type DevServer } from '../lib/dev-server.js';
import { connectClient } from '../lib/incidents/index.js';
import { createLogger } from '../lib/logger.js';
import { createWorker, type FirebreakWorker } from '../worker/create.js';
import { BENCHMARKS } from './benchmarks.js';
import { formatTable, machineLine, summarize } from './stats.js';
import type { BenchContext, Benchmark, ResultEntry } from './types.js';

const DEFAULT_RUNS = 30;
const WARMUP_RUNS = 2;
const REDIS_URL = 'redis://127.0.0.1:6379/0';
const TARGET = 'local';
const USERS = { declarer: 'bench-declarer', responders: ['bench-responder-1', 'bench-responder-2'] };
const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const RESULTS_FILE = join(BENCH_DIR, 'results.json');

class UsageError extends Error {}

const err = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

function usage(): string {
  const width = Math.max(...BENCHMARKS.map((b) => b.name.length));
  return [
    'usage: npm run bench [-- [NAME ...] [--runs N] [--sizes L] [--worker-tuning JSON]]',
    '',
    'Runs the named benchmarks (all when none is named) against a throwaway Temporal',
    'dev server and worker, then writes bench/results.json (entries of other',
    'benchmarks are kept) and prints a table. Needs Redis on 127.0.0.1:6379; it only',
    'touches keys under a random fbbench-… prefix and deletes them at the end.',
    '',
    'options:',
    `  --runs N    recorded runs per benchmark (default: the benchmark's own, else ${DEFAULT_RUNS}; ${WARMUP_RUNS} warm-up runs come first)`,
    "  --worker-tuning '{…}'  temporal.worker settings (JSON) for the bench workers, e.g. '{\"maxConcurrentActivityTaskExecutions\":200}'",
    '  --sizes L   comma-separated sizes for the scaling benchmarks, e.g. --sizes 1,10 (incident-storm: concurrent incidents; default its own)',
    '  -h, --help  this text',
    '',
    'benchmarks:',
    ...BENCHMARKS.map((b) => `  ${b.name.padEnd(width)}  ${b.description}`),
  ].join('\n');
}

interface Options {
  selected: Benchmark[];
  /** Recorded runs for every benchmark; undefined = each benchmark's own default. */
  runs: number | undefined;
  /** `--sizes`: for the scaling benchmarks (incident-storm). */
  sizes: number[] | undefined;
  /** `--worker-tuning '{…}'`: temporal.worker settings of the bench workers. */
  tuning: WorkerTuning | undefined;
}

function parseOptions(argv: string[]): Options | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { runs: { type: 'string' }, sizes: { type: 'string' }, 'worker-tuning': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (parsed.values.help) return 'help';
  let runs: number | undefined;
  if (parsed.values.runs !== undefined) {
    const text = parsed.values.runs;
    runs = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(runs) || runs < 1) throw new UsageError(`--runs must be a whole number ≥ 1, got "${text}"`);
  }
  let sizes: number[] | undefined;
  if (parsed.values.sizes !== undefined) {
    const text = parsed.values.sizes;
    sizes = text.split(',').map((x) => (/^\d+$/.test(x.trim()) ? Number(x.trim()) : Number.NaN));
    if (!sizes.length || sizes.some((n) => !Number.isSafeInteger(n) || n < 1 || n > 1000)) throw new UsageError(`--sizes must be whole numbers 1–1000 separated by commas, got "${text}"`);
    sizes = [...new Set(sizes)].sort((a, b) => a - b);
  }
  let tuning: WorkerTuning | undefined;
  if (parsed.values['worker-tuning'] !== undefined) {
    const text = parsed.values['worker-tuning'];
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new UsageError(`--worker-tuning must be a JSON object of temporal.worker settings, got "${text}"`);
    }
    const r = workerTuning.safeParse(json);
    if (!r.success) throw new UsageError(`--worker-tuning: ${r.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ')}`);
    tuning = r.data;
  }
  const names = [...new Set(parsed.positionals)];
  const unknown = names.filter((n) => !BENCHMARKS.some((b) => b.name === n));
  if (unknown.length) {
    throw new UsageError(`unknown benchmark${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `"${n}"`).join(', ')} (known: ${BENCHMARKS.map((b) => b.name).join(', ')})`);
  }
  const selected = names.length ? names.map((n) => BENCHMARKS.find((b) => b.name === n) as Benchmark) : [...BENCHMARKS];
  return { selected, runs, sizes, tuning };
}

/** The command line that reproduces one entry. */
function commandFor(b: Benchmark, runs: number, opts: Pick<Options, 'sizes' | 'tuning'>): string {
  const { sizes, tuning } = opts;
  return `npm run bench -- ${b.name}${runs === (b.defaultRuns ?? DEFAULT_RUNS) ? '' : ` --runs ${runs}`}${sizes && b.sizes ? ` --sizes ${sizes.join(',')}` : ''}${tuning ? ` --worker-tuning '${JSON.stringify(tuning)}'` : ''}`;
}

function writeConfig(dir: string, keyPrefix: string, keys: ReadonlyMap<string, KeyPair>): string {
  const file = join(dir, 'firebreak.yaml');
  writeFileSync(
    file,
    [
      '# Throwaway config written by bench/run.ts.',
      `user: ${USERS.declarer}`,
      `runbooksDir: ${JSON.stringify(join(dir, 'runbooks'))}`,
      `dataDir: ${JSON.stringify(join(dir, 'data'))}`,
      'temporal: { taskQueue: firebreak-bench }',
      `defaultTarget: ${TARGET}`,
      'approvers:',
      '  groups:',
      `    responders: [${USERS.responders.join(', ')}]`,
      ...identityYaml(keys),
      'targets:',
      `  ${TARGET}:`,
      '    description: this machine, bench key prefix (a real local app is untouched)',
      `    redis: { url: "${REDIS_URL}", keyPrefix: ${keyPrefix} }`,
      'log: { level: warn }',
      '',
    ].join('\n'),
  );
  return file;
}

/** The registry of the bench people, as config lines (benchmarks with a config of their own reuse them). */
const identityYaml = (keys: ReadonlyMap<string, KeyPair>): string[] => ['identity:', '  responders:', ...[...keys].map(([user, key]) => `    - { name: ${user}, keys: ["${publicLine(key, user)}"] }`)];

/** The XDG_CONFIG_HOME of a bench person's key file. */
const keyHome = (dir: string, user: string): string => join(dir, 'keys', user);

/** Delete every key under `prefix:` (SCAN, never KEYS). Returns how many. */
async function deleteByPrefix(redis: Redis, prefix: string): Promise<number> {
  if (!/^fbbench-[0-9a-f]+$/.test(prefix)) throw new Error(`refusing to delete keys under unexpected prefix "${prefix}"`);
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length) deleted += await redis.del(...keys);
  } while (cursor !== '0');
  return deleted;
}

/** Merge: entries of the same name are replaced in place, new ones appended, others kept. */
function mergeResults(fresh: ResultEntry[]): ResultEntry[] {
  let existing: ResultEntry[] = [];
  if (existsSync(RESULTS_FILE)) {
    try {
      const parsed = JSON.parse(readFileSync(RESULTS_FILE, 'utf8')) as unknown;
      if (!Array.isArray(parsed)) throw new Error('not an array');
      existing = parsed as ResultEntry[];
    } catch (e) {
      err(`warning: ${RESULTS_FILE} is not a JSON array (${(e as Error).message}); starting a new one`);
    }
  }
  const out = existing.map((old) => fresh.find((f) => f.name === old.name) ?? old);
  for (const f of fresh) if (!existing.some((old) => old.name === f.name)) out.push(f);
  return out;
}

/** Other work on the machine skews the numbers: say how busy it was. */
function reportLoad(when: string): void {
  const [one] = loadavg();
  const cores = cpus().length;
  const busy = (one ?? 0) > cores * 0.5 ? ' (busy machine: expect noisy, slower numbers)' : '';
  err(`bench: load average ${(one ?? 0).toFixed(2)} on ${cores} cores ${when} the runs${busy}`);
}

async function main(): Promise<number> {
  let opts: Options | 'help';
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(`bench: ${e.message}`);
    err('usage: npm run bench [-- [NAME ...] [--runs N]]   (npm run bench -- --help for more)');
    return 2;
  }
  if (opts === 'help') {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  const { selected, runs: runsOption } = opts;
  const t0 = performance.now();
  const keyPrefix = `fbbench-${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'firebreak-bench-'));
  let redis: Redis | undefined;
  let server: DevServer | undefined;
  let worker: FirebreakWorker | undefined;
  let running: Promise<void> | undefined;
  let client: Client | undefined;

  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> => {
    cleaning ??= (async () => {
      const step = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
        try {
          await fn();
        } catch (e) {
          err(`cleanup: ${what}: ${(e as Error).message}`);
        }
      };
      if (redis) {
        const r = redis;
        await step(`delete Redis keys ${keyPrefix}:*`, () => deleteByPrefix(r, keyPrefix));
        await step('close Redis', () => r.quit());
      }
      if (client) {
        const c = client;
        await step('close client', () => c.connection.close());
      }
      if (worker) {
        const w = worker;
        await step('stop worker', () => w.close());
        await step('worker run', () => running ?? Promise.resolve());
      }
      if (server) {
        const s = server;
        await step('stop dev server', () => s.stop());
      }
      rmSync(dir, { recursive: true, force: true });
    })();
    return cleaning;
  };
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted = true;
    err(`bench: ${signal}, cleaning up`);
    void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const fresh: ResultEntry[] = [];
  const machine = machineLine();
  let failed = false;
  try {
    // Runbooks the benchmarks bring, in a temp runbooks dir (never the product's).
    mkdirSync(join(dir, 'runbooks'));
    for (const b of selected) {
      for (const [file, yaml] of Object.entries(b.runbooks ?? {})) writeFileSync(join(dir, 'runbooks', file), yaml);
    }
    // `env: {}`: FIREBREAK_* variables of the shell must not point the bench elsewhere.
    // Every bench person has a key file (the CLI benchmarks sign with it): decisions are signed, as in production.
    const keys = new Map<string, KeyPair>();
    for (const user of [USERS.declarer, ...USERS.responders]) keys.set(user, await createKeyPair(keyHome(dir, user)));
    const base = loadConfig({ file: writeConfig(dir, keyPrefix, keys), env: {} });

    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, connectTimeout: 3_000, connectionName: 'firebreak-bench', lazyConnect: true });
    redis.on('error', () => undefined); // surfaced by the commands that fail
    await redis.connect().catch((e: unknown) => {
      throw new Error(`cannot reach Redis at ${REDIS_URL}: ${(e as Error).message}`);
    });

    err(`bench: starting a throwaway Temporal dev server (Redis prefix ${keyPrefix}, temp dir ${dir})`);
    server = await startDevServer({ uiPort: false, logLevel: 'error' });
    const config: Readonly<Config> = { ...base, temporal: { ...base.temporal, address: server.address, ...(opts.tuning && { worker: opts.tuning }) } };
    worker = await createWorker({ config, logger: createLogger({ level: 'warn' }) });
    running = worker.run();
    running.catch((e: unknown) => err(`bench: worker stopped: ${(e as Error).message}`));
    client = await connectClient(config);
    err(`bench: server ${server.address} and worker ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    reportLoad('before');

    for (const b of selected) {
      const runs = runsOption ?? b.defaultRuns ?? DEFAULT_RUNS;
      const ctx: BenchContext = {
        config,
        client,
        redis,
        target: TARGET,
        keyPrefix,
        users: USERS,
        actor: (user) => ({ user, host: hostname(), via: 'api', signer: keyPairSigner(keys.get(user) as KeyPair) }),
        keyHome: (user) => keyHome(dir, user),
        identityYaml: identityYaml(keys),
        runs,
        warmup: WARMUP_RUNS,
        ...(opts.sizes && { sizes: opts.sizes }),
        progress: (done) => err(`${b.name}: ${done}/${runs}`),
        note: (line) => err(`${b.name}: ${line}`),
      };
      err(`${b.name}: ${WARMUP_RUNS} warm-up run(s), then ${runs}`);
      try {
        const result = await b.run(ctx);
        if (result.samples.length !== runs || result.floorSamples.length !== runs) {
          throw new Error(`returned ${result.samples.length} samples and ${result.floorSamples.length} floor samples, expected ${runs} of each`);
        }
        for (const line of result.notes ?? []) ctx.note(line);
        const date = new Date().toISOString();
        fresh.push({ name: b.name, unit: b.unit, ...summarize(result.samples, result.floorSamples), command: commandFor(b, runs, opts), machine, date });
        for (const x of result.extra ?? []) {
          if (!x.samples.length || !x.floorSamples.length) throw new Error(`extra result ${x.name}: no samples or no floor samples`);
          fresh.push({ name: `${b.name}.${x.name}`, unit: x.unit ?? b.unit, ...summarize(x.samples, x.floorSamples), command: commandFor(b, runs, opts), machine, date });
        }
      } catch (e) {
        failed = true;
        if (!interrupted) err(`${b.name}: FAILED: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      }
    }
    reportLoad('after');
  } finally {
    await cleanup();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }

  if (fresh.length) {
    writeFileSync(RESULTS_FILE, `${JSON.stringify(mergeResults(fresh), null, 2)}\n`);
    process.stdout.write(`${formatTable(fresh)}\n\nmachine: ${machine}\nresults: ${RESULTS_FILE}\n`);
  }
  if (failed) err('bench: some benchmarks failed (see above); their previous results, if any, were kept');
  return failed ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    err(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exitCode = 1;
  },
);
