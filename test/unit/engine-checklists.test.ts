/**
 * Human checklists (secrets.manual): every item confirmed or waived, reminders
 * on a durable timer meanwhile, who may do what.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DECLARER, MINUTE, refusal, runbook, startEngine, stopEngine, withIncident } from './engine-harness.js';

beforeAll(startEngine, 120_000);
afterAll(stopEngine);

const VENDOR = runbook(
  ['recovery:', '  - id: vendor', '    action: secrets.manual', '    with: { items: "{{ params.items }}", remind_every_minutes: 60 }', '  - id: after', '    action: lockdown.status', '    needs: [vendor]'],
  ['params:', '  items: { type: "string[]", default: [STRIPE_SECRET, MAIL_API_KEY] }'],
);

it('waits for every item, reminds on the timer, and succeeds with what was confirmed and waived', async () => {
  await withIncident({ runbook: VENDOR }, async (inc) => {
    let s = await inc.until((x) => x.checklists.length > 0, 'the checklist');
    expect(s.checklists).toEqual([{ step: 'vendor', items: [{ name: 'STRIPE_SECRET', state: 'open' }, { name: 'MAIL_API_KEY', state: 'open' }], remindEveryMs: 60 * MINUTE, reminders: 0 }]);
    expect(s.steps[0]).toMatchObject({ state: 'running', summary: 'waiting for 2 item(s) to be rotated by hand: STRIPE_SECRET, MAIL_API_KEY' });
    expect(s.timeline.at(-1)?.message).toBe('vendor: rotate by hand and confirm: STRIPE_SECRET, MAIL_API_KEY');
    expect(s.state).toBe('running');

    await inc.env.sleep(60 * MINUTE + 1_000);
    s = await inc.status();
    expect(s.checklists[0]?.reminders).toBe(1);
    expect(s.timeline.at(-1)).toMatchObject({ kind: 'escalation', step: 'vendor', message: 'vendor: still to rotate by hand: STRIPE_SECRET, MAIL_API_KEY (reminder 1)' });

    expect(await refusal(inc.confirm('vendor', 'STRIPE_SECRET', 'mallory'))).toBe('mallory is neither the declarer nor an approver, so cannot confirm checklist items of this incident');
    expect(await refusal(inc.confirm('nope', 'STRIPE_SECRET', DECLARER))).toBe('no checklist on step "nope" (checklists: vendor)');
    expect(await refusal(inc.confirm('vendor', 'AWS', DECLARER))).toBe('checklist vendor has no item "AWS" (items: STRIPE_SECRET, MAIL_API_KEY)');
    await inc.confirm('vendor', 'STRIPE_SECRET', DECLARER, 'rolled in the dashboard');
    expect(await refusal(inc.confirm('vendor', 'STRIPE_SECRET', 'alice'))).toBe('STRIPE_SECRET is already confirmed by olga');

    // Reminders back off: the second comes twice the interval after the first.
    await inc.env.sleep(60 * MINUTE);
    expect((await inc.status()).checklists[0]?.reminders).toBe(1);
    await inc.env.sleep(60 * MINUTE + 1_000);
    s = await inc.status();
    expect(s.timeline.at(-1)?.message).toBe('vendor: still to rotate by hand: MAIL_API_KEY (reminder 2)');

    expect(await refusal(inc.waive('vendor', 'MAIL_API_KEY', DECLARER, 'never leaked'))).toBe('two-person rule: olga declared this incident and cannot waive checklist items');
    expect(await refusal(inc.waive('vendor', 'MAIL_API_KEY', 'alice', ' '))).toBe('a waiver needs a reason');
    await inc.waive('vendor', 'MAIL_API_KEY', 'alice', 'never on the leaked host');
    s = await inc.result();
    expect(s.state).toBe('completed');
    expect(s.steps.map((x) => [x.id, x.state])).toEqual([['vendor', 'succeeded'], ['after', 'succeeded']]);
    expect(s.steps[0]?.summary).toBe('1 confirmed, 1 waived (MAIL_API_KEY by alice)');
    expect(s.checklists[0]?.items).toMatchObject([
      { name: 'STRIPE_SECRET', state: 'confirmed', by: DECLARER, note: 'rolled in the dashboard' },
      { name: 'MAIL_API_KEY', state: 'waived', by: 'alice', note: 'never on the leaked host' },
    ]);
    const messages = s.timeline.map((t) => t.message);
    expect(messages).toContain('olga confirmed STRIPE_SECRET rotated: rolled in the dashboard');
    expect(messages).toContain('alice WAIVED MAIL_API_KEY: never on the leaked host');
    expect(messages).toContain('vendor succeeded: 1 confirmed, 1 waived (MAIL_API_KEY by alice)');
    expect(inc.calls.map((c) => c.step)).toEqual(['after']);
  });
});

it('reminds every 240 minutes by default', async () => {
  const rb = runbook(['recovery:', '  - id: vendor', '    action: secrets.manual', '    with: { items: [A] }']);
  await withIncident({ runbook: rb }, async (inc) => {
    let s = await inc.until((x) => x.checklists.length > 0, 'the checklist');
    expect(s.checklists[0]?.remindEveryMs).toBe(240 * MINUTE);
    await inc.env.sleep(239 * MINUTE);
    expect((await inc.status()).checklists[0]?.reminders).toBe(0);
    await inc.env.sleep(2 * MINUTE);
    s = await inc.status();
    expect(s.checklists[0]?.reminders).toBe(1);
    await inc.confirm('vendor', 'A', 'bob');
    expect((await inc.result()).steps[0]?.summary).toBe('1 confirmed');
  });
});

it('in dry-run it is only planned; with no items it fails', async () => {
  await withIncident({ runbook: VENDOR, mode: 'dry-run' }, async (inc) => {
    const s = await inc.result();
    expect(s.checklists).toEqual([]);
    expect(s.steps[0]).toMatchObject({
      state: 'planned',
      plan: [
        'would wait for STRIPE_SECRET to be rotated by hand and confirmed (or waived by an approver)',
        'would wait for MAIL_API_KEY to be rotated by hand and confirmed (or waived by an approver)',
      ],
    });
  });
  await withIncident({ runbook: VENDOR, params: { items: [] } }, async (inc) => {
    const s = await inc.until((x) => x.state === 'blocked', 'the block');
    expect(s.steps[0]).toMatchObject({ state: 'failed', error: 'secrets.manual needs at least one item' });
    await inc.abort(DECLARER, 'nothing to rotate');
    expect((await inc.result()).state).toBe('aborted');
  });
});

it('abort while waiting cancels the checklist step', async () => {
  await withIncident({ runbook: VENDOR }, async (inc) => {
    await inc.until((x) => x.checklists.length > 0, 'the checklist');
    await inc.abort('carol', 'wrong incident');
    const s = await inc.result();
    expect(s.state).toBe('aborted');
    expect(s.steps.map((x) => [x.id, x.state])).toEqual([['vendor', 'cancelled'], ['after', 'cancelled']]);
  });
});
