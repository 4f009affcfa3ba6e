import { readFileSync, existsSync } from 'node:fs';
import { userInfo, hostname } from 'node:os';
import { resolve, dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { auditSchema } from './config-audit.js';
import { drillRobotProblems, drillsSchema, drillTargetProblems } from './config-drills.js';
import { identitySchema, registryFromConfig } from './config-identity.js';
import { slackChannelProblems, slackConfigProblems, slackSchema } from './config-slack.js';
import { workerTuning } from './config-worker.js';
import { edgesSchema, resolveEdges, type EdgeConfig } from './config-edges.js';
import { ConfigError } from './errors.js';
import type { Registry } from './identity/registry.js';
import { notReserved, secretRef, TARGET_NAME, targetSchema, urlWithoutPassword, type SecretRef, type TargetConfig } from './config-target.js';

export type { SecretRef, TargetConfig } from './config-target.js';
export type { EdgeConfig } from './config-edges.js';
export type { WorkerTuning } from './config-worker.js';

/** Project root (where package.json lives). */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');


const configSchema = z
  .object({
    user: z.string().min(1).optional().describe('The responder this process claims to be (FIREBREAK_USER; default the OS user): its signing key proves it'),
    signing: z
      .object({
        with: z.enum(['key-file', 'ssh-agent']).default('key-file').describe('key-file: $XDG_CONFIG_HOME/firebreak/ed25519.key; ssh-agent: an ed25519 key of the agent at SSH_AUTH_SOCK'),
        sshKeyId: z.string().regex(/^ed25519:[0-9a-f]{16}$/, 'a key id as `keys show` prints it (ed25519:<16 hex>)').optional().describe('which agent key, when it holds several'),
      })
      .strict()
      .default({ with: 'key-file' }),
    temporal: z
      .object({
        address: z.string().default('127.0.0.1:7233').describe('Temporal frontend host:port (FIREBREAK_TEMPORAL_ADDRESS)'),
        namespace: z.string().default('default').describe('Temporal namespace (FIREBREAK_TEMPORAL_NAMESPACE)'),
        taskQueue: z.string().default('firebreak').describe('Task queue (FIREBREAK_TASK_QUEUE)'),
        apiKey: secretRef.optional().describe('Temporal Cloud API key'),
        tls: z
          .object({
            serverName: z.string().optional(),
            caFile: z.string().optional(),
            certFile: z.string().optional(),
            keyFile: z.string().optional(),
          })
          .strict()
          .optional()
          .describe('mTLS; presence enables TLS'),
        worker: workerTuning.describe("the worker's concurrency limits, workflow cache and pollers (README: Worker tuning)"),
      })
      .strict()
      .default({ address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'firebreak', worker: {} }),
    database: z
      .object({
        url: urlWithoutPassword('database.password').default('postgres://postgres@127.0.0.1:5432/firebreak').describe("Firebreak's own PostgreSQL"),
        password: secretRef.optional(),
      })
      .strict()
      .default({ url: 'postgres://postgres@127.0.0.1:5432/firebreak' }),
    defaultTarget: z.string().optional().describe('the target used when none is given (default: the only target, or the one named local)'),
    targets: z
      .record(z.string(), targetSchema)
      .default({})
      .superRefine((targets, ctx) => {
        for (const name of Object.keys(targets)) {
          if (!TARGET_NAME.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'target names are lower-case words (a-z, 0-9, -; at most 31)' });
          else if (!notReserved(name)) ctx.addIssue({ code: 'custom', path: [name], message: `"${name}" is reserved (a JavaScript object property); choose another target name` });
        }
      }),
    edges: edgesSchema,
    approvers: z
      .object({
        groups: z
          .record(
            z
              .string()
              .regex(/^[A-Za-z][A-Za-z0-9_-]{0,62}$/, 'group names are words (letters, digits, _ and -; at most 63)')
              .refine(notReserved, 'is reserved (a JavaScript object property); choose another group name'),
            z.array(z.string().min(1)),
          )
          .default({}),
      })
      .strict()
      .default({ groups: {} })
      .describe('Who may approve gates, by group'),
    identity: identitySchema,
    slack: slackSchema.optional().describe('The Slack front door (`firebreak slack`)'),
    audit: auditSchema.optional().describe("The audit log: present, every incident is appended to Firebreak's database and checkpointed (`firebreak audit`)"),
    drills: drillsSchema.describe('Scheduled drills: the robots the worker signs with, their delay, time budget and health checks'),
    runbooksDir: z.string().default('runbooks'),
    dataDir: z.string().default('.data').describe('Dev server database, evidence, reports'),
    inputsDir: z.string().min(1).optional().describe('The only folder file arguments (addresses_file, jtis_file) are read from (default <dataDir>/inputs)'),
    encryption: z
      .object({
        current: z.string().min(1).describe('Key id used to encrypt new payloads'),
        keys: z
          .array(z.object({ id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/), secret: secretRef }).strict())
          .min(1)
          .describe('AES-256 keys (32 bytes, base64 or hex); old ones stay to decrypt'),
      })
      .strict()
      .optional(),
    log: z
      .object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info') })
      .strict()
      .default({ level: 'info' }),
  })
  .strict();

