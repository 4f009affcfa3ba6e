/**
 * The `when:` condition language. Grammar, loosest binding first:
 *
 *   expr    := and ('or' and)*
 *   and     := not ('and' not)*
 *   not     := 'not' not | cmp
 *   cmp     := primary (('==' | '!=' | 'in') primary)?
 *   primary := true | false | NUMBER | 'str' | "str" | REF | '[' list ']' | '(' expr ')'
 *
 * REF is `params.x`, `steps.id.output.a.0` or `incident.field`. Interpreted by
 * walking the tree; nothing is ever evaluated as code.
 *
 * Pure: runs inside the Temporal workflow sandbox.
 */
import type { Ref, RefContext } from './refs.js';
// A pure sibling module (no Node built-ins), so safe for the sandbox too.
import { lookupRef, parseRefText, RefSyntaxError } from './refs.js';

export type Literal = string | number | boolean;

/** Parsed condition. `column` is 1-based in the source. */
export type Expr =
  | { type: 'literal'; value: Literal; column: number }
  | { type: 'list'; items: Expr[]; column: number }
  | { type: 'ref'; ref: Ref; column: number }
  | { type: 'not'; operand: Expr; column: number }
  | { type: 'and' | 'or'; left: Expr; right: Expr; column: number }
  | { type: 'cmp'; op: '==' | '!=' | 'in'; left: Expr; right: Expr; column: number };

/** A condition that does not parse; `column` is 1-based. */
export class ExprSyntaxError extends Error {
  override name = 'ExprSyntaxError';
  constructor(
    readonly reason: string,
    readonly column: number,
  ) {
    super(`${reason} at column ${column}`);
  }
}

/** A condition that cannot be evaluated (e.g. `in` over something that is not a list). */
export class ExprEvalError extends Error {
  override name = 'ExprEvalError';
}

type TokKind = 'punct' | 'string' | 'number' | 'word' | 'end';
interface Tok {
  kind: TokKind;
  text: string;
  value?: Literal;
  column: number;
}

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'true', 'false']);
const WORD = /^[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*/;
const NUMBER = /^-?\d+(?:\.\d+)?(?![A-Za-z0-9_.])/;

function tokenize(src: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    const column = i + 1;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (two === '==' || two === '!=') {
      toks.push({ kind: 'punct', text: two, column });
      i += 2;
    } else if ('()[],'.includes(c)) {
      toks.push({ kind: 'punct', text: c, column });
      i++;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      let out = '';
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\' && j + 1 < src.length) j++;
        out += src[j] ?? '';
        j++;
      }
      if (j >= src.length) throw new ExprSyntaxError('unterminated string', column);
      toks.push({ kind: 'string', text: src.slice(i, j + 1), value: out, column });
      i = j + 1;
    } else {
      const rest = src.slice(i);
      const num = NUMBER.exec(rest);
      const word = num ? null : WORD.exec(rest);
      const m = num ?? word;
      if (!m) throw new ExprSyntaxError(`unexpected character '${c}'`, column);
      toks.push(num ? { kind: 'number', text: m[0], value: Number(m[0]), column } : { kind: 'word', text: m[0], column });
      i += m[0].length;
    }
  }
  toks.push({ kind: 'end', text: 'end of input', column: src.length + 1 });
  return toks;
}

class Parser {
  private pos = 0;
  constructor(private readonly toks: Tok[]) {}

  private peek(): Tok {
    return this.toks[this.pos] as Tok;
  }
  private next(): Tok {
    return this.toks[this.pos++] as Tok;
  }
  private isWord(w: string): boolean {
    const t = this.peek();
    return t.kind === 'word' && t.text === w;
  }
  private isPunct(p: string): boolean {
    const t = this.peek();
    return t.kind === 'punct' && t.text === p;
  }
  private expectPunct(p: string): void {
    const t = this.peek();
    if (!this.isPunct(p)) throw new ExprSyntaxError(`expected '${p}' but found '${t.text}'`, t.column);
    this.pos++;
  }

  parse(): Expr {
    if (this.peek().kind === 'end') throw new ExprSyntaxError('empty condition', 1);
    const e = this.or();
    const t = this.peek();
    if (t.kind !== 'end') throw new ExprSyntaxError(`unexpected '${t.text}'`, t.column);
    return e;
  }

  private or(): Expr {
    return this.leftAssociative('or', () => this.and());
  }

  private and(): Expr {
    return this.leftAssociative('and', () => this.not());
  }

