/**
 * Incident data on its way into Block Kit. Notes, reasons, step summaries and arguments are
 * typed by people (or echo what an attacker sent), so every piece is made safe here: mrkdwn
 * control characters (`&`, `<`, `>`: Slack's `<!channel>`, `<@U123>`, `<url|label>` syntax)
 * become entities, plain `@channel`/`@here`/`@everyone` are broken with a word joiner, and
 * controls or bidi overrides show as visible escapes (as in the CLI). Then it is cut to fit
 * Slack's limits without splitting an entity or a surrogate pair. Pure.
 */
import type { types } from '@slack/bolt';
import { terminalSafe } from '../../lib/terminal-text.js';

/** The Block Kit limits the builders stay within (docs.slack.dev, Block Kit reference). */
export const SLACK_LIMITS = {
  messageBlocks: 50,
  modalBlocks: 100,
  /** Section text and any mrkdwn text object. */
  text: 3000,
  sectionField: 2000,
  sectionFields: 10,
  headerText: 150,
  contextElements: 10,
  buttonText: 75,
  buttonValue: 2000,
  actionId: 255,
  blockId: 255,
  optionText: 75,
  optionValue: 150,
  selectOptions: 100,
  checkboxOptions: 10,
  inputLabel: 2000,
  inputHint: 2000,
  placeholder: 150,
  plainTextInput: 3000,
  modalTitle: 24,
  modalButton: 24,
  privateMetadata: 3000,
  /** Our own bound on a message's `text` fallback (Slack truncates at 40,000; notifications show far less). */
  fallbackText: 3000,
} as const;

export const ELLIPSIS = '…';

// A word joiner after the @ keeps the words readable and stops any auto-parsing into a broadcast.
const BROADCAST = /@(channel|here|everyone)\b/giu;

/** Controls and bidi overrides as visible escapes, and no plain broadcast words. */
export function safeText(raw: string): string {
  return terminalSafe(raw).replace(BROADCAST, '@\u2060$1');
}

const ENTITY: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };

/** `raw` made safe and cut so that the result (ellipsis included) has at most `max` characters. */
function fit(raw: string, max: number, escape: boolean): string {
  // Making text safe never shortens it: past `max + 1` characters nothing more can be shown.
  const safe = safeText(raw.length > max + 1 ? raw.slice(0, max + 1) : raw);
  const pieces: string[] = [];
  let length = 0;
  for (const ch of safe) {
    const piece = escape ? (ENTITY[ch] ?? ch) : ch;
    pieces.push(piece);
    length += piece.length;
  }
  if (length <= max) return pieces.join('');
  let out = '';
  for (const piece of pieces) {
    if (out.length + piece.length + ELLIPSIS.length > max) break;
    out += piece;
  }
  return out + ELLIPSIS;
}

/** Incident data for mrkdwn: escaped, at most `max` characters. */
export function md(raw: string, max: number = SLACK_LIMITS.text): string {
  return fit(raw, max, true);
}

/**
 * Incident data for a plain_text object: safe, at most `max` characters. Slack does not parse
 * plain_text for markup; a word joiner after each `<` makes sure `<!channel>` could not be read
 * as a mention even if it did, and looks the same.
 */
export function plainText(raw: string, max: number): string {
  return fit(raw.replace(/</g, '<\u2060'), max, false);
}

/** A mrkdwn text object of already escaped text; `verbatim` stops Slack's own link and mention parsing. */
export function mrkdwn(text: string): types.MrkdwnElement {
  return { type: 'mrkdwn', text: text.length > SLACK_LIMITS.text ? text.slice(0, SLACK_LIMITS.text - 1) + ELLIPSIS : text, verbatim: true };
}

/** A plain_text object of incident data, cut to `max`. */
export function plain(raw: string, max: number): types.PlainTextElement {
  return { type: 'plain_text', text: plainText(raw, max) || ' ', emoji: true };
}

/**
 * Escaped lines joined with newlines within `max` characters. Lines that do not fit are
 * dropped whole (never cut mid-line) and counted in `more(n)`, which takes their place.
 * @param more what replaces the dropped lines, e.g. `n => \`…and ${n} more steps\``; already mrkdwn.
 * @param keep which end is kept: `first` (drop the tail) or `last` (drop the oldest, the note goes first).
 */
export function linesWithin(lines: readonly string[], max: number, more: (n: number) => string, keep: 'first' | 'last' = 'first'): string {
  const all = lines.join('\n');
  if (all.length <= max) return all;
  const ordered = keep === 'first' ? [...lines] : [...lines].reverse();
  // prefix[k]: length of the first k lines joined.
  const prefix = [0];
  for (const [i, line] of ordered.entries()) prefix.push((prefix[i] ?? 0) + (i ? 1 : 0) + line.length);
  let k = ordered.length - 1;
  while (k > 0 && (prefix[k] ?? 0) + 1 + more(ordered.length - k).length > max) k--;
  const note = more(ordered.length - k).slice(0, max);
  const kept = ordered.slice(0, k);
  return (keep === 'first' ? [...kept, note] : [note, ...kept.reverse()]).join('\n');
}

/** A link Slack renders, only for http(s) URLs; anything else is shown as text. */
export function link(url: string, label: string): string {
  let ok = false;
  try {
    const u = new URL(url);
    ok = (u.protocol === 'https:' || u.protocol === 'http:') && url.length <= 1000 && !/[\s|<>]/u.test(url);
  } catch {
    ok = false;
  }
  return ok ? `<${url.replace(/&/g, '&amp;')}|${md(label, 200)}>` : md(`${label}: ${url}`, 1200);
}

/** `n` with the noun, singular or plural. */
export const count = (n: number, noun: string, plural = `${noun}s`): string => `${n} ${n === 1 ? noun : plural}`;
