/**
 * lib/incidents without Temporal: the wait predicates, ids and dedup keys, and that every
 * intent refuses bad input before it asks its front door for a Temporal client.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, PROJECT_ROOT, type Config } from '../../lib/config.js';
import { incidentDir, writeDocuments, writeTimeline } from '../../lib/documents/files.js';
import { timelineMarkdown } from '../../lib/documents/index.js';
import { UsageError } from '../../lib/errors.js';
import { pastMoment } from '../../lib/incidents/moments.js';
import {
  banLiftDedupKey,
  canonicalNetwork,
  checkTarget,
  isTerminal,
  liftBan,
  listBans,
  lockdownDedupKey,
  lockdownOn,
  markPersonalData,
  mergedNoticeArgs,
  needsHumanOrEnded,
  noticeArgsFromFlags,
  regenerateReport,
  toWorkflowId,
  waitExitCode,
  type FrontDoor,
} from '../../lib/incidents/index.js';
import type { NoticeStatus } from '../../workflows/notice-definitions.js';
import type { IncidentState, IncidentStatus } from '../../workflows/definitions.js';

const fixture = (): IncidentStatus => JSON.parse(readFileSync(new URL('../fixtures/incident-status.json', import.meta.url), 'utf8')) as IncidentStatus;
const dataDir = mkdtempSync(join(tmpdir(), 'fbt-incidents-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
const config: Readonly<Config> = { ...loadConfig({ env: {}, cwd: '/' }), runbooksDir: join(PROJECT_ROOT, 'runbooks'), dataDir };
const actor = { user: 'unit', host: 'test', via: 'cli' as const };

/** A front door whose client must never be asked for: the input is refused first. */
const offline: FrontDoor = {
  config,
  client: (): Promise<Client> => Promise.reject(new Error('contacted Temporal before validating')),
};

describe('wait predicates', () => {
  const states: IncidentState[] = ['running', 'awaiting-approval', 'awaiting-resolve', 'blocked', 'completed', 'aborted', 'rejected'];

  it('needsHumanOrEnded stops at a gate, the all-clear, a block or the end; never while running', () => {
    expect(states.filter((state) => needsHumanOrEnded({ state }))).toEqual(['awaiting-approval', 'awaiting-resolve', 'blocked', 'completed', 'aborted', 'rejected']);
    expect(states.filter((state) => isTerminal({ state }))).toEqual(['completed', 'aborted', 'rejected']);
  });

  it('declare --wait exit codes: 2 rejected, 1 blocked or aborted, else 0', () => {
    expect(Object.fromEntries(states.map((s) => [s, waitExitCode(s)]))).toEqual({
      running: 0,
      'awaiting-approval': 0,
      'awaiting-resolve': 0,
      blocked: 1,
      completed: 0,
      aborted: 1,
      rejected: 2,
    });
  });
});

describe('ids and dedup keys', () => {
  it('an incident id or its workflow id; anything else is a usage error', () => {
    expect(toWorkflowId('INC-20260314-k3v9qa')).toBe('firebreak-INC-20260314-k3v9qa');
    expect(toWorkflowId('firebreak-INC-20260314-k3v9qa')).toBe('firebreak-INC-20260314-k3v9qa');
    expect(() => toWorkflowId('INC 1')).toThrow(UsageError);
    expect(() => toWorkflowId('')).toThrow(UsageError);
  });

  it('one lockdown per target, one lift per target and canonical network', () => {
    expect(lockdownDedupKey('prod')).toBe('lockdown:prod');
    expect(banLiftDedupKey('prod', canonicalNetwork(' 203.0.113.77 '))).toBe('ban-lift:prod:203.0.113.77/32');
    expect(() => canonicalNetwork('10.0.0.1/8')).toThrow(/not an address or CIDR: .*did you mean 10\.0\.0\.0\/8/);
  });
});

