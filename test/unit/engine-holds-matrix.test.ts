/**
 * Shared containment from the workflow's side (issue 11 §2): several incidents on one target,
 * every order of their takes and ends (all-clear, abort by the declarer or an approver, abort
 * of approved containment through `rolling-back`, abort while the gate is open), on the
 * time-skipping server with stubbed activities backed by one model of the target's holds
 * (./holds-model.ts). After every event the effect is present exactly while someone holds
 * it; each incident calls the release of each step it took exactly once (none for a step
 * that never took, none on the all-clear for containment that is not lifted then); at the
 * end the target is as it was, but for bans held to their expiry (time-skipped past) and
 * user disables an all-clear keeps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alsoHeldBy } from '../../lib/holds.js';
import type { IncidentStatus } from '../../workflows/definitions.js';
import { DECLARER, startEngine, stopEngine, withFleet, type Fleet, type Incident } from './engine-harness.js';
import { HoldsModel } from './holds-model.js';
import { BAN_TTL_S, bindTarget, gateOpen, holdRunbook, inState, KINDS, releaseLine, STUBS, stepOf, waitFor, type KindSpec, type Target } from './holds-stubs.js';

beforeAll(startEngine, 120_000);
afterAll(stopEngine);

/** Run `fn` over `items`, `limit` at a time. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

// ---- the matrix ----------------------------------------------------------------

/**
 * How one incident goes: its start (declare; take, after the gate's approval when gated) and its end.
 * `all-clear` ends lifted kinds with `resolve`, the others by approving the review.
 */
const VARIANTS = ['all-clear', 'all-clear-gated', 'abort-declarer', 'abort-approver', 'rollback-declarer', 'rollback-approver', 'abort-gate-open'] as const;
type Variant = (typeof VARIANTS)[number];
const ENDS: Variant[] = ['all-clear', 'all-clear-gated'];
const ABORTS: Variant[] = ['abort-declarer', 'abort-approver', 'rollback-declarer', 'rollback-approver', 'abort-gate-open'];
const gated = (v: Variant) => v === 'all-clear-gated' || v.startsWith('rollback') || v === 'abort-gate-open';
const takes = (v: Variant) => v !== 'abort-gate-open';
const abortedBy = (v: Variant) => (v.endsWith('declarer') || v === 'abort-gate-open' ? DECLARER : 'bob');

interface Plan {
  label: string;
  spec: KindSpec;
  variants: Variant[];
  /** Incident index per event: its first appearance starts it, its second ends it. */
  order: number[];
  /** The effect was in force before any incident (an operator's own lockdown, an older ban, a user already inactive). */
  pre: boolean;
}

/** Every distinct order of the events of `n` incidents, two each (start before end). */
function interleavings(n: number): number[][] {
  const out: number[][] = [];
  const left = Array.from({ length: n }, () => 2);
  const walk = (acc: number[]) => {
    if (acc.length === 2 * n) return void out.push([...acc]);
    for (let i = 0; i < n; i++) {
      if (!left[i]) continue;
      left[i]! -= 1;
      acc.push(i);
      walk(acc);
      acc.pop();
      left[i]! += 1;
    }
  };
  walk([]);
  return out;
}

interface Outcome {
  /** Model events: for the report of a failure. */
  trace: string[];
  incidents: Incident[];
  model: HoldsModel;
}

