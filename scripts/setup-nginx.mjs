// nginx for the tests (they run their own instance of the Debian package's binary).
// Plain Node ESM with built-ins only, like scripts/setup.mjs. The decision is a pure
// function (planNginx, unit-tested); ensureNginx carries it out.
//
//   node scripts/setup-nginx.mjs                     # standalone
//   (await import('./setup-nginx.mjs')).ensureNginx()   # from scripts/setup.mjs

import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export const NGINX_PACKAGE = 'nginx';
/** Keeps the package's own service from starting system-wide while apt installs it (exit 101 = "not allowed"). */
export const POLICY_RC_D = '/usr/sbin/policy-rc.d';
const POLICY_TEXT = '#!/bin/sh\nexit 101\n';

function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Where nginx is, the way test/helpers/nginx.ts looks: NGINX_BIN, /usr/sbin/nginx (Debian;
 * often not on a user's PATH), then PATH. Undefined when there is none.
 */
export function findNginx(env = process.env, executable = isExecutable) {
  const candidates = [env.NGINX_BIN, '/usr/sbin/nginx', ...(env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'nginx'))];
  return candidates.find((c) => c && executable(c));
}

/** First `name` on PATH (or in the sbin dirs, which root's apt-get lives in but a PATH may lack). */
export function findOnPath(name, env = process.env, executable = isExecutable) {
  const dirs = [...(env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/bin', '/usr/sbin', '/bin', '/sbin'];
  return dirs.map((d) => join(d, name)).find((p) => executable(p));
}

/**
 * What to do about nginx. Pure: facts in, decision out.
 * @param {{ nginx?: string, platform: string, uid?: number, aptGet?: string, policyExists: boolean }} facts
 * @returns {{ kind: 'present', path: string }
 *   | { kind: 'install', steps: { argv: string[] }[], createPolicy: boolean, env: Record<string, string> }
 *   | { kind: 'advise', line: string }}
 */
export function planNginx(facts) {
  if (facts.nginx) return { kind: 'present', path: facts.nginx };
  const root = facts.uid === 0;
  if (facts.platform === 'linux' && facts.aptGet && root) {
    return {
      kind: 'install',
      steps: [{ argv: [facts.aptGet, 'update', '-qq'] }, { argv: [facts.aptGet, 'install', '-y', '-qq', '--no-install-recommends', NGINX_PACKAGE] }],
      // An existing policy is the machine's own (e.g. a container's exit 101): leave it alone.
      createPolicy: !facts.policyExists,
      env: { DEBIAN_FRONTEND: 'noninteractive' },
    };
  }
  const why = 'nginx not found (the nginx tests run the real binary)';
  if (facts.platform === 'linux' && facts.aptGet) return { kind: 'advise', line: `${why}: run \`sudo apt-get install -y ${NGINX_PACKAGE}\`, or set NGINX_BIN` };
  if (facts.platform === 'darwin') return { kind: 'advise', line: `${why}: run \`brew install nginx\`, or set NGINX_BIN` };
  return { kind: 'advise', line: `${why}: install nginx with your package manager, or set NGINX_BIN to its binary` };
}

/** The facts planNginx decides on, read from this machine. */
export function nginxFacts(env = process.env) {
  return {
    nginx: findNginx(env),
    platform: process.platform,
    uid: typeof process.getuid === 'function' ? process.getuid() : undefined,
    aptGet: process.platform === 'linux' ? findOnPath('apt-get', env) : undefined,
    policyExists: existsSync(POLICY_RC_D),
  };
}

/**
 * Carry out the plan: nothing when present; apt-get with the policy-rc.d guard as root
 * (quiet: its output is shown only when it fails); else one line saying what to run.
 * Throws (lines for the caller to print) when an install was attempted and failed.
 */
export function ensureNginx({ log = (line) => process.stdout.write(`setup: ${line}\n`), env = process.env } = {}) {
  const plan = planNginx(nginxFacts(env));
  if (plan.kind === 'present') return plan;
  if (plan.kind === 'advise') {
    log(plan.line);
    return plan;
  }
  const started = performance.now();
  log(`nginx not found; installing the Debian package ${NGINX_PACKAGE} with apt-get (its service is kept from starting)`);
  if (plan.createPolicy) writeFileSync(POLICY_RC_D, POLICY_TEXT, { mode: 0o755 });
  try {
    for (const step of plan.steps) {
      const [cmd, ...args] = step.argv;
      const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', env: { ...env, ...plan.env } });
      if (r.error || r.status !== 0) {
        const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-15);
        throw new Error([`\`${step.argv.join(' ')}\` failed (${r.error ? r.error.message : `exit ${r.status}`}):`, ...out].join('\n'));
      }
    }
  } finally {
    if (plan.createPolicy) rmSync(POLICY_RC_D, { force: true });
  }
  const path = findNginx(env);
  if (!path) throw new Error(`apt-get installed ${NGINX_PACKAGE} but no nginx binary was found in /usr/sbin or on PATH`);
  log(`installed nginx (${path}) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return { kind: 'installed', path };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    ensureNginx();
  } catch (err) {
    for (const line of String(err instanceof Error ? err.message : err).split('\n')) process.stderr.write(`setup: ${line}\n`);
    process.exitCode = 1;
  }
}
