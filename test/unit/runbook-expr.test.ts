import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';
import { evalExpr, exprRefs, parseExpr, ExprEvalError, ExprSyntaxError } from '../../lib/runbook/expr.js';
import type { RefContext } from '../../lib/runbook/refs.js';

function ctx(params: Record<string, unknown> = {}, steps: RefContext['steps'] = {}, incident: Record<string, unknown> = {}): RefContext {
  return { params, steps, incident };
}
const run = (src: string, c: RefContext = ctx()): boolean => evalExpr(parseExpr(src), c);

function syntaxError(src: string): ExprSyntaxError {
  try {
    parseExpr(src);
  } catch (e) {
    if (e instanceof ExprSyntaxError) return e;
    throw e;
  }
  throw new Error(`expected ${JSON.stringify(src)} not to parse`);
}

describe('parseExpr / evalExpr', () => {
  it('evaluates literals and references', () => {
    expect(run('true')).toBe(true);
    expect(run('false')).toBe(false);
    expect(run('params.lockdown', ctx({ lockdown: true }))).toBe(true);
    expect(run('params.lockdown', ctx({ lockdown: false }))).toBe(false);
    expect(run('steps.snap.output.rows.0.active', ctx({}, { snap: { output: { rows: [{ active: true }] } } }))).toBe(true);
    expect(run("incident.severity == 'critical'", ctx({}, {}, { severity: 'critical' }))).toBe(true);
    expect(run('params.n == 3', ctx({ n: 3 }))).toBe(true);
    expect(run('params.n == -1.5', ctx({ n: -1.5 }))).toBe(true);
    expect(run("params.n == '3'", ctx({ n: 3 }))).toBe(false);
    expect(run('params.a != params.b', ctx({ a: 'x', b: 'y' }))).toBe(true);
  });

  it('binds not tighter than and, and tighter than or; comparisons tightest', () => {
    const c = ctx({ a: true, b: false, c: false, s: 'x' });
    expect(run('params.a or params.b and params.c', c)).toBe(true);
    expect(run('(params.a or params.b) and params.c', c)).toBe(false);
    expect(run('not params.b and params.a', c)).toBe(true);
    expect(run('not (params.b or params.a)', c)).toBe(false);
    expect(run("not params.s == 'y'", c)).toBe(true);
    expect(run('not not params.a', c)).toBe(true);
    const tree = parseExpr('params.a or params.b and not params.c');
    expect(tree.type).toBe('or');
    if (tree.type !== 'or') return;
    expect(tree.right.type).toBe('and');
    if (tree.right.type !== 'and') return;
    expect(tree.right.right.type).toBe('not');
  });

  it('handles single and double quotes, escapes and keyword-looking strings', () => {
    const c = ctx({ s: "it's", k: 'and', d: 'say "hi"' });
    expect(run(`params.s == "it's"`, c)).toBe(true);
    expect(run("params.s == 'it\\'s'", c)).toBe(true);
    expect(run("params.k == 'and'", c)).toBe(true);
    expect(run(`params.d == 'say "hi"'`, c)).toBe(true);
    expect(run("'' == ''")).toBe(true);
  });

  it('tests membership with in', () => {
    const c = ctx({ scope: 'user', ids: ['u1', 'u2'], none: [] }, {}, { severity: 'high' });
    expect(run("'u2' in params.ids", c)).toBe(true);
    expect(run("'u3' in params.ids", c)).toBe(false);
    expect(run("incident.severity in ['high', 'critical']", c)).toBe(true);
    expect(run("params.scope in ['jti', 'all']", c)).toBe(false);
    expect(run("'u1' in params.none", c)).toBe(false);
    expect(run("'u1' in params.missing", c)).toBe(false);
    expect(run("not 'u3' in params.ids", c)).toBe(true);
    expect(() => run("'u' in params.scope", c)).toThrow(ExprEvalError);
  });

  it('uses condition truthiness', () => {
    for (const falsy of ['', [], 0, false, null, undefined]) expect(run('params.v', ctx({ v: falsy }))).toBe(false);
    for (const truthy of ['x', ['a'], 1, true, {}]) expect(run('params.v', ctx({ v: truthy }))).toBe(true);
    expect(run('params.absent')).toBe(false);
    expect(run('steps.skipped.output.found', ctx({}, { skipped: {} }))).toBe(false);
  });

  it('never reads inherited properties', () => {
    expect(run('params.constructor', ctx({}))).toBe(false);
    expect(run('steps.s.output.list.length', ctx({}, { s: { output: { list: [1] } } }))).toBe(false);
    expect(run('steps.s.output.__proto__', ctx({}, { s: { output: {} } }))).toBe(false);
  });

  it('compares lists and mappings by value', () => {
    expect(run("params.ids == ['a', 'b']", ctx({ ids: ['a', 'b'] }))).toBe(true);
    expect(run("params.ids == ['b', 'a']", ctx({ ids: ['a', 'b'] }))).toBe(false);
    expect(run('steps.x.output == steps.y.output', ctx({}, { x: { output: { a: [1] } }, y: { output: { a: [1] } } }))).toBe(true);
  });
});

describe('parse errors carry the column', () => {
  it.each([
    ['params.a ==', 12, /unexpected end/],
    ['params.a = 1', 10, /unexpected character '='/],
    ["params.a == 'open", 13, /unterminated string/],
    ['(params.a or params.b', 22, /expected '\)'/],
    ['params.a params.b', 10, /unexpected 'params.b'/],
    ['secrets.key', 1, /unknown reference/],
    ['steps.snap.rows', 1, /steps\.snap\.output/],
    ['params.a == params.b == params.c', 22, /chained/],
    ['params.a and or params.b', 14, /expected a value but found 'or'/],
    ['   ', 1, /empty condition/],
    ['params.a && params.b', 10, /unexpected character '&'/],
  ])('%s → column %i', (src, column, message) => {
    const e = syntaxError(src);
    expect(e.column).toBe(column);
    expect(e.message).toMatch(message);
    expect(e.message).toContain(`column ${column}`);
  });
});

describe('exprRefs', () => {
  it('lists references left to right', () => {
    const refs = exprRefs(parseExpr("params.a and (steps.s.output.x.0 == incident.severity or 'v' in [params.b])"));
    expect(refs.map((r) => r.raw)).toEqual(['params.a', 'steps.s.output.x.0', 'incident.severity', 'params.b']);
    expect(refs[1]).toEqual({ kind: 'steps', name: 's', path: ['x', '0'], raw: 'steps.s.output.x.0' });
  });
});

describe('safety', () => {
  it('contains no eval or Function constructor', () => {
    for (const f of ['../../lib/runbook/expr.ts', '../../lib/runbook/refs.ts']) {
      const src = readFileSync(fileURLToPath(new URL(f, import.meta.url)), 'utf8');
      expect(src).not.toMatch(/\beval\s*\(|\bnew\s+Function\b|\bFunction\s*\(/);
    }
  });

  it('treats code-looking input as a syntax error, not code', () => {
    expect(() => parseExpr('process.exit(1)')).toThrow(ExprSyntaxError);
    expect(() => parseExpr("params.a == (() => 1)()")).toThrow(ExprSyntaxError);
  });
});
