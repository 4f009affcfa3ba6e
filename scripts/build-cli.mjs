// The compiled CLI: cli/main.ts and everything it imports (our code only; packages stay
// external), bundled by esbuild into the git-ignored .build/ with code splitting, so each
// command's dynamic imports are separate chunks loaded only when that command runs.
// Plain Node ESM with built-ins only until a build is needed (esbuild comes with tsx).
//
//   node scripts/build-cli.mjs        # build if stale (run by scripts/setup.mjs)
//   await cliEntry()                   # bin/firebreak.js: the entry to import, rebuilt first if stale
//
// .build/ is one level below the repository, like cli/, so code that finds files relative
// to itself (lib/config.ts PROJECT_ROOT, worker/paths.ts ../workflows/index.ts) still finds
// the repository root and the workflow TypeScript sources.
//
// Staleness: manifest.json lists every source file that went into the build with its
// mtime and size; one stat per file (~100) on each start. A changed, moved or deleted
// source means a rebuild. A new file matters only once an existing file imports it, and
// that file changed. Output names carry content hashes and are written with rename, so
// concurrent starts (tests run the CLI in parallel) never see a half-written file.

import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BUILD_DIR = join(ROOT, '.build');
const MANIFEST = join(BUILD_DIR, 'manifest.json');
const ENTRY = 'cli/main.ts';
/**
 * Pure-JS packages bundled in: one file instead of dozens of small modules halves their
 * import time (zod's most of all). Everything else stays external, above all @temporalio/*
 * (native bridge; the worker and our code must share one copy of each).
 */
const BUNDLED = new Set(['commander', 'yaml', 'zod']);
// Their CommonJS parts require Node built-ins; give the ESM chunks a `require`.
const REQUIRE_BANNER = "import { createRequire as __firebreakRequire } from 'node:module'; const require = __firebreakRequire(import.meta.url);";

/** Bare imports are external unless in BUNDLED. */
const externals = {
  name: 'firebreak-externals',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:')) return { path: args.path, external: true };
      const name = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0];
      return BUNDLED.has(name) ? undefined : { path: args.path, external: true };
    });
  },
};
/** Unreferenced outputs older than this are removed (a long-running `firebreak dev` may still load its chunks). */
const PRUNE_AFTER_MS = 24 * 3600_000;

function readManifest() {
  try {
    return JSON.parse(readFileSync(MANIFEST, 'utf8'));
  } catch {
    return undefined;
  }
}

function fingerprint(path) {
  const s = statSync(path);
  return [Math.round(s.mtimeMs), s.size];
}

/** Why the build must be redone, or undefined when it is current. */
export function staleReason(manifest = readManifest()) {
  if (!manifest || typeof manifest.entry !== 'string' || !manifest.inputs) return 'not built yet';
  if (!existsSync(join(BUILD_DIR, manifest.entry))) return `${manifest.entry} is missing`;
  for (const [file, [mtime, size]] of Object.entries(manifest.inputs)) {
    let now;
    try {
      now = fingerprint(join(ROOT, file));
    } catch {
      return `${file} is gone`;
    }
    if (now[0] !== mtime || now[1] !== size) return `${file} changed`;
  }
  return undefined;
}

function writeAtomically(path, contents) {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, contents);
  renameSync(tmp, path);
}

/** Build now. Returns the manifest. Throws with esbuild's messages on a source error. */
export async function buildCli() {
  const esbuild = await import('esbuild');
  const started = Date.now();
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: [ENTRY],
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    plugins: [externals],
    banner: { js: REQUIRE_BANNER },
    outdir: BUILD_DIR,
    entryNames: '[name]-[hash]',
    chunkNames: 'chunk-[hash]',
    minify: true, // less to parse at every start; the linked source map keeps stack traces readable
    sourcemap: 'linked',
    metafile: true,
    write: false,
    logLevel: 'silent',
  });
  mkdirSync(BUILD_DIR, { recursive: true });
  const keep = new Set(['manifest.json']);
  for (const f of result.outputFiles) {
    keep.add(relative(BUILD_DIR, f.path));
    // Same name, same content: already there (and maybe being read by another start).
    if (!existsSync(f.path)) writeAtomically(f.path, f.contents);
  }
  const inputs = {};
  // Our sources one by one; the bundled packages through npm's record of what is installed.
  const files = Object.keys(result.metafile.inputs).filter((f) => !f.startsWith('node_modules/'));
  // And this script: a change to how the CLI is built is a change too.
  files.push(...['node_modules/.package-lock.json', 'package-lock.json', 'scripts/build-cli.mjs'].filter((f) => existsSync(join(ROOT, f))));
  for (const file of files) {
    const fp = fingerprint(join(ROOT, file));
    // Edited while esbuild read it: record it as unknown, so the next start builds again.
    inputs[file] = fp[0] >= started - 1000 ? [0, -1] : fp;
  }
  const entryOut = Object.entries(result.metafile.outputs).find(([, o]) => o.entryPoint === ENTRY)?.[0];
  if (!entryOut) throw new Error(`esbuild produced no output for ${ENTRY}`);
  const manifest = { entry: relative(BUILD_DIR, join(ROOT, entryOut)), esbuild: esbuild.version, inputs };
  writeAtomically(MANIFEST, `${JSON.stringify(manifest, null, 1)}\n`);
  prune(keep);
  return manifest;
}

function prune(keep) {
  const cutoff = Date.now() - PRUNE_AFTER_MS;
  for (const name of readdirSync(BUILD_DIR)) {
    if (keep.has(name)) continue;
    const path = join(BUILD_DIR, name);
    try {
      if (statSync(path).mtimeMs < cutoff || name.endsWith('.tmp')) rmSync(path, { force: true });
    } catch {
      // raced with another start's prune
    }
  }
}

/** esbuild's errors as lines (file:line:col: message). */
export function buildErrorLines(err) {
  const errors = Array.isArray(err?.errors) ? err.errors : [];
  if (!errors.length) return [err instanceof Error ? err.message : String(err)];
  return errors.map((e) => (e.location ? `${e.location.file}:${e.location.line}:${e.location.column}: ${e.text}` : e.text));
}

/** The file URL of the compiled entry, rebuilding first when a source changed. */
export async function cliEntry() {
  let manifest = readManifest();
  if (staleReason(manifest)) manifest = await buildCli();
  return pathToFileURL(join(BUILD_DIR, manifest.entry)).href;
}

/** For scripts/setup.mjs: build when stale, one line when it did. */
export async function ensureCliBuild({ log = (line) => process.stdout.write(`setup: ${line}\n`) } = {}) {
  const why = staleReason();
  if (!why) return false;
  const t0 = performance.now();
  await buildCli();
  log(`compiled the CLI into ${relative(ROOT, BUILD_DIR)}/ (${why}; ${Math.round(performance.now() - t0)} ms)`);
  return true;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    await ensureCliBuild();
  } catch (err) {
    for (const line of buildErrorLines(err)) process.stderr.write(`build-cli: ${line}\n`);
    process.exitCode = 1;
  }
}
