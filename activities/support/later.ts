/**
 * Start work now and take its outcome later: a rejection is held (never unhandled) until
 * `value()` is awaited, and dropped if it never is (the caller failed first for its own reason).
 */
export function later<T>(work: Promise<T>): { value(): Promise<T> } {
  const settled = work.then(
    (v) => ({ ok: true as const, v }),
    (e: unknown) => ({ ok: false as const, e }),
  );
  return {
    async value() {
      const r = await settled;
      if (r.ok) return r.v;
      throw r.e;
    },
  };
}
