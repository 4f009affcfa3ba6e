// Shared by the setup scripts: install pinned PyPI packages into a staging folder
// with `pip install --target`, and clear staging folders an interrupted setup left.
// Plain Node ESM with no dependencies: it runs before `npm ci` has.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const PIP_NOISE = [
  /^WARNING: Location '.*' is ignored/,
  /Running pip as the 'root' user/,
  /^\[notice\]/,
  /^WARNING: Target directory .* already exists/,
  /^\s*$/,
];

/**
 * `python3 -m pip install --target dir ...packages`. On failure calls `fail(lines)`
 * (which must throw) with what to do; `purpose` says why python3 is needed and
 * `fallback` (optional) what to do instead of installing.
 */
export function pipInstall({ dir, packages, pipArgs = [], cwd, purpose, fallback, fail }) {
  const args = ['-m', 'pip', 'install', ...pipArgs, '--disable-pip-version-check', '--quiet', '--target', dir, ...packages];
  const command = `python3 ${args.join(' ').replace(dir, '<temp dir>')}`;
  const r = spawnSync('python3', args, {
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    // Old pips ignore unknown PIP_* variables, so this is safe everywhere.
    env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore', PIP_NO_INPUT: '1' },
  });
  const output = `${r.stdout ?? ''}\n${r.stderr ?? ''}`.split('\n').filter((line) => !PIP_NOISE.some((re) => re.test(line)));
  const orElse = fallback ? [fallback] : [];
  if (r.error) {
    if (r.error.code === 'ENOENT') {
      fail([`python3 is not on PATH; ${purpose}.`, 'Install it (Debian/Ubuntu: `apt-get install -y python3 python3-pip`) and run `npm run setup` again,', ...orElse]);
    }
    fail(`cannot run python3: ${r.error.message}`);
  }
  if (r.status !== 0) {
    if (/No module named pip/.test(r.stderr ?? '')) {
      fail(['python3 has no pip module.', 'Install it (Debian/Ubuntu: `apt-get install -y python3-pip`, elsewhere `python3 -m ensurepip --upgrade`) and run `npm run setup` again.']);
    }
    fail([
      `pip failed (exit ${r.status}) installing ${packages.join(' ')}:`,
      ...output.map((l) => `  ${l}`),
      `The command was: ${command}`,
      'Check that PyPI is reachable (or pip is configured for your mirror) and run `npm run setup` again,',
      ...orElse,
    ]);
  }
  // Anything left after filtering is unusual enough to show.
  for (const line of output) process.stderr.write(`setup: pip: ${line}\n`);
}

/** A setup killed mid-install leaves a staging dir; only old ones go (a young one may be a setup running right now). */
export function removeStaleStaging(toolsDir, prefix) {
  for (const name of readdirSync(toolsDir)) {
    if (!name.startsWith(prefix)) continue;
    const p = join(toolsDir, name);
    try {
      if (Date.now() - statSync(p).mtimeMs > 30 * 60 * 1000) rmSync(p, { recursive: true, force: true });
    } catch {
      // gone already, or not ours to remove
    }
  }
}

/**
 * Put a verified staging folder in place of `target` (the old one moved aside first, so a
 * half-installed tree is never where tools look), mark it with `versionText`, and clean up.
 * A concurrent setup may win the rename; `installedOk()` then says whether its result will do.
 */
export function promoteStaging({ staging, target, versionText, installedOk }) {
  let trash;
  try {
    writeFileSync(join(staging, 'VERSION'), versionText);
    if (existsSync(target)) {
      trash = `${staging}-old`;
      renameSync(target, trash);
    }
    try {
      renameSync(staging, target);
    } catch (err) {
      if (!installedOk()) throw err;
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
    if (trash) rmSync(trash, { recursive: true, force: true });
  }
}
