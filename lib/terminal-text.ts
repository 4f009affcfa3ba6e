/**
 * Text from incident data (notes, reasons, step summaries, names) on its way to a terminal.
 * A note must not be able to move the cursor, recolour, clear the screen or reorder what
 * follows it (ANSI escapes, C0/C1 controls, Unicode bidi overrides): such characters are shown
 * as visible `\u{…}` escapes instead. Newlines and tabs stay.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/gu;

const escape = (ch: string): string => `\\u{${(ch.codePointAt(0) ?? 0).toString(16)}}`;

/** Human output: every unsafe character as a visible escape. */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, escape);
}

/** JSON output: JSON.stringify escapes C0 controls itself, but writes C1 and bidi controls raw. */
export function jsonSafe(json: string): string {
  return json.replace(UNSAFE, (ch) => `\\u${(ch.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`);
}