/** Play one plan; throws with the order and what was found when anything is off. */
async function play(fleet: Fleet, plan: Plan, until?: Target['until']): Promise<Outcome> {
  const { spec, variants } = plan;
  const ids = variants.map((_, i) => fleet.idFor(`${plan.label}-${i}`));
  const { model } = bindTarget(ids, new HoldsModel(plan.pre ? [[spec.kind, spec.common]] : []), {}, until);
  const incs: Incident[] = [];
  /** Who holds the shared subject, as the rule says it should be. */
  const holding = new Set<number>();
  const trace: string[] = [];
  const seen = new Set<number>();

  const expectHolds = (when: string) => {
    const problems = model.violations();
    const want = [...holding].map((i) => ids[i] as string).sort();
    if (JSON.stringify(model.holderIds(spec.kind, spec.common)) !== JSON.stringify(want)) problems.push(`holders of ${spec.common} are [${model.holderIds(spec.kind, spec.common).join(', ')}], expected [${want.join(', ')}]`);
    if (model.effect(spec.kind, spec.common) !== (want.length > 0 || plan.pre)) problems.push(`effect on ${spec.common} is ${model.effect(spec.kind, spec.common)}`);
    for (const [i] of variants.entries()) {
      const own = spec.own?.(i);
      if (own && JSON.stringify(model.holderIds(spec.kind, own)) !== JSON.stringify(holding.has(i) ? [ids[i]] : [])) problems.push(`holders of ${own} are [${model.holderIds(spec.kind, own).join(', ')}]`);
    }
    if (problems.length) throw new Error(`after ${when}: ${problems.join('; ')}`);
  };
  const others = (i: number) => [...holding].filter((j) => j !== i).map((j) => ids[j] as string).sort();

  const start = async (i: number) => {
    const v = variants[i] as Variant;
    const inc = await fleet.declare({ runbook: holdRunbook(spec, i, { gated: gated(v) }) }, `${plan.label}-${i}`);
    incs[i] = inc;
    if (gated(v)) {
      await waitFor(inc, gateOpen('hold'), 'the gate');
      if (!takes(v)) return;
      await inc.approve('hold', 'alice');
    }
    const s = await waitFor(inc, (x) => stepOf(x)?.state === 'succeeded' && (spec.liftOnResolve ? x.state === 'awaiting-resolve' : gateOpen('review')(x)), 'the hold to be taken');
    const summary = `${spec.kind} on${alsoHeldBy(others(i))}`;
    if (stepOf(s)?.summary !== summary) throw new Error(`${ids[i]} took with "${stepOf(s)?.summary}", expected "${summary}"`);
    holding.add(i);
  };

  const end = async (i: number) => {
    const v = variants[i] as Variant;
    const inc = incs[i] as Incident;
    const released = releaseLine(spec.kind, { lifted: !others(i).length && !plan.pre, stillHeldBy: others(i) });
    let s: IncidentStatus;
    if (v === 'all-clear' || v === 'all-clear-gated') {
      if (spec.liftOnResolve) {
        await inc.resolve('bob');
        s = await waitFor(inc, inState('completed'), 'completed');
        holding.delete(i);
        if (stepOf(s)?.state !== 'undone' || stepOf(s)?.summary !== released) throw new Error(`${ids[i]} all-clear left hold ${stepOf(s)?.state} "${stepOf(s)?.summary}", expected undone "${released}"`);
      } else {
        await inc.approve('review', 'bob');
        s = await waitFor(inc, inState('completed'), 'completed');
        if (stepOf(s)?.state !== 'succeeded' || JSON.stringify(s.activeContainment) !== '["hold"]') throw new Error(`${ids[i]} completed with hold ${stepOf(s)?.state}, active [${s.activeContainment.join(', ')}]`);
      }
      return;
    }
    await inc.abort(abortedBy(v), 'matrix');
    if (v.startsWith('rollback')) {
      // Approved containment: an abort by one person waits, held, for the all-clear's approval.
      await waitFor(inc, inState('rolling-back'), 'rolling-back');
      expectHolds(`${ids[i]} rolling-back`);
      await inc.resolve('carol');
    }
    s = await waitFor(inc, inState('aborted'), 'aborted');
    if (takes(v)) {
      holding.delete(i);
      if (stepOf(s)?.state !== 'undone' || stepOf(s)?.summary !== released) throw new Error(`${ids[i]} abort left hold ${stepOf(s)?.state} "${stepOf(s)?.summary}", expected undone "${released}"`);
    } else if (stepOf(s)?.state !== 'cancelled' || s.gates.find((g) => g.id === 'hold')?.state !== 'cancelled') {
      throw new Error(`${ids[i]} aborted at its gate with hold ${stepOf(s)?.state}`);
    }
    if (s.activeContainment.length) throw new Error(`${ids[i]} aborted with active containment [${s.activeContainment.join(', ')}]`);
  };

  try {
    for (const i of plan.order) {
      const first = !seen.has(i);
      seen.add(i);
      trace.push(`${first ? (takes(variants[i] as Variant) ? 'take' : 'declare') : variants[i]}#${i}`);
      await (first ? start(i) : end(i));
      expectHolds(trace.at(-1) as string);
    }
    // Each incident's calls of this kind: one take per start that took, one release per hold the end lifts, none else.
    for (const [i, v] of variants.entries()) {
      const calls = (incs[i] as Incident).calls.filter((c) => c.activity === spec.take || c.activity === spec.release || c.activity === 'networkExpireBans');
      const releases = takes(v) && (spec.liftOnResolve || !ENDS.includes(v)) ? 1 : 0;
      const want = [...(takes(v) ? [`${spec.take}:hold`] : []), ...(releases ? [`${spec.release}:hold.undo`] : [])];
      const got = calls.map((c) => `${c.activity}:${c.step}`);
      if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`${ids[i]} (${v}) called [${got.join(', ')}], expected [${want.join(', ')}]`);
      const undo = calls.find((c) => c.activity === spec.release);
      if (undo && JSON.stringify(undo.args) !== JSON.stringify(spec.undoArgs(calls[0]?.args ?? {}))) throw new Error(`${ids[i]} released with ${JSON.stringify(undo.args)}`);
    }
    // Back as it was, but for what outlives an all-clear by design (bans until their expiry, user disables).
    const kept = spec.liftOnResolve ? [] : variants.flatMap((v, i) => (ENDS.includes(v) ? [ids[i] as string] : []));
    if (JSON.stringify(model.holderIds(spec.kind, spec.common)) !== JSON.stringify(kept.sort())) throw new Error(`left holders [${model.holderIds(spec.kind, spec.common).join(', ')}], expected [${kept.join(', ')}]`);
    if (!kept.length && !model.atInitial()) throw new Error(`the target is not back as it was: ${JSON.stringify(model.views())}`);
  } catch (err) {
    throw new Error(`${plan.label} [${plan.variants.join(', ')}${plan.pre ? ', in force before' : ''}] order ${trace.join(' → ')}: ${(err as Error).message}`);
  }
  return { trace, incidents: incs, model };
}

