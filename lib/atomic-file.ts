/** The one atomic file writer: readers never see half a file, and a crash never loses a written one. */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /** File mode, applied whatever the umask (default 0o640). */
  mode?: number;
  /** Keep this owner (only effective when running as root). */
  owner?: { uid?: number; gid?: number };
}

/**
 * Write to a temporary file beside `path` (same folder, so the rename is atomic), fsync it,
 * rename it over `path`, then fsync the folder so the rename itself is durable. The
 * temporary file is removed when anything fails.
 */
export async function writeFileAtomic(path: string, content: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  const mode = opts.mode ?? 0o640;
  const dir = dirname(path);
  await removeStaleTemps(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode);
  try {
    try {
      await fh.chmod(mode);
      const { uid, gid } = opts.owner ?? {};
      if (uid !== undefined && gid !== undefined && process.getuid?.() === 0) await fh.chown(uid, gid);
      await fh.writeFile(content);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  const d = await open(dir, 'r').catch(() => undefined);
  if (d) await d.sync().catch(() => undefined).finally(() => d.close());
}

/**
 * Remove the temporary files a killed writer of `path` left behind (SIGKILL between open
 * and rename). Only those of processes that no longer exist: a live writer's file stays.
 */
export async function removeStaleTemps(path: string): Promise<string[]> {
  const dir = dirname(path);
  const prefix = `.${basename(path)}.`;
  const names = await readdir(dir).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const pid = Number(name.slice(prefix.length).split('.')[0]);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || isAlive(pid)) continue;
    await unlink(join(dir, name)).then(
      () => removed.push(name),
      () => undefined,
    );
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/**
 * A folder of Firebreak's own files (evidence, documents): created 0750, and an existing one
 * that others could read or list is tightened to that. What an incident wrote is nobody else's.
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o750 });
  const st = await stat(dir);
  if ((st.mode & 0o007) !== 0) await chmod(dir, st.mode & 0o770);
}
