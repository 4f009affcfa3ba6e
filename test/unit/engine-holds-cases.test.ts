/**
 * Shared containment from the workflow's side (issue 11 §2), the orders the matrix does not
 * reach, signed: the issue's own scenario, a second abort while rolling back, an undo that
 * fails and is retried, a worker lost after a take or release committed, an abort while a take
 * or an all-clear's lift is in flight, one incident holding all four kinds (bans ending at their
 * expiry: engine-holds-expiry.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECLARER, refusal, runbook, startEngine, stopEngine, withFleet, type Fleet, type Incident } from './engine-harness.js';
import { HoldsModel } from './holds-model.js';
import { bindTarget, gateOpen, holdRunbook, inState, KINDS, STUBS, stepOf, waitFor, type Faults, type RunbookShape } from './holds-stubs.js';

beforeAll(startEngine, 120_000);
afterAll(stopEngine);

const SIGNED = { stubs: STUBS };
const lines = (inc: Incident) => inc.calls.map((c) => `${c.activity}:${c.step}`);

/** Incidents named `names` on one target, declared on demand. */
function scenario(fleet: Fleet, tag: string, names: string[], faults: Record<string, Faults> = {}, model = new HoldsModel()) {
  const ids = Object.fromEntries(names.map((n) => [n, fleet.idFor(`${tag}-${n}`)]));
  bindTarget(Object.values(ids), model, Object.fromEntries(Object.entries(faults).map(([n, f]) => [ids[n] as string, f])));
  const declare = (name: string, kind: keyof typeof KINDS, shape: RunbookShape, index = names.indexOf(name)) => fleet.declare({ runbook: holdRunbook(KINDS[kind], index, shape) }, `${tag}-${name}`);
  return { ids, model, declare };
}

