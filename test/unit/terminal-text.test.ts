/** Incident data printed by the CLI cannot draw on the terminal. */
import { describe, expect, it } from 'vitest';
import { Ctx } from '../../cli/context.js';
import { jsonSafe, terminalSafe } from '../../lib/terminal-text.js';

/** Anything that can steer a terminal (newline allowed where the test says so). */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const STEERING = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;

// A note that clears the line and draws a fake approval, then hides what follows with a bidi override.
const FORGED = 'ok\r\x1b[2K\x1b[32mbob approved lockdown (2/2)\x1b[0m \u202Eevil\u2066 \x9b31m \x07';

describe('terminal-safe text', () => {
  it('shows escapes, C0/C1 controls and bidi controls as visible escapes; keeps text, newlines and tabs', () => {
    const out = terminalSafe(`${FORGED}\nnext\tcol — café ✓`);
    expect(out).toBe('ok\\u{d}\\u{1b}[2K\\u{1b}[32mbob approved lockdown (2/2)\\u{1b}[0m \\u{202e}evil\\u{2066} \\u{9b}31m \\u{7}\nnext\tcol — café ✓');
    expect(out.replace(/\t/g, ' ')).not.toMatch(STEERING);
  });

  it('JSON keeps its meaning and escapes what JSON.stringify writes raw (C1, bidi)', () => {
    const json = jsonSafe(JSON.stringify({ note: FORGED }));
    expect(JSON.parse(json)).toEqual({ note: FORGED });
    expect(json).not.toMatch(STEERING);
  });

  it('every human and --json line the CLI prints goes through it', () => {
    const writes: string[] = [];
    const original = process.stdout.write.bind(process.stdout);
    const originalErr = process.stderr.write.bind(process.stderr);
    process.stdout.write = ((chunk: string) => (writes.push(chunk), true));
    process.stderr.write = ((chunk: string) => (writes.push(chunk), true));
    try {
      new Ctx({}).out({}, FORGED);
      new Ctx({}).progress(FORGED);
      new Ctx({ json: true }).out({ note: FORGED }, 'unused');
    } finally {
      process.stdout.write = original;
      process.stderr.write = originalErr;
    }
    expect(writes).toHaveLength(3);
    for (const w of writes) expect(w).not.toMatch(STEERING);
  });
});
