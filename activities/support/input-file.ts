/**
 * File arguments (`addresses_file`, `jtis_file`) are read only from the worker's inputs
 * folder (config `inputsDir`). The name is resolved with realpath, so neither `..` nor a
 * symlink leaves the folder; the file is opened without following a final symlink and
 * without blocking (a FIFO would hang the activity), then judged by what the descriptor
 * is, so a file swapped after the check is still judged. Messages name the argument as
 * given, never the file's contents.
 */
import { constants } from 'node:fs';
import { open, realpath, type FileHandle } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { inputFileProblem } from '../../lib/args/rules.js';

export type OpenedInput = { handle: FileHandle; size: number } | { problem: string };

function code(err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? 'error';
}

/** `path` is `root` or below it. */
function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

const outside = (what: string, name: string, inputsDir: string): string => `${what} ${name} is outside the worker's inputs folder (${inputsDir}); only files there are read`;

/** Open `name` (argument `what`) inside `inputsDir`, or say why not; the caller closes the handle. */
export async function openInputFile(inputsDir: string, what: string, name: string): Promise<OpenedInput> {
  const bad = inputFileProblem(what, name);
  if (bad) return { problem: bad };
  const lexical = resolve(inputsDir, name);
  let root: string;
  try {
    root = await realpath(inputsDir);
  } catch (err) {
    if (!inside(resolve(inputsDir), lexical)) return { problem: outside(what, name, inputsDir) };
    return { problem: `${what}: the worker's inputs folder ${inputsDir} ${code(err) === 'ENOENT' ? 'does not exist' : `cannot be read (${code(err)})`}` };
  }
  // Named through the folder as configured or as it really is; anything else is outside, whether it exists or not.
  if (!inside(resolve(inputsDir), lexical) && !inside(root, lexical)) return { problem: outside(what, name, inputsDir) };
  let real: string;
  try {
    real = await realpath(lexical);
  } catch (err) {
    return { problem: code(err) === 'ENOENT' ? `${what} ${name} does not exist in the worker's inputs folder` : `${what} ${name} cannot be read (${code(err)})` };
  }
  if (!inside(root, real)) return { problem: outside(what, name, inputsDir) };
  let handle: FileHandle;
  try {
    handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    return { problem: `${what} ${name} cannot be read (${code(err)})` };
  }
  const st = await handle.stat();
  if (!st.isFile()) {
    await handle.close();
    return { problem: `${what} ${name} is not a regular file` };
  }
  return { handle, size: st.size };
}

/** Whether `name` could be read (the pre-flight): the problem, or undefined. */
export async function inputFileReadable(inputsDir: string, what: string, name: string): Promise<string | undefined> {
  const opened = await openInputFile(inputsDir, what, name);
  if ('problem' in opened) return opened.problem;
  await opened.handle.close();
  return undefined;
}
