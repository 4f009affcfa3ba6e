/** ISO-8601 instants parsed without the clock (pure: `Date.UTC` only), for the workflow sandbox. */

/** Exactly `Date.prototype.toISOString()`'s form: one spelling per instant, as statements carry it. */
const STRICT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** What a person writes in a policy file: seconds and fraction optional, `Z` or an offset. */
const LENIENT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|([+-])(\d{2}):(\d{2}))$/;

/** Milliseconds since the epoch of a `YYYY-MM-DDTHH:MM:SS.sssZ` text, or undefined. */
export function parseStrictInstant(text: string): number | undefined {
  if (!STRICT.test(text)) return undefined;
  const ms = parseInstant(text);
  return ms !== undefined && new Date(ms).toISOString() === text ? ms : undefined;
}

/** Milliseconds since the epoch of an ISO-8601 date-time with a zone, or undefined (also for 31 February). */
export function parseInstant(text: string): number | undefined {
  const m = LENIENT.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute] = [m[1], m[2], m[3], m[4], m[5]].map(Number) as [number, number, number, number, number];
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const milli = m[7] === undefined ? 0 : Number(m[7].padEnd(3, '0').slice(0, 3));
  if (year < 1970 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const local = Date.UTC(year, month - 1, day, hour, minute, second, milli);
  if (new Date(local).getUTCDate() !== day) return undefined;
  if (m[8] === 'Z') return local;
  const offsetHours = Number(m[10]);
  const offsetMinutes = Number(m[11]);
  if (offsetHours > 23 || offsetMinutes > 59) return undefined;
  const offset = (offsetHours * 60 + offsetMinutes) * 60_000;
  return m[9] === '+' ? local - offset : local + offset;
}