/**
 * Two incidents: every order × (all-clear | abort) for each, the concrete end cycling through its
 * kinds ((abort, all-clear) in some order is (all-clear, abort) in the mirrored one).
 */
function pairPlans(spec: KindSpec): Plan[] {
  const plans: Plan[] = [];
  for (const order of interleavings(2)) {
    for (const classes of [[ENDS, ENDS], [ENDS, ABORTS], [ABORTS, ABORTS]]) {
      const n = plans.length;
      const variants = classes.map((c, k) => c[(n + 3 * k) % c.length] as Variant);
      plans.push({ label: `${spec.kind}-2x${n}`, spec, variants, order, pre: n % 3 === 2 });
    }
  }
  return plans;
}

/** Three incidents: all 90 orders, each incident's variant cycling so every variant meets every position. */
function triplePlans(spec: KindSpec): Plan[] {
  return interleavings(3).map((order, n) => ({ label: `${spec.kind}-3x${n}`, spec, variants: [0, 3, 6].map((k) => VARIANTS[(n + k) % VARIANTS.length] as Variant), order, pre: n % 5 === 4 }));
}

/** Play plans concurrently; every failing order is reported, not only the first. */
async function playAll(fleet: Fleet, plans: Plan[], until?: Target['until']): Promise<Outcome[]> {
  const failures: string[] = [];
  const outcomes: Outcome[] = [];
  await pool(plans, 30, async (plan) => {
    try {
      outcomes.push(await play(fleet, plan, until));
    } catch (err) {
      failures.push((err as Error).message);
    }
  });
  expect(failures).toEqual([]);
  return outcomes;
}

