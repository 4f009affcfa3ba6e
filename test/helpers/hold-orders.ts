/** Every order in which incidents can take and release a shared hold, for the exhaustive hold tests (issue 11 §2). */

/** `t` take, `r` release, `R` the same release retried (a crash after it committed). */
export interface Event {
  kind: 't' | 'r' | 'R';
  incident: number;
}

/**
 * Every interleaving of `n` incidents' chains `take → release` (with `retry`: `take → release →
 * retried release`), each chain keeping its own order: n=2 gives 6 (20 with retries), n=3 gives
 * 90 (1680 with retries).
 */
export function interleavings(n: number, retry: boolean): Event[][] {
  const chain: Event['kind'][] = retry ? ['t', 'r', 'R'] : ['t', 'r'];
  const out: Event[][] = [];
  const next = new Array<number>(n).fill(0);
  const walk = (acc: Event[]): void => {
    if (acc.length === n * chain.length) {
      out.push([...acc]);
      return;
    }
    for (let i = 0; i < n; i++) {
      const at = next[i] as number;
      if (at === chain.length) continue;
      next[i] = at + 1;
      acc.push({ kind: chain[at] as Event['kind'], incident: i + 1 });
      walk(acc);
      acc.pop();
      next[i] = at;
    }
  };
  walk([]);
  return out;
}

/** `order` with each release retried `offset` events of the order later (0: at once; past the end: last). */
export function withRetries(order: readonly Event[], offset: number): Event[] {
  const after: Event[][] = order.map(() => []);
  order.forEach((e, j) => {
    if (e.kind === 'r') after[Math.min(j + offset, order.length - 1)]?.push({ kind: 'R', incident: e.incident });
  });
  return order.flatMap((e, j) => [e, ...(after[j] ?? [])]);
}

/**
 * Each order once more, every release retried somewhere after it: the k-th order's retries
 * come k mod (its length) events later, so across the orders every offset is taken (for three
 * incidents, each of the 6 offsets by 15 of the 90 orders).
 */
export function retriedOrders(orders: readonly Event[][]): Event[][] {
  return orders.map((order, k) => withRetries(order, k % order.length));
}
