/** One clear line per error (issue 11 §4: file system errors used to show raw errno text). */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { errorLine, exitCodeOf } from '../../cli/errors.js';

const failure = (p: Promise<unknown>): Promise<unknown> => p.then(() => { throw new Error('it worked'); }, (e: unknown) => e);

describe('errorLine', () => {
  it('says what could not be done to which path, in words, with the code', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fbt-errors-'));
    const file = join(dir, 'plain');
    writeFileSync(file, 'x');
    expect(errorLine(await failure(writeFile(join(dir, 'missing', 'x.md'), 'x')))).toBe(`cannot open ${join(dir, 'missing', 'x.md')}: no such file or folder (ENOENT)`);
    expect(errorLine(await failure(mkdir(join(file, 'sub'))))).toBe(`cannot create the folder ${join(file, 'sub')}: a part of the path is not a folder (ENOTDIR)`);
    expect(errorLine(await failure(writeFile(dir, 'x')))).toBe(`cannot open ${dir}: it is a folder (EISDIR)`);
  });
  it('keeps other errors to their first line; exit 1 unless typed', () => {
    expect(errorLine(new Error('first\nsecond'))).toBe('first');
    expect(exitCodeOf(new Error('x'))).toBe(1);
  });
});