type Parsed = z.infer<typeof configSchema>;
export interface Config extends Omit<Parsed, 'user' | 'defaultTarget' | 'inputsDir' | 'edges'> {
  /** The nginx edge hosts, each with its target and task queue resolved. */
  edges: EdgeConfig[];
  user: string;
  /** Absolute: the folder file arguments are read from, and nothing outside it. */
  inputsDir: string;
  defaultTarget: string;
  /** The responders registry built from `identity` (keys parsed and checked). */
  registry: Registry;
  host: string;
  /** Where the config came from, for messages. */
  source: string;
}

const ENV_OVERRIDES: Record<string, { path: string[]; describe: string }> = {
  FIREBREAK_USER: { path: ['user'], describe: 'the responder this process claims to be (its key proves it)' },
  FIREBREAK_TEMPORAL_ADDRESS: { path: ['temporal', 'address'], describe: 'Temporal frontend host:port' },
  FIREBREAK_TEMPORAL_NAMESPACE: { path: ['temporal', 'namespace'], describe: 'Temporal namespace' },
  FIREBREAK_TASK_QUEUE: { path: ['temporal', 'taskQueue'], describe: 'task queue' },
  FIREBREAK_DATABASE_URL: { path: ['database', 'url'], describe: "Firebreak's own PostgreSQL" },
  FIREBREAK_RUNBOOKS_DIR: { path: ['runbooksDir'], describe: 'runbooks folder' },
  FIREBREAK_DATA_DIR: { path: ['dataDir'], describe: 'data folder' },
  FIREBREAK_INPUTS_DIR: { path: ['inputsDir'], describe: 'folder file arguments are read from (default <dataDir>/inputs)' },
  FIREBREAK_LOG_LEVEL: { path: ['log', 'level'], describe: 'log level' },
  FIREBREAK_DEFAULT_TARGET: { path: ['defaultTarget'], describe: 'target used when none is given' },
  FIREBREAK_SIGN_WITH: { path: ['signing', 'with'], describe: 'key-file or ssh-agent: what signs your decisions' },
  FIREBREAK_SSH_KEY_ID: { path: ['signing', 'sshKeyId'], describe: 'the ssh-agent key to sign with (ed25519:<16 hex>)' },
};

/** The environment variables Firebreak reads, for `--help` and the README. */
export function describeEnv(): Array<{ name: string; describe: string }> {
  return [
    { name: 'FIREBREAK_CONFIG', describe: 'path of the YAML config (default ./firebreak.yaml when present)' },
    ...Object.entries(ENV_OVERRIDES).map(([name, v]) => ({ name, describe: v.describe })),
  ];
}

/** Exists only when the config names no targets: local development, unauthenticated. */
const LOCAL_TARGET = {
  description: 'This machine: Redis and PostgreSQL on 127.0.0.1',
  production: false,
  development: true,
  redis: { url: 'redis://127.0.0.1:6379/0', keyPrefix: '', keyVersion: 1 },
};

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj;
  for (const key of path.slice(0, -1)) {
    const next = cur[key];
    if (typeof next !== 'object' || next === null) cur[key] = {};
    cur = cur[key] as Record<string, unknown>;
  }
  cur[path[path.length - 1] as string] = value;
}

