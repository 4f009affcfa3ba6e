/** The pure bounds of lib/limits.ts: what the workflow's validators and timers compute. */
import { describe, expect, it } from 'vitest';
import { jsonUtf8Bytes, MAX_REMINDER_INTERVAL_MS, NOTE_LIMITS, noteBudgetProblem, reminderIntervalMs } from '../../lib/limits.js';

describe('jsonUtf8Bytes', () => {
  it('is the UTF-8 size of the JSON string, escapes and surrogates included', () => {
    const samples = ['', 'plain', 'quote " and \\ back', 'tab\tnl\ncr\r\b\f', '\u0000\u001f\u007f', 'é', '€', '😀', '\ud800 lone high', 'lone low \udc00', '\u2028\u202e'];
    let seed = 7;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 300; i++) samples.push(Array.from({ length: 1 + Math.floor(rand() * 40) }, () => String.fromCharCode(Math.floor(rand() * 0x10000))).join(''));
    for (const s of samples) expect(jsonUtf8Bytes(s), JSON.stringify(s)).toBe(Buffer.byteLength(JSON.stringify(s), 'utf8'));
  });
});

describe('reminderIntervalMs', () => {
  it('doubles from the runbook interval up to four hours, and never below the interval', () => {
    const m = 60_000;
    expect([0, 1, 2, 3, 7, 8, 9, 100].map((n) => reminderIntervalMs(m, n) / m)).toEqual([1, 2, 4, 8, 128, 240, 240, 240]);
    expect(reminderIntervalMs(6 * 60 * m, 3)).toBe(6 * 60 * m);
    expect(MAX_REMINDER_INTERVAL_MS).toBe(240 * m);
  });
});

describe('noteBudgetProblem', () => {
  const none = { count: 0, bytes: 0 };
  it('takes a note within every budget', () => {
    expect(noteBudgetProblem(none, none, 100)).toBeUndefined();
    expect(noteBudgetProblem({ count: NOTE_LIMITS.perPerson - 1, bytes: 0 }, { count: NOTE_LIMITS.total - 1, bytes: 0 }, NOTE_LIMITS.perPersonBytes)).toBeUndefined();
  });
  it('refuses past the count or size, per person first, then per incident', () => {
    expect(noteBudgetProblem({ count: NOTE_LIMITS.perPerson, bytes: 0 }, none, 1)).toMatch(/^you have added 100 notes/);
    expect(noteBudgetProblem({ count: 1, bytes: NOTE_LIMITS.perPersonBytes - 10 }, none, 11)).toMatch(/^this note would take your notes on this incident past 64 KiB/);
    expect(noteBudgetProblem(none, { count: NOTE_LIMITS.total, bytes: 0 }, 1)).toMatch(/^this incident has 400 notes/);
    expect(noteBudgetProblem(none, { count: 1, bytes: NOTE_LIMITS.totalBytes }, 1)).toMatch(/^this note would take the incident's notes past 256 KiB/);
  });
});