/**
 * The matrices run on a development target (nothing signed): verifying Ed25519 statements in
 * the workflow sandbox was most of their cost, and who decides is judged the same way either
 * way (two-person rule, approver groups, abort of approved containment). The tests after them
 * are signed.
 */
const MATRIX_FLEET = { stubs: STUBS, unauthenticated: true };

const timings: string[] = [];
afterAll(() => {
  if (timings.length) console.log(`holds matrix: ${timings.join('; ')}`);
});

describe('every order of take, all-clear and abort of shared containment', () => {
  it('lockdown, three incidents: all 90 orders', async () => {
    const t0 = Date.now();
    const plans = triplePlans(KINDS.lockdown);
    expect(plans).toHaveLength(90);
    await withFleet(MATRIX_FLEET, (fleet) => playAll(fleet, plans));
    timings.push(`lockdown 3 incidents: ${plans.length} orders in ${Date.now() - t0} ms`);
  }, 180_000);

  // (The lockdown's two-incident orders are in the three-incident ones, every variant in every position.)
  for (const spec of [KINDS['read-only'], KINDS['user-disable']]) {
    it(`${spec.kind}, two incidents: every order of (all-clear | abort) × (all-clear | abort)`, async () => {
      const t0 = Date.now();
      const plans = pairPlans(spec);
      expect(plans).toHaveLength(18);
      await withFleet(MATRIX_FLEET, (fleet) => playAll(fleet, plans));
      timings.push(`${spec.kind} 2 incidents: ${plans.length} orders in ${Date.now() - t0} ms`);
    }, 180_000);
  }

  // Last in this file: once an abandoned child (a ban's expiry timer) has run, the time-skipping
  // server stops skipping time (temporalio/sdk-typescript#1101), so every ban of this matrix
  // ends at one instant and one sleep reaches it.
  it('ban, two incidents: every order; what an all-clear leaves held ends at its expiry, and only then', async () => {
    const t0 = Date.now();
    const plans = pairPlans(KINDS.ban);
    await withFleet(MATRIX_FLEET, async (fleet) => {
      const env = fleet.env;
      const endsAt = (await env.currentTimeMs()) + 10 * 60_000 + BAN_TTL_S * 1000;
      const outcomes = await playAll(fleet, plans, () => new Date(endsAt).toISOString());
      const held = outcomes.filter((o) => !o.model.atInitial());
      expect(held.length).toBeGreaterThan(0);
      // Just before the end nothing has expired.
      await env.sleep(endsAt - 5_000 - (await env.currentTimeMs()));
      expect(outcomes.filter((o) => !o.model.atInitial())).toHaveLength(held.length);
      expect(outcomes.flatMap((o) => o.incidents.flatMap((inc) => inc.calls.filter((c) => c.activity === 'networkExpireBans')))).toEqual([]);
      await env.sleep(endsAt + 2_000 - (await env.currentTimeMs()));
      const deadline = Date.now() + 30_000;
      while (outcomes.some((o) => !o.model.atInitial()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(outcomes.filter((o) => !o.model.atInitial()).map((o) => o.trace.join(' → '))).toEqual([]);
      // Every ban that was taken has its timer, aborted or not; it ran once, and found nothing of others to end early.
      for (const o of outcomes) {
        for (const inc of o.incidents) {
          const expiries = inc.calls.filter((c) => c.activity === 'networkExpireBans').map((c) => c.step);
          expect(expiries).toEqual(inc.calls.some((c) => c.activity === 'networkBanIps') ? ['hold.expiry'] : []);
        }
      }
    });
    timings.push(`ban 2 incidents: ${plans.length} orders + expiry in ${Date.now() - t0} ms`);
  }, 180_000);
});
