/** The one redactor (lib/redact.ts): token formats, secret-looking pairs, URL credentials, SQL literals and known values. */
import { describe, expect, it } from 'vitest';
import { redactSql, redactText, redactValues } from '../../lib/redact.js';

// Built at run time so no token-shaped literal sits in the source.
const token = (prefix: string, n: number): string => prefix + 'A1b2C3d4E5'.repeat(Math.ceil(n / 10)).slice(0, n);

describe('redactText', () => {
  it('redacts every provider token format that any of the old redactors knew', () => {
    for (const t of [
      token('ghp_', 36),
      token('github_pat_', 40),
      token('xoxb-', 24),
      token('xoxo-', 24),
      token('sk_live_', 24),
      token('rk_test_', 24),
      token('pk_live_', 24),
      `AKIA${'ABCDEFGHIJKLMNOP'}`,
      `SG.${token('', 16)}.${token('', 24)}`,
    ]) {
      expect(redactText(`key ${t} end`)).toBe('key [REDACTED] end');
    }
  });

  it('redacts JWTs, bearer credentials and URL credentials', () => {
    expect(redactText('jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln now')).toBe('jwt [REDACTED] now');
    expect(redactText('sent Bearer abcdefgh12345678')).toBe('sent Bearer [REDACTED]');
    expect(redactText('Authorization: Bearer abcdefgh12345678')).not.toContain('abcdefgh');
    expect(redactText('basic dXNlcjpwYXNzd29yZA==')).toBe('basic [REDACTED]');
    expect(redactText('sync postgres://bob:hunter3@db/app and redis://:pw@cache:6379/0')).toBe('sync postgres://db/app and redis://cache:6379/0');
  });

  it('redacts the values of secret-looking keys and keeps placeholders', () => {
    expect(redactText('password=hunter2 user=bob')).toBe('password=[REDACTED] user=bob');
    expect(redactText('{"api_key": "abc123", "name": "x"}')).toBe('{"api_key": [REDACTED], "name": "x"}');
    expect(redactText("WHERE token = '?' AND secret = $1")).toBe("WHERE token = '?' AND secret = $1");
  });
});

describe('redactSql', () => {
  it('replaces literals and numbers, keeps identifiers, parameters and comments (redacted)', () => {
    expect(redactSql(`SELECT "a""b", x FROM t WHERE y = 'it''s' AND z = E'\\'q' AND n > 3.5e+2 AND p = $1 /* token=abc */`)).toBe(
      `SELECT "a""b", x FROM t WHERE y = '?' AND z = E'?' AND n > ? AND p = $1 /* token=[REDACTED] */`,
    );
    expect(redactSql('SELECT $tag$ body $tag$, $$ more $$, col1')).toBe("SELECT '?', '?', col1");
    expect(redactSql("SELECT 'cut in ha")).toBe("SELECT '?'");
  });
});

describe('redactValues', () => {
  it('replaces known values, longest first, and their URL-encoded forms', () => {
    expect(redactValues('a s3cret-more b s3cret c', ['s3cret', 's3cret-more'])).toBe('a [REDACTED] b [REDACTED] c');
    expect(redactValues('url p%40ss%2Fw0rd', ['p@ss/w0rd'])).toBe('url [REDACTED]');
  });

  it('ignores values under 4 characters and takes a placeholder', () => {
    expect(redactValues('abc abcd', ['abc', 'abcd'], '[redacted]')).toBe('abc [redacted]');
    expect(redactValues('nothing here', [])).toBe('nothing here');
  });
});
