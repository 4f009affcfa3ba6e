/**
 * Bans several incidents hold end at their expiry (issue 11 §2), on the time-skipping server
 * with stubbed activities over one model of the target's holds: held until the later expiry;
 * an aborted ban's timer ends nothing of others; an expiry while rolling back leaves the
 * rollback nothing to release.
 *
 * A file of its own: its clock must skip hours, and the time-skipping server stops skipping
 * once an abandoned child (a ban's expiry timer) has run (temporalio/sdk-typescript#1101) or,
 * as seen here, after the failing activities of the neighbouring cases; the later expiries
 * are seconds after the first.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECLARER, startEngine, stopEngine, withFleet, type Fleet, type Incident } from './engine-harness.js';
import { HoldsModel } from './holds-model.js';
import { bindTarget, gateOpen, holdRunbook, inState, KINDS, STUBS, stepOf, waitFor, type RunbookShape } from './holds-stubs.js';

beforeAll(startEngine, 120_000);
afterAll(stopEngine);

/** Incidents named `names` on one target (bans ending when `untilOf` says), declared on demand. */
function scenario(fleet: Fleet, tag: string, names: string[], untilOf: Record<string, number>) {
  const ids = Object.fromEntries(names.map((n) => [n, fleet.idFor(`${tag}-${n}`)]));
  const { model } = bindTarget(Object.values(ids), new HoldsModel(), {}, (id) => new Date(untilOf[id] as number).toISOString());
  const declare = (name: string, shape: RunbookShape) => fleet.declare({ runbook: holdRunbook(KINDS.ban, names.indexOf(name), shape) }, `${tag}-${name}`);
  return { ids, model, declare };
}

describe('bans end at their expiry', () => {
  it('held until the later expiry; an aborted ban’s timer ends nothing of others; an expiry while rolling back leaves the rollback nothing to release', async () => {
    await withFleet({ stubs: STUBS }, async (fleet) => {
      const env = fleet.env;
      const end = (await env.currentTimeMs()) + 2 * 3_600_000;
      const untilOf: Record<string, number> = {};
      // One network held by a and b (later), and c (aborted at once); another by r (rolled back late) and q (later).
      const t1 = scenario(fleet, 'exp1', ['a', 'b', 'c'], untilOf);
      const t2 = scenario(fleet, 'exp2', ['r', 'q'], untilOf);
      Object.assign(untilOf, { [t1.ids.a as string]: end, [t1.ids.b as string]: end + 4_000, [t1.ids.c as string]: end, [t2.ids.r as string]: end, [t2.ids.q as string]: end + 4_000 });
      const [a, b, c, q] = await Promise.all([t1.declare('a', { gated: false }), t1.declare('b', { gated: false }), t1.declare('c', { gated: false }), t2.declare('q', { gated: false })]);
      const r = await t2.declare('r', { gated: true });
      await waitFor(r, gateOpen('hold'), 'r’s gate');
      await r.approve('hold', 'alice');
      for (const inc of [a, b, c, q, r]) await waitFor(inc, gateOpen('review'), 'the ban');
      await c.abort(DECLARER, 'wrong network');
      await waitFor(c, inState('aborted'), 'c aborted');
      await r.abort(DECLARER, 'wrong network');
      await waitFor(r, inState('rolling-back'), 'r rolling back');
      for (const inc of [a, b, q]) {
        await inc.approve('review', 'bob');
        await waitFor(inc, inState('completed'), 'completed, the ban held');
      }
      const ban = (m: HoldsModel) => [m.effect('ban', '203.0.113.7'), m.holderIds('ban', '203.0.113.7')];
      expect(ban(t1.model)).toEqual([true, [t1.ids.a, t1.ids.b].sort()]);
      expect(ban(t2.model)).toEqual([true, [t2.ids.q, t2.ids.r].sort()]);

      // The first expiries fire one second after their end (the timer's margin).
      await env.sleep(end + 2_500 - (await env.currentTimeMs()));
      const expiries = (inc: Incident) => inc.calls.filter((x) => x.activity === 'networkExpireBans').length;
      await waitFor(a, () => expiries(a) + expiries(c) + expiries(r) === 3, 'the first expiries');
      expect(ban(t1.model)).toEqual([true, [t1.ids.b]]);
      expect(ban(t2.model)).toEqual([true, [t2.ids.q]]);
      expect(r.calls.map((x) => `${x.activity}:${x.step}`)).toEqual(['networkBanIps:hold', 'networkExpireBans:hold.expiry']);

      // The rollback's release finds r's hold already ended: it changes nothing, q keeps its ban.
      await r.resolve('carol');
      const s = await waitFor(r, inState('aborted'), 'r aborted');
      expect(stepOf(s)).toMatchObject({ state: 'undone', summary: `ban still held by ${t2.ids.q}` });
      expect(ban(t2.model)).toEqual([true, [t2.ids.q]]);

      await env.sleep(Math.max(0, end + 6_000 - (await env.currentTimeMs())));
      await waitFor(b, () => expiries(b) + expiries(q) === 2, 'the later expiries');
      expect([t1.model.atInitial(), t2.model.atInitial()]).toEqual([true, true]);
      for (const inc of [a, b, c, q, r]) expect(expiries(inc)).toBe(1);
    });
  }, 120_000);
});