export interface LoadConfigOptions {
  /** Explicit config file; else FIREBREAK_CONFIG; else ./firebreak.yaml if it exists. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Parse and validate config from file + environment. Throws ConfigError listing every problem. */
export function loadConfig(opts: LoadConfigOptions = {}): Readonly<Config> {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const explicit = opts.file ?? env.FIREBREAK_CONFIG;
  const candidate = explicit ? resolve(cwd, explicit) : resolve(cwd, 'firebreak.yaml');
  let raw: Record<string, unknown> = {};
  let source = 'defaults';
  if (explicit && !existsSync(candidate)) throw new ConfigError([`config: file not found: ${candidate}`]);
  if (existsSync(candidate)) {
    source = candidate;
    let text: string;
    try {
      text = readFileSync(candidate, 'utf8');
    } catch (err) {
      throw new ConfigError([`config: cannot read ${candidate}: ${(err as Error).message}`]);
    }
    try {
      const doc = parseYaml(text) as unknown;
      if (doc !== null && doc !== undefined) {
        if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error('top level must be a mapping');
        raw = doc as Record<string, unknown>;
      }
    } catch (err) {
      throw new ConfigError([`config: ${candidate}: invalid YAML: ${(err as Error).message.split('\n')[0]}`]);
    }
  }
  for (const [name, { path }] of Object.entries(ENV_OVERRIDES)) {
    const v = env[name];
    if (v !== undefined && v !== '') setPath(raw, path, v);
  }
  const protoKeys = protoKeyPaths(raw);
  if (protoKeys.length) throw new ConfigError(protoKeys.map((path) => `config: ${path}: "__proto__" is not allowed as a key (${source})`));
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((i) => {
      const where = i.path.length ? i.path.join('.') : '(top level)';
      return `config: ${where}: ${i.message} (${source})`;
    });
    throw new ConfigError(problems);
  }
  const parsed = result.data;
  const targets = { ...parsed.targets };
  if (!Object.keys(targets).length) targets.local = targetSchema.parse(LOCAL_TARGET);
  const problems: string[] = [];
  const { registry, problems: identityProblems } = registryFromConfig(parsed.identity);
  problems.push(...identityProblems.map((p) => `config: ${p} (${source})`));
  problems.push(...slackConfigProblems(parsed.slack, parsed.identity).map((p) => `config: ${p} (${source})`));
  problems.push(...slackChannelProblems(parsed.slack, Object.keys(targets), Object.keys(parsed.approvers.groups)).map((p) => `config: ${p} (${source})`));
  for (const [name, t] of Object.entries(targets)) {
    if (t.drillTarget && t.production) problems.push(`config: targets.${name}: a production target cannot be a drill target (${source})`);
    if (t.development && t.production) problems.push(`config: targets.${name}: a production target cannot be marked for local development (${source})`);
    t.policy.gates.forEach((g, i) => {
      if (!Object.hasOwn(parsed.approvers.groups, g.group)) problems.push(`config: targets.${name}.policy.gates[${i}].group: no approver group "${g.group}" (approvers.groups) (${source})`);
    });
  }
  problems.push(...drillTargetProblems(targets).map((p) => `config: ${p} (${source})`));
  problems.push(...drillRobotProblems(parsed.drills, parsed.identity.services).map((p) => `config: ${p} (${source})`));
  const names = Object.keys(targets);
  // Unnamed, the default is the only target, or the one called `local` (as before targets were signed).
  const defaultTarget = parsed.defaultTarget ?? (names.length === 1 ? names[0] : names.includes('local') ? 'local' : undefined);
  if (defaultTarget === undefined) problems.push(`config: defaultTarget: the config names ${names.length} targets (${names.join(', ')}); say which one is used when none is given (${source})`);
  else if (!Object.hasOwn(targets, defaultTarget)) problems.push(`config: defaultTarget: no target named "${defaultTarget}" (${source})`);
  const edges = resolveEdges(parsed.edges, names, defaultTarget);
  problems.push(...edges.problems.map((p) => `config: ${p} (${source})`));
  if (parsed.encryption && !parsed.encryption.keys.some((k) => k.id === parsed.encryption?.current)) {
    problems.push(`config: encryption.current: "${parsed.encryption.current}" is not one of encryption.keys (${source})`);
  }
  if (problems.length) throw new ConfigError(problems);
  const baseDir = source === 'defaults' ? cwd : dirname(source);
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const config: Config = {
    ...parsed,
    targets,
    edges: edges.edges,
    defaultTarget: defaultTarget ?? '',
    registry,
    runbooksDir: abs(parsed.runbooksDir),
    dataDir: abs(parsed.dataDir),
    inputsDir: parsed.inputsDir === undefined ? join(abs(parsed.dataDir), 'inputs') : abs(parsed.inputsDir),
    user: parsed.user ?? safeUserName(),
    host: hostname(),
    source,
  };
  return deepFreeze(config);
}

/** Paths of every own `__proto__` key (YAML allows it; zod would silently drop it). */
function protoKeyPaths(value: unknown, path: string[] = []): string[] {
  if (typeof value !== 'object' || value === null) return [];
  return Object.keys(value).flatMap((key) => {
    const here = [...path, key];
    if (key === '__proto__') return [here.join('.')];
    return protoKeyPaths((value as Record<string, unknown>)[key], here);
  });
}

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

let cached: Readonly<Config> | undefined;
/** The process-wide config, parsed once. */
export function getConfig(): Readonly<Config> {
  cached ??= loadConfig();
  return cached;
}

/** Read a referenced secret at the moment it is needed. */
export function readSecret(ref: SecretRef, env: NodeJS.ProcessEnv = process.env): string {
  if ('env' in ref) {
    const v = env[ref.env];
    if (v === undefined || v === '') throw new ConfigError([`config: secret environment variable ${ref.env} is not set`]);
    return v;
  }
  try {
    return readFileSync(ref.file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new ConfigError([`config: cannot read secret file ${ref.file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`]);
  }
}

export function getTarget(config: Readonly<Config>, name?: string): TargetConfig {
  const key = name ?? config.defaultTarget;
  const t = Object.hasOwn(config.targets, key) ? config.targets[key] : undefined;
  if (!t) throw new ConfigError([`unknown target "${key}" (known: ${Object.keys(config.targets).join(', ')})`]);
  return t;
}