describe('intents refuse bad input before contacting Temporal', () => {
  it('lockdown on: unknown mode or target', async () => {
    await expect(lockdownOn(offline, { reason: 'x', mode: 'sometimes', actor })).rejects.toThrow(/unknown mode "sometimes"/);
    await expect(lockdownOn(offline, { reason: 'x', target: 'nope', actor })).rejects.toMatchObject({ exitCode: 2 });
  });

  it('bans: bad network, empty or long reason, unknown target', async () => {
    await expect(liftBan(offline, { network: 'nope', reason: 'x', actor })).rejects.toBeInstanceOf(UsageError);
    await expect(liftBan(offline, { network: '203.0.113.77', reason: '  ', actor })).rejects.toThrow('--reason must not be empty');
    await expect(liftBan(offline, { network: '203.0.113.77', reason: 'x'.repeat(501), actor })).rejects.toThrow('--reason: at most 500 characters');
    await expect(listBans(offline, { target: 'nope', actor })).rejects.toMatchObject({ exitCode: 2 });
    await expect(checkTarget(offline, { target: 'nope', actor })).rejects.toMatchObject({ exitCode: 2 });
  });

  it('report: an id that is not a safe folder name, a count that is not a number', async () => {
    await expect(regenerateReport(offline, { id: '../etc', flags: {} })).rejects.toThrow('incident id "../etc" is not a safe folder name');
    await expect(regenerateReport(offline, { id: 'INC-1', flags: { subjects: 'many' } })).rejects.toThrow('--subjects expects a whole number, got "many"');
    for (const out of ['', '  ']) await expect(regenerateReport(offline, { id: 'INC-1', out, flags: {} })).rejects.toThrow('--out must name a folder');
  });

  it('an awareness time in the future or not a time is refused (report and personal-data), a past one passes', async () => {
    const future = new Date(Date.now() + 86_400_000).toISOString();
    await expect(regenerateReport(offline, { id: 'INC-1', flags: { awareAt: future } })).rejects.toThrow(`--aware-at ${future} is in the future`);
    const noClient = {} as Client; // never reached: refused first
    await expect(markPersonalData(noClient, 'INC-1', actor, { awareAt: future })).rejects.toThrow(`--aware-at ${future} is in the future`);
    await expect(markPersonalData(noClient, 'INC-1', actor, { awareAt: 'soon' })).rejects.toThrow('--aware-at expects an ISO time, got "soon"');
    const past = new Date(Date.now() - 3_600_000).toISOString();
    expect(pastMoment('--aware-at', past)).toBe(past);
    expect(pastMoment('--aware-at', new Date(Date.now() + 60_000).toISOString())).toBeTruthy(); // clock skew tolerated
  });
});

describe('report arguments', () => {
  it('flags give only what was given', () => {
    expect(noticeArgsFromFlags({})).toEqual({});
    expect(noticeArgsFromFlags({ highRisk: true, dataCategory: ['names'], subjects: ' 12 ', records: '0', organisation: 'Acme' })).toEqual({
      high_risk: true,
      data_categories: ['names'],
      subjects_approx: 12,
      records_approx: 0,
      organisation: 'Acme',
    });
  });

  it('recorded step facts, then the GDPR clock, then the flags given now', () => {
    const status = fixture();
    const step = status.steps.find((s) => s.action === 'report.postmortem');
    if (!step) throw new Error('fixture has no report.postmortem step');
    step.proof = { facts: { personal_data: false, organisation: 'Recorded Ltd', subjects_approx: 5 } };
    expect(mergedNoticeArgs(status, undefined, {})).toEqual({ personal_data: false, organisation: 'Recorded Ltd', subjects_approx: 5 });
    status.notice = { workflowId: 'gdpr', awareAt: '2026-03-14T02:50:00.000Z', deadline: '2026-03-17T02:50:00.000Z', highRisk: true, markedBy: 'alice' };
    const clock: NoticeStatus = { incidentId: status.id, awareAt: '2026-03-14T02:55:00.000Z', deadline: '2026-03-17T02:55:00.000Z', highRisk: true, reminders: [], missed: false, sentAt: '2026-03-15T10:00:00.000Z', sentBy: 'dpo' };
    expect(mergedNoticeArgs(status, clock, { organisation: 'Given Ltd' })).toEqual({
      personal_data: true,
      high_risk: true,
      aware_at: '2026-03-14T02:55:00.000Z',
      notice_sent_at: '2026-03-15T10:00:00.000Z',
      notice_sent_by: 'dpo',
      organisation: 'Given Ltd',
      subjects_approx: 5,
    });
    // Without the clock's own answer, the incident's view of awareness.
    expect(mergedNoticeArgs(status, undefined, {}).aware_at).toBe('2026-03-14T02:50:00.000Z');
  });
});

describe('lib/documents writer', () => {
  it('the evidence folder refuses ids that would leave it', () => {
    expect(incidentDir('/data', 'INC-1')).toBe('/data/evidence/INC-1');
    for (const bad of ['../x', 'a/b', '', 'a b']) expect(() => incidentDir('/data', bad)).toThrow(UsageError);
  });

  it('writes the timeline and documents whole, leaving no temporary files', async () => {
    const dir = incidentDir(dataDir, 'INC-20260314-k3v9qa');
    const status = fixture();
    const t = await writeTimeline(dir, status);
    expect(readFileSync(t.markdown, 'utf8')).toBe(timelineMarkdown(status));
    expect(JSON.parse(readFileSync(t.json, 'utf8'))).toEqual(status);
    const docs = await writeDocuments(dir, [{ name: 'postmortem', file: 'postmortem.md', content: '# pm\n' }]);
    expect(docs.files).toEqual({ postmortem: join(dir, 'postmortem.md') });
    expect(readdirSync(dir).sort()).toEqual(['postmortem.md', 'timeline.json', 'timeline.md']);
  });
});

describe('front doors', () => {
  it('no file under cli/ (nor the demo) imports activities', () => {
    const files = [...readdirSync(join(PROJECT_ROOT, 'cli'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => join('cli', f)), 'scripts/demo.ts'];
    const offenders = files.filter((f) => /from\s+'[./]*activities\/|import\('[./]*activities\//.test(readFileSync(join(PROJECT_ROOT, f), 'utf8')));
    expect(files.length).toBeGreaterThan(10);
    expect(offenders).toEqual([]);
  });
});
