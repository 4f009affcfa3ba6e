/** The compiled CLI's staleness check (scripts/build-cli.mjs): an edited source is never run stale. */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/config.js';
// @ts-expect-error plain JavaScript build script without type declarations
import { staleReason } from '../../scripts/build-cli.mjs';

type Manifest = { entry: string; inputs: Record<string, [number, number]> } | null;
const stale = staleReason as (m: Manifest) => string | undefined;
// An entry that exists wherever the check runs: the staleness test is about inputs, not outputs.
const entry = join('..', 'package.json');
const fp = (file: string): [number, number] => {
  const s = statSync(join(PROJECT_ROOT, file));
  return [Math.round(s.mtimeMs), s.size];
};

describe('staleReason', () => {
  it('current when every input has the recorded mtime and size', () => {
    expect(stale({ entry, inputs: { 'cli/main.ts': fp('cli/main.ts'), 'cli/context.ts': fp('cli/context.ts') } })).toBeUndefined();
  });

  it('stale when a source changed (mtime or size), is gone, or nothing was built', () => {
    const [mtime, size] = fp('cli/main.ts');
    expect(stale({ entry, inputs: { 'cli/main.ts': [mtime - 1000, size] } })).toBe('cli/main.ts changed');
    expect(stale({ entry, inputs: { 'cli/main.ts': [mtime, size + 1] } })).toBe('cli/main.ts changed');
    expect(stale({ entry, inputs: { 'cli/gone.ts': [mtime, size] } })).toBe('cli/gone.ts is gone');
    expect(stale({ entry: 'main-missing.js', inputs: {} })).toBe('main-missing.js is missing');
    expect(stale(null)).toBe('not built yet');
  });
});
