#!/usr/bin/env node
// Django, the redis client (what Django's built-in RedisCache needs), Django REST framework
// and djangorestframework-simplejwt, installed from PyPI into .tools/django for the Django middleware example and its integration test.
// Plain Node ESM with built-ins only, like scripts/setup.mjs: quiet and fast when done.
//
//   node scripts/setup-django.mjs          # standalone
//   (await import('./setup-django.mjs')).runCli()   # from scripts/setup.mjs
//
// Use it: PYTHONPATH=.tools/django:examples/django python3 -m django …

import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pipInstall, promoteStaging, removeStaleStaging } from './pip-target.mjs';

export const DJANGO_VERSION = '5.2.19';
export const REDIS_PY_VERSION = '8.1.0';
export const DRF_VERSION = '3.18.3';
export const SIMPLEJWT_VERSION = '5.5.1';
export const PYJWT_VERSION = '2.15.1';
// Top-level pins plus Django's own dependencies, so an install is the same everywhere;
// pip still resolves (no --no-deps), so a conditional dependency of an older Python
// (redis' async-timeout below 3.11.3) comes along.
// Django REST framework + simplejwt (+ PyJWT, which simplejwt signs with) for the refresh
// guard (firebreak_guard.refresh) and the JWT test project.
const PACKAGES = [
  `Django==${DJANGO_VERSION}`,
  'asgiref==3.13.0',
  'sqlparse==0.6.1',
  `redis==${REDIS_PY_VERSION}`,
  `djangorestframework==${DRF_VERSION}`,
  `djangorestframework-simplejwt==${SIMPLEJWT_VERSION}`,
  `PyJWT==${PYJWT_VERSION}`,
];
const VERSION_TEXT = PACKAGES.join('\n') + '\n';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TOOLS_DIR = join(ROOT, '.tools');
export const DJANGO_TOOLS_DIR = join(TOOLS_DIR, 'django');
const STAGING_PREFIX = '.django-staging-';

class SetupError extends Error {
  constructor(lines) {
    super([].concat(lines).join('\n'));
  }
}

function fail(lines) {
  throw new SetupError(lines);
}

/** True when .tools/django holds exactly the pinned packages (VERSION written last, before the rename). */
export function djangoInstalled() {
  try {
    return (
      readFileSync(join(DJANGO_TOOLS_DIR, 'VERSION'), 'utf8') === VERSION_TEXT &&
      existsSync(join(DJANGO_TOOLS_DIR, 'django', '__init__.py')) &&
      existsSync(join(DJANGO_TOOLS_DIR, 'redis', '__init__.py')) &&
      existsSync(join(DJANGO_TOOLS_DIR, 'rest_framework_simplejwt', '__init__.py'))
    );
  } catch {
    return false;
  }
}

// Proves the staged tree imports with this python3, from nothing but that tree.
function verify(dir) {
  const probe = [
    'import django, redis, rest_framework, jwt, importlib.metadata as m',
    "import rest_framework_simplejwt",
    "print(django.get_version(), redis.__version__, rest_framework.__version__, m.version('djangorestframework-simplejwt'), jwt.__version__)",
  ].join('; ');
  const r = spawnSync('python3', ['-S', '-c', probe], {
    encoding: 'utf8',
    env: { ...process.env, PYTHONPATH: dir, PYTHONNOUSERSITE: '1' },
  });
  const out = `${r.stdout ?? ''}`.trim();
  const want = `${DJANGO_VERSION} ${REDIS_PY_VERSION} ${DRF_VERSION} ${SIMPLEJWT_VERSION} ${PYJWT_VERSION}`;
  if (r.error || r.status !== 0 || out !== want) {
    fail(`installed Django/redis/DRF/simplejwt/PyJWT do not import as ${want}: ${(r.error?.message ?? `${out} ${r.stderr ?? ''}`).trim()}`);
  }
}


/** Installs the pinned packages unless already there; throws with a readable message. Returns true when it installed. */
export function ensureDjango() {
  if (djangoInstalled()) return false;
  const started = performance.now();
  mkdirSync(TOOLS_DIR, { recursive: true });
  removeStaleStaging(TOOLS_DIR, STAGING_PREFIX);
  // Same filesystem as the target: the final rename is atomic, so a half-finished
  // install is never mistaken for a good one.
  const staging = mkdtempSync(join(TOOLS_DIR, STAGING_PREFIX));
  chmodSync(staging, 0o755);
  try {
    pipInstall({
      dir: staging,
      packages: PACKAGES,
      pipArgs: ['--no-compile'],
      cwd: ROOT,
      purpose: 'it is needed for the Django middleware example and its test',
      fail,
    });
    verify(staging);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
  promoteStaging({ staging, target: DJANGO_TOOLS_DIR, versionText: VERSION_TEXT, installedOk: djangoInstalled });
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(`setup: installed Django ${DJANGO_VERSION}, redis-py ${REDIS_PY_VERSION}, DRF ${DRF_VERSION}, simplejwt ${SIMPLEJWT_VERSION} and PyJWT ${PYJWT_VERSION} into ${relative(ROOT, DJANGO_TOOLS_DIR)} (${secs} s)\n`);
  return true;
}

/** Runs ensureDjango() the way a setup command should: errors as `setup: …` lines and exit code 1. */
export function runCli() {
  try {
    ensureDjango();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    for (const line of message.split('\n')) process.stderr.write(`setup: ${line}\n`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) runCli();
