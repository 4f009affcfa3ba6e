/** The one atomic file writer: readers never see half a file, and a crash never loses a written one. */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
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

/** Temporary files writeFileAtomic leaves when the process was killed between open and rename. */
export function isAtomicTemp(name: string, of: string): boolean {
  return name.startsWith(`.${of}.`) && name.endsWith('.tmp');
}
