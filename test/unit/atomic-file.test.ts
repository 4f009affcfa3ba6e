import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensurePrivateDir, removeStaleTemps, writeFileAtomic } from '../../lib/atomic-file.js';
import { writeDocuments } from '../../lib/documents/files.js';

const dir = () => mkdtempSync(join(tmpdir(), 'fbt-atomic-'));

/** A pid that certainly no longer exists: a child that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

describe('writeFileAtomic', () => {
  it('writes the content with the mode, replacing the old file, leaving no temporary file', async () => {
    const d = dir();
    const file = join(d, 'deny.conf');
    writeFileSync(file, 'old');
    await writeFileAtomic(file, 'new\n', { mode: 0o644 });
    expect(readFileSync(file, 'utf8')).toBe('new\n');
    expect(statSync(file).mode & 0o777).toBe(0o644);
    expect(readdirSync(d)).toEqual(['deny.conf']);
  });

  it('removes the temporary file when the rename fails, and keeps the old file', async () => {
    const d = dir();
    const file = join(d, 'target');
    // A non-empty folder where the file should be: rename(2) refuses to replace it.
    const blocker = join(d, 'target');
    spawnSync('mkdir', ['-p', join(blocker, 'inside')]);
    await expect(writeFileAtomic(file, 'x')).rejects.toThrow();
    expect(readdirSync(d)).toEqual(['target']);
    expect(existsSync(join(blocker, 'inside'))).toBe(true);
  });

  it("cleans up a killed writer's empty temporary file on the next write, never a live writer's", async () => {
    const d = dir();
    const file = join(d, '.env');
    const dead = join(d, `..env.${deadPid()}.abcd1234.tmp`);
    const live = join(d, `..env.${process.ppid}.ffff0000.tmp`);
    const other = join(d, `.other.${deadPid()}.abcd1234.tmp`);
    for (const f of [dead, live, other]) writeFileSync(f, '');
    await writeFileAtomic(file, 'A=1\n', { mode: 0o600 });
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(other)).toBe(true);
    expect(await removeStaleTemps(file)).toEqual([]);
  });
});

describe('ensurePrivateDir', () => {
  it('creates the folders 0750 and tightens an existing world-readable one; documents are 0640', async () => {
    const root = dir();
    const made = join(root, 'evidence', 'INC-1');
    await ensurePrivateDir(made);
    expect(statSync(made).mode & 0o777).toBe(0o750);
    expect(statSync(join(root, 'evidence')).mode & 0o007).toBe(0);
    chmodSync(made, 0o755);
    await ensurePrivateDir(made);
    expect(statSync(made).mode & 0o777).toBe(0o750);
    const { files } = await writeDocuments(join(root, 'evidence', 'INC-2'), [{ name: 'postmortem', file: 'postmortem.md', content: '# x\n' } as never]);
    expect(statSync(join(root, 'evidence', 'INC-2')).mode & 0o777).toBe(0o750);
    expect(statSync(files.postmortem as string).mode & 0o777).toBe(0o640);
  });
});
