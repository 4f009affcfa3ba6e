/**
 * The dotenv sink on real files: only the value of the named variable changes,
 * byte for byte; the file is always 0600 and replaced atomically; writers in
 * this process and in other processes never lose each other's updates; a lock
 * left by a dead writer is taken over.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { createDotenvSink, encodeDotenvValue, getDotenvValue, parseDotenv } from '../../activities/sinks/dotenv.js';
import { PROJECT_ROOT } from '../../lib/config.js';

const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'fbt-dotenv-'));
let n = 0;
let file: string;

beforeEach(() => {
  n += 1;
  file = join(root, `case-${n}.env`);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

const read = () => readFileSync(file, 'latin1');
const mode = () => statSync(file).mode & 0o777;

describe('editing', () => {
  it('changes only the value of the variable: comments, blanks, other lines, inline comments and quoting survive', async () => {
    const before = [
      '# Production settings',
      '',
      'export DEBUG=0',
      'DATABASE_PASSWORD=old-password # rotated by Firebreak',
      "SINGLE='it''s $HOME'",
      'QUOTED="a b # not a comment \\" still"',
      '   INDENTED = spaced',
      'MULTI="line one',
      'line two"',
      '#DATABASE_PASSWORD=commented-out',
      'LAST=1',
    ].join('\n');
    writeFileSync(file, `${before}\n`);
    await createDotenvSink(file).put('DATABASE_PASSWORD', 'n3w-pass_word');
    expect(read()).toBe(`${before.replace('old-password # rotated', 'n3w-pass_word # rotated')}\n`);
    const text = read();
    expect(getDotenvValue(text, 'QUOTED')).toBe('a b # not a comment " still');
    expect(getDotenvValue(text, 'MULTI')).toBe('line one\nline two');
    expect(getDotenvValue(text, 'INDENTED')).toBe('spaced');
    expect(getDotenvValue(text, 'DEBUG')).toBe('0');
    expect(await createDotenvSink(file).get?.('DATABASE_PASSWORD')).toBe('n3w-pass_word');
  });

  it('keeps CRLF line ends, and appends a new variable with CRLF', async () => {
    writeFileSync(file, 'A=1\r\n# note\r\nTOKEN=old\r\nB="x y"\r\n');
    const sink = createDotenvSink(file);
    await sink.put('TOKEN', 'new');
    await sink.put('FRESH', 'v');
    expect(read()).toBe('A=1\r\n# note\r\nTOKEN=new\r\nB="x y"\r\nFRESH=v\r\n');
    expect(await sink.get?.('B')).toBe('x y');
  });

  it('keeps `export NAME=` and replaces every assignment of the name', async () => {
    writeFileSync(file, 'export JWT_SECRET_KEY=one\nOTHER=x\nJWT_SECRET_KEY="two"\n');
    await createDotenvSink(file).put('JWT_SECRET_KEY', 'three');
    expect(read()).toBe('export JWT_SECRET_KEY=three\nOTHER=x\nJWT_SECRET_KEY=three\n');
  });

  it('leaves a file without a final newline without one when the last line changes, and adds one only to append', async () => {
    writeFileSync(file, 'A=1\nB=2');
    const sink = createDotenvSink(file);
    await sink.put('B', '3');
    expect(read()).toBe('A=1\nB=3');
    await sink.put('C', '4');
    expect(read()).toBe('A=1\nB=3\nC=4\n');
  });

  it('quotes values that need it and reads every value back exactly', async () => {
    const sink = createDotenvSink(file);
    const values: Record<string, string> = {
      PLAIN: 'postgres://app:Abc-_09@db.example:5432/app',
      SPACE: 'two words',
      QUOTE: 'say "hi"',
      BACKSLASH: 'C:\\path\\',
      NEWLINE: 'line1\nline2\r\nline3',
      HASH: 'a #b',
      DOLLAR: 'p%24ss$word',
      EMPTY: '',
      UNICODE: 'pässwörd ✓',
    };
    for (const [k, v] of Object.entries(values)) await sink.put(k, v);
    for (const [k, v] of Object.entries(values)) expect(await sink.get?.(k), k).toBe(v);
    expect(read()).toContain('PLAIN=postgres://app:Abc-_09@db.example:5432/app\n');
    expect(read()).toContain('QUOTE="say \\"hi\\""\n');
    expect(read().split('\n').filter((l) => l !== '')).toHaveLength(Object.keys(values).length); // no value broke a line
    expect(encodeDotenvValue('C:\\x')).toBe('"C:\\\\x"');
  });

  it('keeps bytes that are not UTF-8 as they were', async () => {
    const bytes = Buffer.concat([Buffer.from('# caf'), Buffer.from([0xe9, 0xff]), Buffer.from('\nKEY=old\n')]);
    writeFileSync(file, bytes);
    await createDotenvSink(file).put('KEY', 'new');
    expect(readFileSync(file)).toEqual(Buffer.concat([Buffer.from('# caf'), Buffer.from([0xe9, 0xff]), Buffer.from('\nKEY=new\n')]));
  });

  it('an empty value before a comment stays a value, the comment a comment', async () => {
    writeFileSync(file, 'KEY= # set me\n');
    await createDotenvSink(file).put('KEY', 'v');
    expect(read()).toBe('KEY= v # set me\n');
    expect(parseDotenv(read()).map((a) => a.value)).toEqual(['v']);
  });

  it('refuses names that are not variable names', async () => {
    await expect(createDotenvSink(file).put('BAD NAME', 'v')).rejects.toThrow(/not a variable name/);
    expect(existsSync(file)).toBe(false);
  });
});

describe('files', () => {
  it('creates a missing file with mode 0600', async () => {
    await createDotenvSink(file).put('NEW', 'value');
    expect(read()).toBe('NEW=value\n');
    expect(mode()).toBe(0o600);
  });

  it('makes a 0644 file 0600, even when nothing else changes', async () => {
    writeFileSync(file, 'KEY=same\n', { mode: 0o644 });
    expect(mode()).toBe(0o644);
    await createDotenvSink(file).put('KEY', 'same');
    expect(mode()).toBe(0o600);
    await createDotenvSink(file).put('KEY', 'other');
    expect(mode()).toBe(0o600);
  });

  it('leaves no temporary or lock file behind', async () => {
    writeFileSync(file, 'A=1\n');
    await createDotenvSink(file).put('A', '2');
    expect(readdirSync(root).filter((f) => f.startsWith(`.case-${n}`) || f.startsWith(`case-${n}.env.`))).toEqual([]);
  });

  it('fails with a typed, non-retryable failure when the path cannot be written, naming the path but not the value', async () => {
    writeFileSync(file, 'x');
    const err = await createDotenvSink(join(file, 'sub.env'))
      .put('KEY', 'the-secret-value')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect((err as Error).message).toContain('ENOTDIR');
    expect((err as Error).message).not.toContain('the-secret-value');
  });
});

describe('locking', () => {
  it('20 concurrent puts of different names all land and the file parses', async () => {
    writeFileSync(file, '# shared\nKEEP=me\n');
    const sinks = [createDotenvSink(file), createDotenvSink(file)];
    await Promise.all(Array.from({ length: 20 }, (_, i) => (sinks[i % 2] as ReturnType<typeof createDotenvSink>).put(`VAR_${i}`, `value ${i}`)));
    const text = read();
    const names = parseDotenv(text).map((a) => a.name);
    expect(names.sort()).toEqual(['KEEP', ...Array.from({ length: 20 }, (_, i) => `VAR_${i}`)].sort());
    for (let i = 0; i < 20; i++) expect(getDotenvValue(text, `VAR_${i}`)).toBe(`value ${i}`);
    expect(text.startsWith('# shared\nKEEP=me\n')).toBe(true);
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it('writers in separate processes never lose each other’s updates', async () => {
    writeFileSync(file, 'BASE=1\n');
    const script = [
      `import { createDotenvSink } from ${JSON.stringify(join(PROJECT_ROOT, 'activities/sinks/dotenv.ts'))};`,
      'const [path, prefix] = process.argv.slice(-2);',
      'const sink = createDotenvSink(path);',
      'for (let i = 0; i < 8; i++) await sink.put(`${prefix}_${i}`, `${prefix} ${i}`);',
    ].join('\n');
    const scriptFile = join(root, `writer-${n}.mts`);
    writeFileSync(scriptFile, script);
    const tsx = join(PROJECT_ROOT, 'node_modules/.bin/tsx');
    await Promise.all(['P0', 'P1', 'P2'].map((p) => run(tsx, [scriptFile, file, p], { timeout: 60_000 })));
    const text = read();
    for (const p of ['P0', 'P1', 'P2']) for (let i = 0; i < 8; i++) expect(getDotenvValue(text, `${p}_${i}`)).toBe(`${p} ${i}`);
    expect(getDotenvValue(text, 'BASE')).toBe('1');
  }, 60_000);

  it('waits for a live lock holder, then writes', async () => {
    writeFileSync(file, 'A=1\n');
    writeFileSync(`${file}.lock`, 'another writer\n');
    const sink = createDotenvSink(file);
    let done = false;
    const put = sink.put('A', '2').then(() => (done = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(done).toBe(false);
    expect(read()).toBe('A=1\n');
    rmSync(`${file}.lock`);
    await put;
    expect(read()).toBe('A=2\n');
  });

  it('gives up on a lock held too long with a retryable failure', async () => {
    writeFileSync(file, 'A=1\n');
    writeFileSync(`${file}.lock`, '4242@elsewhere\n');
    const err = await createDotenvSink(file, { lockWaitMs: 200 })
      .put('A', 'secret-2')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).nonRetryable).toBe(false);
    expect((err as Error).message).toMatch(/locked by 4242@elsewhere/);
    expect((err as Error).message).not.toContain('secret-2');
    expect(read()).toBe('A=1\n');
    rmSync(`${file}.lock`);
  });

  it('takes over a stale lock left by a dead writer', async () => {
    writeFileSync(file, 'A=1\n');
    writeFileSync(`${file}.lock`, '999999@dead-host\n');
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${file}.lock`, old, old);
    const started = Date.now();
    await createDotenvSink(file).put('A', '2');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(read()).toBe('A=2\n');
    expect(existsSync(`${file}.lock`)).toBe(false);
    expect(readdirSync(root).filter((f) => f.includes('.stale-'))).toEqual([]);
  });
});
