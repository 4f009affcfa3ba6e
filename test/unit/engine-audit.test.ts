/**
 * The audit trail from the workflow, on the time-skipping server with a stubbed append that
 * keeps a chain the way the table does: every entry once, numbered without a gap, in order,
 * decisions with their signed statements, a checkpoint at each phase end and at the close;
 * steps never wait for the log; a database outage longer than the append's retries loses
 * nothing and the close waits for it.
 */
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AppendRequest, AppendResult } from '../../activities/audit/index.js';
import type { AuditEntry } from '../../lib/audit/chain.js';
import { DECLARER, runbook, startEngine, stopEngine, withIncident, type Stub } from './engine-harness.js';

beforeAll(startEngine, 120_000);
afterAll(stopEngine);

const RUNBOOK = runbook(
  [
    'detection:',
    '  - id: look',
    '    action: lockdown.status',
    'containment:',
    '  - id: revoke',
    '    action: tokens.revoke',
    '    with: { scope: jti, jtis: [abc], reason: leak }',
    '  - id: lockdown',
    '    action: lockdown.enable',
    '    approval: { count: 1, group: responders }',
    'postmortem:',
    '  - id: pm',
    '    action: report.postmortem',
  ],
  ['resolve:', '  approval: { count: 1, group: responders }'],
);

/** The table, in memory: what a retried append resends must be what it stored. */
function chainStub(o: { hold?: () => Promise<void>; failFirst?: number } = {}) {
  const stored: AuditEntry[] = [];
  const checkpoints: number[] = [];
  let calls = 0;
  const stub = (async (req: AppendRequest): Promise<AppendResult> => {
    calls += 1;
    await o.hold?.();
    if (calls <= (o.failFirst ?? 0)) throw ApplicationFailure.create({ type: 'FirebreakTargetUnavailable', message: "Firebreak's database (database.url) unreachable" });
    for (const e of req.entries) {
      if (e.seq < stored.length) expect(stored[e.seq]).toEqual(e);
      else if (e.seq === stored.length) stored.push(e);
      else throw new Error(`gap: ${e.seq} after ${stored.length}`);
    }
    if (req.checkpoint) checkpoints.push(stored.length);
    const cp = req.checkpoint ? { incidentId: req.incidentId, size: stored.length, head: 'h', gseq: 0, globalHash: 'g', at: 'now', keyId: 'k', signature: 's' } : undefined;
    return { size: stored.length, head: 'h', appended: req.entries.length, ...(cp && { checkpoint: cp }) };
  }) as unknown as Stub;
  return { stub, stored, checkpoints, calls: () => calls };
}

it('every entry once and in order, decisions with their statements, a checkpoint at each phase end and at the close', async () => {
  const chain = chainStub();
  await withIncident({ runbook: RUNBOOK, audit: true, stubs: { auditAppend: chain.stub } }, async (inc) => {
    await inc.until((s) => s.gates.some((g) => g.id === 'lockdown' && g.state === 'open'));
    await inc.approve('lockdown', 'alice');
    await inc.until((s) => s.state === 'awaiting-resolve');
    await inc.note(DECLARER, 'looked at it');
    await inc.resolve('bob');
    expect((await inc.result()).state).toBe('completed');
  });
  const kinds = chain.stored.map((e) => e.kind);
  expect(kinds[0]).toBe('declared');
  expect(kinds.at(-1)).toBe('closed');
  expect(chain.stored.map((e) => e.seq)).toEqual(chain.stored.map((_, i) => i));
  const decisions = chain.stored.filter((e) => e.kind === 'decision');
  expect(decisions.map((e) => [e.data.kind, e.actor])).toEqual([
    ['approve', 'alice'],
    ['note', DECLARER],
    ['resolve', 'bob'],
  ]);
  for (const d of decisions) expect((d.data.signed as { statement: { kind: string } }).statement.kind).toBe(d.data.kind === 'resolve' ? 'resolve' : d.data.kind);
  const steps = chain.stored.filter((e) => e.data.kind === 'step' && /succeeded:/.test(String(e.data.message))).map((e) => e.data.step);
  expect(steps).toEqual(expect.arrayContaining(['look', 'revoke', 'lockdown', 'pm']));
  expect(chain.stored.find((e) => e.data.step === 'revoke' && /succeeded/.test(String(e.data.message)))?.data.stepState).toMatchObject({ action: 'tokens.revoke', args: { scope: 'jti', jtis: ['abc'] } });
  // One checkpoint at the close covering everything; the phase ends before it.
  expect(chain.checkpoints.at(-1)).toBe(chain.stored.length);
  expect(chain.checkpoints.length).toBeGreaterThanOrEqual(4);
});

it('containment never waits for the log: with every append held, the gate opens and the steps run', async () => {
  let release: () => void = () => undefined;
  const held = new Promise<void>((r) => (release = r));
  const chain = chainStub({ hold: () => held });
  await withIncident({ runbook: RUNBOOK, audit: true, stubs: { auditAppend: chain.stub } }, async (inc) => {
    await inc.until((s) => s.gates.some((g) => g.id === 'lockdown' && g.state === 'open'));
    await inc.approve('lockdown', 'alice');
    const s = await inc.until((x) => x.state === 'awaiting-resolve');
    expect(s.steps.filter((x) => x.phase === 'containment').map((x) => x.state)).toEqual(['succeeded', 'succeeded']);
    expect(chain.stored).toEqual([]);
    release();
    await inc.resolve('bob');
    expect((await inc.result()).state).toBe('completed');
  });
  expect(chain.stored.at(-1)?.kind).toBe('closed');
  expect(chain.stored.map((e) => e.seq)).toEqual(chain.stored.map((_, i) => i));
});

it('a database outage longer than the retries: entries stay queued, nothing is lost, the close waits for them', async () => {
  const chain = chainStub({ failFirst: 6 });
  await withIncident({ runbook: RUNBOOK, audit: true, stubs: { auditAppend: chain.stub } }, async (inc) => {
    await inc.until((s) => s.gates.some((g) => g.id === 'lockdown' && g.state === 'open'));
    await inc.approve('lockdown', 'alice');
    await inc.until((s) => s.state === 'awaiting-resolve');
    await inc.resolve('bob');
    expect((await inc.result()).state).toBe('completed');
  });
  // 6 failures outlast one activity's 5 attempts: the loop waited and tried again.
  expect(chain.calls()).toBeGreaterThan(6);
  expect(chain.stored.map((e) => e.seq)).toEqual(chain.stored.map((_, i) => i));
  expect(chain.stored[0]?.kind).toBe('declared');
  expect(chain.stored.at(-1)?.kind).toBe('closed');
});