function latch(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

describe('two incidents on one lockdown', () => {
  it('the issue’s scenario: aborting the first leaves the flag on, held by the second; the second’s all-clear lifts it', async () => {
    await withFleet(SIGNED, async (fleet) => {
      const { ids, model, declare } = scenario(fleet, 'issue', ['a', 'b']);
      const a = await declare('a', 'lockdown', { gated: false });
      expect(stepOf(await waitFor(a, inState('awaiting-resolve'), 'a holds'))?.summary).toBe('lockdown on');
      const b = await declare('b', 'lockdown', { gated: false });
      expect(stepOf(await waitFor(b, inState('awaiting-resolve'), 'b holds'))?.summary).toBe(`lockdown on (also held by ${ids.a})`);
      await a.abort(DECLARER, 'false alarm');
      let s = await waitFor(a, inState('aborted'), 'a aborted');
      expect(stepOf(s)).toMatchObject({ state: 'undone', effect: 'lockdown on', summary: `lockdown still held by ${ids.b}` });
      expect([model.effect('lockdown', 'lockdown'), model.holderIds('lockdown', 'lockdown')]).toEqual([true, [ids.b]]);
      await b.resolve('alice');
      s = await waitFor(b, inState('completed'), 'b completed');
      expect(stepOf(s)).toMatchObject({ state: 'undone', summary: 'lockdown lifted' });
      expect(model.atInitial()).toBe(true);
      expect([lines(a), lines(b)]).toEqual([
        ['lockdownEnable:hold', 'lockdownDisable:hold.undo'],
        ['lockdownEnable:hold', 'lockdownDisable:hold.undo'],
      ]);
    });
  });

  it('rolling back: a second abort is refused, the hold stays while another incident comes and goes, the rollback’s approval releases it once', async () => {
    await withFleet(SIGNED, async (fleet) => {
      const { ids, model, declare } = scenario(fleet, 'rb', ['a', 'b']);
      const a = await declare('a', 'lockdown', { gated: true });
      await waitFor(a, gateOpen('hold'), 'the gate');
      await a.approve('hold', 'alice');
      await waitFor(a, inState('awaiting-resolve'), 'a holds');
      await a.abort('bob', 'one approver alone');
      await waitFor(a, inState('rolling-back'), 'rolling back');
      expect(await refusal(a.abort(DECLARER, 'again'))).toBe('incident is already rolling-back');
      expect(await refusal(a.resolve(DECLARER))).toMatch(/^two-person rule/);
      const b = await declare('b', 'lockdown', { gated: false });
      expect(stepOf(await waitFor(b, inState('awaiting-resolve'), 'b holds'))?.summary).toBe(`lockdown on (also held by ${ids.a})`);
      await b.abort(DECLARER, 'not ours');
      await waitFor(b, inState('aborted'), 'b aborted');
      expect(model.holderIds('lockdown', 'lockdown')).toEqual([ids.a]);
      expect(lines(a)).toEqual(['lockdownEnable:hold']);
      await a.resolve('carol');
      const s = await waitFor(a, inState('aborted'), 'a aborted');
      expect(stepOf(s)).toMatchObject({ state: 'undone', summary: 'lockdown lifted' });
      expect(lines(a)).toEqual(['lockdownEnable:hold', 'lockdownDisable:hold.undo']);
      expect(model.atInitial()).toBe(true);
    });
  });
});

describe('failures between the halves of a hold', () => {
  it('an all-clear whose release fails blocks the incident, still holding; retry releases it once and the other holder keeps it', async () => {
    await withFleet(SIGNED, async (fleet) => {
      const { ids, model, declare } = scenario(fleet, 'retry', ['a', 'b'], { a: { releaseFailsBefore: 1 } });
      const a = await declare('a', 'read-only', { gated: false, attempts: 1 });
      await waitFor(a, inState('awaiting-resolve'), 'a holds');
      const b = await declare('b', 'read-only', { gated: false });
      await waitFor(b, inState('awaiting-resolve'), 'b holds');
      await a.resolve('alice');
      let s = await waitFor(a, inState('blocked'), 'the failed release');
      expect(s.activeContainment).toEqual(['hold']);
      expect(s.timeline.at(-1)?.message).toBe('lifting hold failed; retry or abort');
      expect(model.holderIds('read-only', 'app/app_user')).toEqual([ids.a, ids.b].sort());
      expect(await a.retry(DECLARER)).toEqual([]);
      s = await waitFor(a, inState('completed'), 'a completed');
      expect(stepOf(s)).toMatchObject({ state: 'undone', summary: `read-only still held by ${ids.b}` });
      expect(lines(a)).toEqual(['databaseReadOnly:hold', 'databaseReadWrite:hold.undo', 'databaseReadWrite:hold.undo']);
      expect(model.events.filter((e) => e.incidentId === ids.a).map((e) => e.op)).toEqual(['take', 'release']);
      expect([model.effect('read-only', 'app/app_user'), model.holderIds('read-only', 'app/app_user')]).toEqual([true, [ids.b]]);
      await b.resolve('carol');
      expect(stepOf(await waitFor(b, inState('completed'), 'b completed'))?.summary).toBe('read-only lifted');
      expect(model.atInitial()).toBe(true);
    });
  });

  it('a worker lost after a take or a release committed: the retried call is a no-op, the other incident’s hold untouched', async () => {
    await withFleet(SIGNED, async (fleet) => {
      const { ids, model, declare } = scenario(fleet, 'crash', ['a', 'b'], { a: { takeCrashAfterCommit: true, releaseCrashAfterCommit: true } });
      const a = await declare('a', 'user-disable', { gated: false });
      let s = await waitFor(a, gateOpen('review'), 'a holds');
      expect(stepOf(s)?.summary).toBe('user-disable on');
      const b = await declare('b', 'user-disable', { gated: false });
      s = await waitFor(b, gateOpen('review'), 'b holds');
      expect(stepOf(s)?.summary).toBe(`user-disable on (also held by ${ids.a})`);
      await a.abort(DECLARER, 'wrong users');
      s = await waitFor(a, inState('aborted'), 'a aborted');
      expect(stepOf(s)).toMatchObject({ state: 'undone', summary: `user-disable still held by ${ids.b}` });
      expect(lines(a)).toEqual(['tokensDisableUsers:hold', 'tokensDisableUsers:hold', 'tokensEnableUsers:hold.undo', 'tokensEnableUsers:hold.undo']);
      // Each call acted once; its retry found it done.
      expect(model.events.filter((e) => e.incidentId === ids.a && e.subject === '17').map((e) => `${e.op}:${e.changed}`)).toEqual(['take:true', 'take:false', 'release:false', 'release:false']);
      expect(model.holderIds('user-disable', '17')).toEqual([ids.b]);
      expect(model.holderIds('user-disable', '101')).toEqual([]);
      await b.abort('alice', 'done');
      await waitFor(b, inState('aborted'), 'b aborted');
      expect(model.atInitial()).toBe(true);
    });
  });

  it('an abort whose release fails blocks until retry lifts it (it never closes with its hold left on the target)', async () => {
    await withFleet(SIGNED, async (fleet) => {
      const { ids, model, declare } = scenario(fleet, 'leak', ['a', 'b'], { a: { releaseFailsBefore: 2 } });
      const a = await declare('a', 'lockdown', { gated: false, attempts: 1 });
      await waitFor(a, inState('awaiting-resolve'), 'a holds');
      const b = await declare('b', 'lockdown', { gated: false });
      await waitFor(b, inState('awaiting-resolve'), 'b holds');
      await a.abort(DECLARER, 'false alarm');
      let s = await waitFor(a, inState('blocked'), 'a blocked');
      expect(s.activeContainment).toEqual(['hold']);
      expect(s.timeline.map((t) => t.message)).toContain('abort: lockdown.disable for hold FAILED: Error: target unreachable');
      expect(s.timeline.at(-1)?.message).toBe('abort blocked: lifting hold failed; it stays in force until firebreak retry lifts it (or abort again to close the incident with it in force)');
      await a.retry('alice');
      s = await waitFor(a, (x) => x.state === 'blocked' && x.timeline.filter((t) => t.message.startsWith('abort blocked')).length === 2, 'a blocked again');
      await a.retry('alice');
      s = await waitFor(a, inState('aborted'), 'a aborted');
      expect(s.activeContainment).toEqual([]);
      expect(stepOf(s)?.summary).toBe(`lockdown still held by ${ids.b}`);
      await b.resolve('alice');
      expect(stepOf(await waitFor(b, inState('completed'), 'b completed'))?.state).toBe('undone');
      expect(model.atInitial()).toBe(true);
    });
  });
});

describe('an abort while a call is in flight', () => {
  it('during the take: the take lands, then its release runs once', async () => {
    await withFleet(SIGNED, async (fleet) => {
      const slow = latch();
      const { ids, model, declare } = scenario(fleet, 'intake', ['a', 'b'], { a: { takeWaitsFor: slow.promise } });
      const b = await declare('b', 'lockdown', { gated: false });
      await waitFor(b, inState('awaiting-resolve'), 'b holds');
      const a = await declare('a', 'lockdown', { gated: false });
      await waitFor(a, () => a.calls.length > 0, 'a’s take to start');
      expect(await a.abort(DECLARER, 'mid-take')).toBe('aborting');
      slow.open();
      const s = await waitFor(a, inState('aborted'), 'a aborted');
      expect(stepOf(s)).toMatchObject({ state: 'undone', effect: `lockdown on (also held by ${ids.b})`, summary: `lockdown still held by ${ids.b}` });
      expect(lines(a)).toEqual(['lockdownEnable:hold', 'lockdownDisable:hold.undo']);
      await b.resolve('alice');
      await waitFor(b, inState('completed'), 'b completed');
      expect(model.atInitial()).toBe(true);
    });
  });

  it('during the all-clear’s release: it runs once, nothing is released twice', async () => {
    await withFleet(SIGNED, async (fleet) => {
      const slow = latch();
      const { ids, model, declare } = scenario(fleet, 'inlift', ['a', 'b'], { a: { releaseWaitsFor: slow.promise } });
      const a = await declare('a', 'lockdown', { gated: false });
      await waitFor(a, inState('awaiting-resolve'), 'a holds');
      const b = await declare('b', 'lockdown', { gated: false });
      await waitFor(b, inState('awaiting-resolve'), 'b holds');
      await a.resolve('alice');
      await waitFor(a, (s) => s.state === 'resolving' && a.calls.length === 2, 'a’s release to start');
      await a.abort('bob', 'mid-lift');
      slow.open();
      const s = await waitFor(a, inState('aborted'), 'a aborted');
      expect(s.activeContainment).toEqual([]);
      expect(stepOf(s)).toMatchObject({ state: 'undone', summary: `lockdown still held by ${ids.b}` });
      expect(lines(a)).toEqual(['lockdownEnable:hold', 'lockdownDisable:hold.undo']);
      expect(model.holderIds('lockdown', 'lockdown')).toEqual([ids.b]);
      await b.resolve('carol');
      await waitFor(b, inState('completed'), 'b completed');
      expect(model.atInitial()).toBe(true);
    });
  });
});

describe('one incident holding all four kinds', () => {
  it('the all-clear lifts lockdown and read-only (held on by none), keeps its bans and disables; the other’s abort leaves those to it', async () => {
    const all = (i: number) =>
      runbook(['containment:', ...(['lockdown', 'read-only', 'ban', 'user-disable'] as const).flatMap((k) => [`  - id: ${k.replace('-', '_')}`, `    action: ${KINDS[k].action}`, `    with: ${KINDS[k].with(i)}`])]);
    await withFleet(SIGNED, async (fleet) => {
      const ids = { a: fleet.idFor('all-a'), b: fleet.idFor('all-b') };
      // Their bans end long after the next test's clock has moved: no expiry runs on a worker that is gone.
      const { model } = bindTarget([ids.a, ids.b], new HoldsModel(), {}, () => new Date(Date.now() + 30 * 86_400_000).toISOString());
      const a = await fleet.declare({ runbook: all(0) }, 'all-a');
      await waitFor(a, inState('awaiting-resolve'), 'a holds');
      const b = await fleet.declare({ runbook: all(1) }, 'all-b');
      let s = await waitFor(b, inState('awaiting-resolve'), 'b holds');
      expect(s.steps.map((x) => x.summary)).toEqual(['lockdown', 'read-only', 'ban', 'user-disable'].map((k) => `${k} on (also held by ${ids.a})`));
      await a.resolve('alice');
      s = await waitFor(a, inState('completed'), 'a completed');
      expect(s.activeContainment.sort()).toEqual(['ban', 'user_disable']);
      expect(s.steps.map((x) => [x.id, x.state, x.summary])).toEqual([
        ['lockdown', 'undone', `lockdown still held by ${ids.b}`],
        ['read_only', 'undone', `read-only still held by ${ids.b}`],
        ['ban', 'succeeded', `ban on`],
        ['user_disable', 'succeeded', `user-disable on`],
      ]);
      await b.abort(DECLARER, 'duplicate');
      s = await waitFor(b, inState('aborted'), 'b aborted');
      expect(s.steps.map((x) => [x.id, x.state, x.summary])).toEqual([
        ['lockdown', 'undone', 'lockdown lifted'],
        ['read_only', 'undone', 'read-only lifted'],
        ['ban', 'undone', `ban still held by ${ids.a}`],
        ['user_disable', 'undone', `user-disable still held by ${ids.a}`],
      ]);
      expect(b.calls.filter((c) => c.step.endsWith('.undo')).map((c) => c.activity).sort()).toEqual(['databaseReadWrite', 'lockdownDisable', 'networkUnbanIps', 'tokensEnableUsers']);
      expect(a.calls.filter((c) => c.step.endsWith('.undo')).map((c) => c.activity).sort()).toEqual(['databaseReadWrite', 'lockdownDisable']);
      expect(model.views().map((v) => [v.kind, v.subject, v.holders.map((h) => h.incidentId)]).sort()).toEqual([
        ['ban', '198.51.100.1', [ids.a]],
        ['ban', '203.0.113.7', [ids.a]],
        ['user-disable', '101', [ids.a]],
        ['user-disable', '17', [ids.a]],
      ]);
      expect(model.violations()).toEqual([]);
    });
  });
});
