import { describe, it, expect } from 'vitest';
import { findRefs, resolveRefs, soleRef, RefResolutionError, RefSyntaxError } from '../../lib/runbook/refs.js';
import type { RefContext } from '../../lib/runbook/refs.js';

const ctx: RefContext = {
  params: { reason: 'leak in repo', ids: ['u1', 'u2'], hours: 72, lockdown: false, empty: '' },
  steps: {
    snap: { output: { rows: [{ pid: 41 }, { pid: 42 }], count: 2, nested: { flag: true } } },
    skipped: {},
  },
  incident: { id: 'inc-7', severity: 'high', declaredBy: 'alice' },
};

describe('findRefs', () => {
  it('finds every reference in nested objects, arrays and strings, in order', () => {
    const refs = findRefs({
      a: 'why: {{ params.reason }} by {{incident.declaredBy}}',
      b: ['{{ steps.snap.output.rows.0.pid }}', 7, null],
      c: { d: '{{ steps.snap.output }}' },
      e: 'no refs here',
    });
    expect(refs).toEqual([
      { kind: 'params', name: 'reason', path: [], raw: 'params.reason' },
      { kind: 'incident', name: 'declaredBy', path: [], raw: 'incident.declaredBy' },
      { kind: 'steps', name: 'snap', path: ['rows', '0', 'pid'], raw: 'steps.snap.output.rows.0.pid' },
      { kind: 'steps', name: 'snap', path: [], raw: 'steps.snap.output' },
    ]);
  });

  it('returns nothing for values without references', () => {
    expect(findRefs(42)).toEqual([]);
    expect(findRefs('plain } text }}')).toEqual([]);
    expect(findRefs(null)).toEqual([]);
  });

  it.each([
    ['{{ params.reason', /unclosed/],
    ['{{ }}', /empty/],
    ['{{ secrets.key }}', /unknown reference 'secrets.key'/],
    ['{{ steps.snap.rows }}', /steps\.snap\.output/],
    ['{{ steps.snap }}', /steps\.snap\.output/],
    ['{{ params.reason.length }}', /no path/],
    ['{{ params..x }}', /malformed/],
    ['{{ steps.snap.output.a b }}', /bad path segment/],
    ['{{ params.a {{ params.b }}', /nested/],
  ])('rejects %s', (src, message) => {
    expect(() => findRefs({ x: [src] })).toThrow(RefSyntaxError);
    expect(() => findRefs(src)).toThrow(message);
  });
});

describe('soleRef', () => {
  it('recognizes a string that is exactly one reference', () => {
    expect(soleRef('  {{ params.ids }} ')?.name).toBe('ids');
    expect(soleRef('x {{ params.ids }}')).toBeUndefined();
    expect(soleRef('{{ params.a }}{{ params.b }}')).toBeUndefined();
    expect(soleRef('plain')).toBeUndefined();
  });
});

describe('resolveRefs', () => {
  it('keeps the type of a value that is exactly one reference', () => {
    expect(resolveRefs('{{ params.ids }}', ctx)).toEqual(['u1', 'u2']);
    expect(resolveRefs(' {{ params.hours }}  ', ctx)).toBe(72);
    expect(resolveRefs('{{ params.lockdown }}', ctx)).toBe(false);
    expect(resolveRefs('{{ steps.snap.output.nested }}', ctx)).toEqual({ flag: true });
    expect(resolveRefs('{{ steps.snap.output.rows.1.pid }}', ctx)).toBe(42);
    expect(resolveRefs('{{ params.empty }}', ctx)).toBe('');
  });

  it('interpolates text mixed with references, JSON-encoding non-strings', () => {
    expect(resolveRefs('[{{ incident.severity }}] {{ params.reason }} ({{ params.hours }}h, {{ params.ids }})', ctx)).toBe(
      '[high] leak in repo (72h, ["u1","u2"])',
    );
  });

  it('walks objects and arrays without mutating the input', () => {
    const input = { reason: '{{ params.reason }}', list: ['{{ params.hours }}', 'x'], n: 3, ok: true, nothing: null };
    const copy = structuredClone(input);
    expect(resolveRefs(input, ctx)).toEqual({ reason: 'leak in repo', list: [72, 'x'], n: 3, ok: true, nothing: null });
    expect(input).toEqual(copy);
  });

  it('throws RefResolutionError naming the missing reference', () => {
    expect(() => resolveRefs({ a: '{{ params.nope }}' }, ctx)).toThrow(RefResolutionError);
    expect(() => resolveRefs('x {{ params.nope }}', ctx)).toThrow(/params\.nope/);
    expect(() => resolveRefs('{{ steps.ghost.output.x }}', ctx)).toThrow(/step 'ghost' has not run/);
    expect(() => resolveRefs('{{ steps.skipped.output }}', ctx)).toThrow(/steps\.skipped\.output/);
    expect(() => resolveRefs('{{ steps.snap.output.rows.5.pid }}', ctx)).toThrow(/steps\.snap\.output\.rows\.5\.pid/);
    expect(() => resolveRefs('{{ incident.target }}', ctx)).toThrow(/incident\.target/);
    try {
      resolveRefs('{{ params.nope }}', ctx);
    } catch (e) {
      expect((e as RefResolutionError).ref).toBe('params.nope');
    }
  });

  it('only follows own properties (no prototype lookups)', () => {
    expect(() => resolveRefs('{{ steps.snap.output.constructor }}', ctx)).toThrow(RefResolutionError);
    expect(() => resolveRefs('{{ params.toString }}', ctx)).toThrow(RefResolutionError);
    expect(() => resolveRefs('{{ steps.snap.output.rows.length }}', ctx)).toThrow(RefResolutionError);
  });

  it('keeps a __proto__ key as plain data', () => {
    const input = JSON.parse('{"__proto__": "{{ params.reason }}"}') as unknown;
    const out = resolveRefs(input, ctx) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(out, '__proto__')?.value).toBe('leak in repo');
  });
});