  /** `a op b op c` as `(a op b) op c`. */
  private leftAssociative(op: 'or' | 'and', operand: () => Expr): Expr {
    let left = operand();
    while (this.isWord(op)) {
      const { column } = this.next();
      left = { type: op, left, right: operand(), column };
    }
    return left;
  }

  private not(): Expr {
    if (this.isWord('not')) {
      const { column } = this.next();
      return { type: 'not', operand: this.not(), column };
    }
    return this.cmp();
  }

  private cmp(): Expr {
    const left = this.primary();
    const t = this.peek();
    const op = t.kind === 'punct' && (t.text === '==' || t.text === '!=') ? t.text : t.kind === 'word' && t.text === 'in' ? 'in' : undefined;
    if (!op) return left;
    this.pos++;
    const right = this.primary();
    const after = this.peek();
    if (after.kind === 'punct' && (after.text === '==' || after.text === '!=') || (after.kind === 'word' && after.text === 'in')) {
      throw new ExprSyntaxError(`comparisons cannot be chained; add parentheses before '${after.text}'`, after.column);
    }
    return { type: 'cmp', op, left, right, column: t.column };
  }

  private primary(): Expr {
    const t = this.next();
    if (t.kind === 'string' || t.kind === 'number') return { type: 'literal', value: t.value as Literal, column: t.column };
    if (t.kind === 'punct' && t.text === '(') {
      const e = this.or();
      this.expectPunct(')');
      return e;
    }
    if (t.kind === 'punct' && t.text === '[') {
      const items: Expr[] = [];
      while (!this.isPunct(']')) {
        items.push(this.primary());
        if (!this.isPunct(']')) this.expectPunct(',');
      }
      this.pos++;
      return { type: 'list', items, column: t.column };
    }
    if (t.kind === 'word') {
      if (t.text === 'true' || t.text === 'false') return { type: 'literal', value: t.text === 'true', column: t.column };
      if (KEYWORDS.has(t.text)) throw new ExprSyntaxError(`expected a value but found '${t.text}'`, t.column);
      try {
        return { type: 'ref', ref: parseRefText(t.text), column: t.column };
      } catch (e) {
        if (e instanceof RefSyntaxError) throw new ExprSyntaxError(e.message, t.column);
        throw e;
      }
    }
    throw new ExprSyntaxError(t.kind === 'end' ? 'unexpected end of condition' : `expected a value but found '${t.text}'`, t.column);
  }
}

/** Parse a `when:` condition. Throws ExprSyntaxError (with a 1-based column). */
export function parseExpr(src: string): Expr {
  return new Parser(tokenize(src)).parse();
}

/** Every reference in the expression, left to right. */
export function exprRefs(expr: Expr): Ref[] {
  switch (expr.type) {
    case 'literal':
      return [];
    case 'ref':
      return [expr.ref];
    case 'list':
      return expr.items.flatMap(exprRefs);
    case 'not':
      return exprRefs(expr.operand);
    default:
      return [...exprRefs(expr.left), ...exprRefs(expr.right)];
  }
}

/** Condition truthiness: '', [], 0, false, null and undefined are false. */
export function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  return Boolean(v);
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  if (typeof a === 'object' && typeof b === 'object' && a !== null && b !== null && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a);
    const rb = b as Record<string, unknown>;
    return ka.length === Object.keys(b).length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && sameValue((a as Record<string, unknown>)[k], rb[k]));
  }
  return false;
}

function value(expr: Expr, ctx: RefContext): unknown {
  switch (expr.type) {
    case 'literal':
      return expr.value;
    case 'list':
      return expr.items.map((i) => value(i, ctx));
    case 'ref':
      // A missing value is undefined (false), e.g. the output of a skipped step.
      return lookupRef(expr.ref, ctx);
    case 'not':
      return !truthy(value(expr.operand, ctx));
    case 'and':
      return truthy(value(expr.left, ctx)) && truthy(value(expr.right, ctx));
    case 'or':
      return truthy(value(expr.left, ctx)) || truthy(value(expr.right, ctx));
    case 'cmp': {
      const l = value(expr.left, ctx);
      const r = value(expr.right, ctx);
      if (expr.op === '==') return sameValue(l, r);
      if (expr.op === '!=') return !sameValue(l, r);
      if (r === undefined || r === null) return false;
      if (!Array.isArray(r)) throw new ExprEvalError(`right side of 'in' (column ${expr.right.column}) is not a list`);
      return r.some((x) => sameValue(l, x));
    }
  }
}

/** Evaluate a parsed condition against run-time values. */
export function evalExpr(expr: Expr, ctx: RefContext): boolean {
  return truthy(value(expr, ctx));
}
