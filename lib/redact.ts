/**
 * The one redactor for text Firebreak did not write itself (queries, client
 * names, error messages): secret-looking `key=value` pairs, bearer, JWT and
 * provider tokens, URL credentials, and known secret values.
 */

export const REDACTED = '[REDACTED]';

// The patterns are global (for `replace`): do not call `.test` on them, it keeps state.

/** A compact JWT (header and payload base64url of a JSON object). */
export const JWT_PATTERN = /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;

/** Well-known provider token formats: GitHub, Slack, Stripe, AWS access key ids, SendGrid. */
export const PROVIDER_TOKEN_PATTERN =
  /\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,}|AKIA[0-9A-Z]{16}|SG\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})/g;

/** `scheme://user:password@` and `scheme://token@`: the userinfo, up to the `@`. */
export const URL_CREDENTIALS_PATTERN = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@'"]+@/gi;

const BEARER = /\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi;
const SECRET_KEY = String.raw`[A-Za-z0-9_.-]*(?:passw(?:or)?d|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?|sessionid|auth)[A-Za-z0-9_.-]*`;
/** `password=…`, `"token": "…"`, `secret: …` (the value up to a delimiter). */
const SECRET_PAIR = new RegExp(String.raw`(["']?\b${SECRET_KEY}["']?)(\s*[=:]\s*)("[^"]*"?|'[^']*'?|[^\s,;)&'"]+)`, 'gi');
/** Values that are placeholders, not secrets: SQL parameters and what redaction already put there. */
const KEEP_VALUE = /^(?:\?|'\?'|\$\d+|%s|\[REDACTED\])$/;

/** Redact secrets from free text: `key=value` pairs with secret-looking keys, bearer/JWT/provider tokens, URL credentials. */
export function redactText(text: string): string {
  return text
    .replace(URL_CREDENTIALS_PATTERN, '$1')
    .replace(JWT_PATTERN, REDACTED)
    .replace(PROVIDER_TOKEN_PATTERN, REDACTED)
    .replace(BEARER, `$1 ${REDACTED}`)
    .replace(SECRET_PAIR, (whole: string, key: string, sep: string, value: string) => (KEEP_VALUE.test(value) ? whole : `${key}${sep}${REDACTED}`));
}

/**
 * Every occurrence of the known secret values (and their URL-encoded forms) replaced, longest
 * first so a secret that contains another leaves nothing behind; values under 4 characters
 * are ignored (they would shred ordinary text).
 */
export function redactValues(text: string, secrets: Iterable<string>, placeholder = REDACTED): string {
  const values = new Set<string>();
  for (const s of secrets) {
    if (s.length < 4) continue;
    values.add(s);
    values.add(encodeURIComponent(s));
  }
  let out = text;
  for (const v of [...values].sort((a, b) => b.length - a.length)) if (out.includes(v)) out = out.split(v).join(placeholder);
  return out;
}

const isWordChar = (ch: string | undefined): boolean => ch !== undefined && /[A-Za-z0-9_$\u0080-\uffff]/.test(ch);

/**
 * Replace every string literal (`'…'`, `E'…'`, `$tag$…$tag$`, an unterminated one
 * at the end of a truncated query) with `'?'` and every number with `?`; keep
 * quoted identifiers, `$1` parameters and comments (run through {@link redactText},
 * like the rest). SQL as PostgreSQL lexes it, without needing it to be valid.
 */
export function redactSql(sql: string): string {
  let out = '';
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const ch = sql[i] as string;
    const next = sql[i + 1];
    // Comments: kept (ORM tags name the view that ran the query), secrets redacted below.
    if (ch === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end === -1 ? n : end;
      out += sql.slice(i, stop);
      i = stop;
      continue;
    }
    if (ch === '/' && next === '*') {
      let depth = 1;
      let j = i + 2;
      while (j < n && depth > 0) {
        if (sql[j] === '/' && sql[j + 1] === '*') {
          depth += 1;
          j += 2;
        } else if (sql[j] === '*' && sql[j + 1] === '/') {
          depth -= 1;
          j += 2;
        } else j += 1;
      }
      out += sql.slice(i, j);
      i = j;
      continue;
    }
    if (ch === '"') {
      let j = i + 1;
      while (j < n) {
        if (sql[j] === '"' && sql[j + 1] === '"') j += 2;
        else if (sql[j] === '"') break;
        else j += 1;
      }
      out += sql.slice(i, Math.min(j + 1, n));
      i = j + 1;
      continue;
    }
    if (ch === "'") {
      // E'…' allows backslash escapes; the word before the quote was already copied.
      const escapes = /(^|[^A-Za-z0-9_$])[eE]$/.test(out);
      let j = i + 1;
      while (j < n) {
        if (escapes && sql[j] === '\\') j += 2;
        else if (sql[j] === "'" && sql[j + 1] === "'") j += 2;
        else if (sql[j] === "'") break;
        else j += 1;
      }
      out += "'?'";
      i = j + 1;
      continue;
    }
    if (ch === '$') {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (tag && !isWordChar(sql[i - 1])) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        out += "'?'";
        i = close === -1 ? n : close + tag[0].length;
        continue;
      }
    }
    if (/[0-9]/.test(ch) || (ch === '.' && next !== undefined && /[0-9]/.test(next))) {
      if (!isWordChar(sql[i - 1]) && sql[i - 1] !== '$') {
        let j = i + 1;
        while (j < n && /[0-9A-Za-z_.]/.test(sql[j] as string)) {
          if ((sql[j] === 'e' || sql[j] === 'E') && (sql[j + 1] === '+' || sql[j + 1] === '-')) j += 2;
          else j += 1;
        }
        out += '?';
        i = j;
        continue;
      }
    }
    if (isWordChar(ch)) {
      let j = i + 1;
      while (j < n && isWordChar(sql[j])) j += 1;
      out += sql.slice(i, j);
      i = j;
      continue;
    }
    out += ch;
    i += 1;
  }
  return redactText(out);
}
