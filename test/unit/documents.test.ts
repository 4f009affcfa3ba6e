/**
 * Phase IV documents: golden files from a fixed, completed token-leak incident,
 * the Mermaid chart checked by Mermaid's own parser, and the rules that keep
 * secrets out. `UPDATE_GOLDEN=1 npx vitest run test/unit/documents.test.ts`
 * rewrites the golden files after an intentional change (review the diff).
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApplicationFailure } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import { Command } from 'commander';
import { JSDOM } from 'jsdom';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createReportActivities } from '../../activities/report/index.js';
import { TargetClients } from '../../activities/deps.js';
import { registerReport } from '../../cli/commands/report.js';
import { Ctx, type Runner } from '../../cli/context.js';
import { sha256Hex } from '../../lib/canonical.js';
import { loadConfig, type Config } from '../../lib/config.js';
import {
  CCPA_HEADINGS,
  ccpaMarkdown,
  gdprArt33Markdown,
  gdprArt34Markdown,
  ganttChart,
  ganttText,
  generateDocuments,
  noticeFactsFromArgs,
  postmortemMarkdown,
  proofSummary,
  recordedNoticeArgs,
  redact,
  rotatedSecrets,
  timelineMarkdown,
  type NoticeFacts,
} from '../../lib/documents/index.js';
import { createLogger } from '../../lib/logger.js';
import { PHASE_TITLES } from '../../lib/runbook/types.js';
import { FailureTypes, type ActionInput, type IncidentStatus } from '../../workflows/definitions.js';

const FIXTURE_TEXT = readFileSync(new URL('../fixtures/incident-status.json', import.meta.url), 'utf8');
const fixture = (): IncidentStatus => JSON.parse(FIXTURE_TEXT) as IncidentStatus;
const GOLDEN_DIR = fileURLToPath(new URL('../golden/', import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === '1';

/** When the report.postmortem step of the fixture started: "generated at" for the on-time drafts. */
const STEP_STARTED = '2026-03-14T03:31:15.151Z';
const ARGS = {
  personal_data: true,
  high_risk: true,
  data_categories: ['names', 'email addresses', 'postal addresses', 'order history (last 90 days)'],
  subjects_approx: 1850,
  records_approx: 2300,
  dpo_contact: 'Data Protection Officer, dpo@shop.example.com, +44 20 7946 0000',
  organisation: 'Acme Shop Ltd',
};
const onTime: NoticeFacts = noticeFactsFromArgs(ARGS, fixture(), STEP_STARTED);
/** Generated 3 d 6 h after awareness, nothing sent: 6 h 42 min past the deadline. */
const late: NoticeFacts = { ...onTime, generatedAt: '2026-03-17T09:30:00.000Z' };

function golden(name: string, actual: string): void {
  const file = join(GOLDEN_DIR, name);
  if (UPDATE) {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(file, actual);
  }
  expect(actual, `${name} differs from test/golden/${name}; rerun with UPDATE_GOLDEN=1 after an intentional change`).toBe(readFileSync(file, 'utf8'));
}

/** Secret values planted in the fixture: proof fields named like values, and a JWT pasted into a note. */
function plantedSecrets(status: IncidentStatus): string[] {
  const found: string[] = [];
  const walk = (v: unknown, key = ''): void => {
    if (Array.isArray(v)) v.forEach((x) => walk(x, key));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
    else if (typeof v === 'string' && /^(value|password|secret|token)$/i.test(key)) found.push(v);
  };
  walk(status.steps.map((s) => s.proof));
  for (const e of status.timeline) found.push(...(e.message.match(/eyJ[\w-]+\.[\w-]+\.[\w-]+/g) ?? []));
  return found;
}

function mermaidBlock(markdown: string): string {
  const m = /```mermaid\n([\s\S]*?)\n```/.exec(markdown);
  if (!m?.[1]) throw new Error('no mermaid block');
  return m[1];
}

// ---- Mermaid under jsdom -------------------------------------------------------

interface GanttTask {
  task: string;
  id: string;
  section: string;
  startTime: Date;
  endTime: Date;
  done?: boolean | null;
  crit?: boolean | null;
}
interface MermaidApi {
  parse(text: string): Promise<unknown>;
  mermaidAPI: { getDiagramFromText(text: string): Promise<{ db: { getTasks(): GanttTask[] } }> };
}
let mermaid: MermaidApi;
const saved = { window: (globalThis as Record<string, unknown>).window, document: (globalThis as Record<string, unknown>).document };

beforeAll(async () => {
  const dom = new JSDOM('<!doctype html><html><body></body></html>', { pretendToBeVisual: true });
  Object.assign(globalThis, { window: dom.window, document: dom.window.document });
  mermaid = (await import('mermaid')).default as unknown as MermaidApi;
});
afterAll(() => {
  Object.assign(globalThis, saved);
});

/** Parse (syntax) and compile the tasks (dates, ids): what rendering would do, without a layout engine. */
async function checkGantt(text: string): Promise<GanttTask[]> {
  await mermaid.parse(text);
  const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
  return diagram.db.getTasks();
}

// ---- tests -----------------------------------------------------------------------

describe('golden documents', () => {
  it('post-mortem', () => golden('postmortem.md', postmortemMarkdown(fixture(), onTime)));
  it('GDPR Art. 33, on time', () => golden('gdpr-art33.md', gdprArt33Markdown(fixture(), onTime)));
  it('GDPR Art. 33, late', () => golden('gdpr-art33-late.md', gdprArt33Markdown(fixture(), late)));
  it('GDPR Art. 34', () => golden('gdpr-art34.md', gdprArt34Markdown(fixture(), onTime)));
  it('California Notice of Data Breach', () => golden('ccpa.md', ccpaMarkdown(fixture(), onTime)));

  it('are deterministic: same input, same bytes, whatever the time zone', () => {
    const before = generateDocuments(fixture(), onTime);
    const tz = process.env.TZ;
    try {
      process.env.TZ = 'Pacific/Kiritimati';
      expect(generateDocuments(fixture(), onTime)).toEqual(before);
      process.env.TZ = 'America/Los_Angeles';
      expect(generateDocuments(fixture(), onTime)).toEqual(before);
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });

  it('says whether the names in it were signed: an incident on a development target is marked unauthenticated', () => {
    expect(postmortemMarkdown(fixture(), onTime)).toContain('| Identity | signed decisions, verified by the worker (declaration: key `ed25519:3f9a0c1d2e4b5a67`, personal) |');
    const dev = { ...fixture(), identity: { authenticated: false, declarer: { responder: 'dave', via: 'unauthenticated' as const } } };
    expect(postmortemMarkdown(dev, onTime)).toContain('| Identity | **UNAUTHENTICATED** — a target marked for local development: names are as typed, nothing was signed |');
    expect(timelineMarkdown(dev)).toContain('- Identity: **UNAUTHENTICATED**');
  });

  it('the post-mortem has every required part', () => {
    const pm = postmortemMarkdown(fixture(), onTime);
    const headings = pm.split('\n').filter((l) => l.startsWith('## '));
    expect(headings).toEqual([
      '## Summary',
      '## Impact',
      '## Timeline',
      '## Approvals',
      '## Decisions on record',
      '## What was contained (II. Containment)',
      '## What was rotated (III. Eradication & recovery)',
      '## Notifications',
      '## Root cause analysis (Five Whys)',
      '## Follow-up actions',
    ]);
    expect(pm).toContain('`e95a2edc459c5ba34b244df70403dd6981f11aa1bca8e325206d1cc5bc43180e`');
    expect(pm).toMatch(/alice \(alice@alice-mbp\) at 2026-03-14 02:51:40 UTC; bob \(bob@bob-ws\) at 2026-03-14 02:53:05 UTC/);
    expect(pm).toContain('**Override** of `probe`');
    expect(pm).toContain('**Waiver** of `SENDGRID_API_KEY`');
    expect(pm).toContain('| Note | Leaked token was [redacted JWT]');
    expect(pm).toContain('| All-clear | carol gave the all-clear');
    expect(pm).toContain('- [ ] Add a test that would have caught this');
    expect(pm).toContain('- [ ] Update the GitHub Actions security audit');
    expect(pm.match(/^\d\. Why/gm)).toHaveLength(5);
    // Only recorded events: one timeline row per timeline entry.
    expect(pm.split('\n').filter((l) => /^\| 2026-03-14 \d\d:\d\d:\d\d \|/.test(l))).toHaveLength(fixture().timeline.length);
  });
});

describe('Mermaid gantt', () => {
  it('the post-mortem chart is valid Mermaid: phases as sections, one task per started step', async () => {
    const status = fixture();
    const tasks = await checkGantt(mermaidBlock(postmortemMarkdown(status, onTime)));
    const started = status.steps.filter((s) => s.startedAt);
    expect(tasks.map((t) => t.task.trim())).toEqual(started.map((s) => s.id));
    expect(new Set(tasks.map((t) => t.id)).size).toBe(tasks.length);
    expect([...new Set(tasks.map((t) => t.section))]).toEqual(Object.values(PHASE_TITLES));
    const probe = tasks.find((t) => t.task.trim() === 'probe');
    expect(probe?.crit).toBe(true);
    // Mermaid reads the times in the chart's dateFormat as local time; so does `new Date` of the same text.
    const redeploy = tasks.find((t) => t.task.trim() === 'redeploy');
    expect(redeploy?.startTime.getTime()).toBe(new Date('2026-03-14T02:53:10').getTime());
    expect(redeploy?.endTime.getTime()).toBe(new Date('2026-03-14T02:58:43').getTime());
    for (const t of tasks) expect(t.endTime.getTime()).toBeGreaterThan(t.startTime.getTime());
  });

  it('a broken chart is rejected, so the check can fail', async () => {
    const good = ganttChart(fixture());
    await expect(checkGantt(good)).resolves.toHaveLength(13);
    // A task without a name (what a step id of only `:`, `#` or `;` would give, unescaped) is a syntax error.
    await expect(checkGantt(good.replace('  ban :done', '  :done'))).rejects.toThrow(/Parse error/);
    // An impossible date passes the grammar but not the task compiler.
    await expect(checkGantt(good.replace('2026-03-14T02:58:42', '2026-13-45T99:58:42'))).rejects.toThrow(/Invalid date/);
  });

  it('step ids that would break the grammar are made safe, ids stay unique', async () => {
    const status = fixture();
    const nasty = ['a: b', 'c # d', 'e ; f', 'multi\nline', 'section evil', 'title evil', '2026-01-01 looks like a date', '%%{init: {}}%%', ''];
    status.steps = nasty.map((id, i) => ({
      id,
      phase: 'containment',
      action: 'tokens.revoke',
      state: 'succeeded',
      startedAt: `2026-03-14T02:4${i}:00.000Z`,
      endedAt: `2026-03-14T02:4${i}:30.000Z`,
    }));
    status.runbook.title = 'title: with # and ; and\nnewline';
    const text = ganttChart(status);
    const tasks = await checkGantt(text);
    expect(tasks).toHaveLength(nasty.length);
    expect(new Set(tasks.map((t) => t.id)).size).toBe(nasty.length);
    for (const t of tasks) expect(t.task).not.toMatch(/[:#;%\n]/);
    expect(tasks.map((t) => t.section)).toEqual(nasty.map(() => PHASE_TITLES.containment));
    expect(ganttText('section x')).toBe('step section x');
    expect(ganttText('a:b#c;d\ne')).toBe('a b c d e');
  });

  it('steps without timestamps are left out; a running step ends at `until`', () => {
    const status = fixture();
    const pm = status.steps.find((s) => s.id === 'postmortem');
    if (!pm) throw new Error('fixture has no postmortem step');
    pm.state = 'running';
    delete pm.endedAt;
    const text = ganttChart(status, { until: '2026-03-14T03:32:00.000Z' });
    expect(text).not.toContain('revoke-all');
    expect(text).toContain('postmortem :active, s13, 2026-03-14T03:31:15, 2026-03-14T03:32:00');
  });
});

describe('GDPR', () => {
  it('states the deadline as awareness + 72 h in UTC', () => {
    expect(gdprArt33Markdown(fixture(), onTime)).toContain('Deadline: **2026-03-17 02:47:12 UTC** (awareness + 72 h)');
    const facts = noticeFactsFromArgs({ personal_data: true, aware_at: '2026-03-14T05:00:00+02:00' }, fixture(), STEP_STARTED);
    expect(gdprArt33Markdown(fixture(), facts)).toContain('Deadline: **2026-03-17 03:00:00 UTC**');
  });

  it('a late draft has the reasons for the delay, an on-time one does not', () => {
    const onTimeText = gdprArt33Markdown(fixture(), onTime);
    const lateText = gdprArt33Markdown(fixture(), late);
    expect(onTimeText).not.toContain('## Reasons for the delay');
    expect(lateText).toContain('## Reasons for the delay');
    expect(lateText.split('## Reasons for the delay')[1]).toMatch(/^\n\nArt\. 33\(1\)[^\n]*\n\n_TODO_\n/);
    expect(lateText).toContain('NOT SENT — the deadline passed 6 h 42 min before this draft was generated');
    const withReasons = gdprArt33Markdown(fixture(), { ...late, delayReasons: 'Scope of the export was only established on 2026-03-17 from CDN logs.' });
    expect(withReasons).toContain('\n\nScope of the export was only established on 2026-03-17 from CDN logs.\n');
  });

  it('records who sent the notice and when; sent late still carries the reasons', () => {
    const sent = gdprArt33Markdown(fixture(), { ...late, noticeSentAt: '2026-03-16T10:00:00Z', noticeSentBy: 'erin (DPO)' });
    expect(sent).toContain('- Notified: 2026-03-16 10:00:00 UTC by erin (DPO) — 16 h 47 min before the deadline.');
    expect(sent).not.toContain('## Reasons for the delay');
    const sentLate = gdprArt33Markdown(fixture(), { ...late, noticeSentAt: '2026-03-17T08:00:00Z', noticeSentBy: 'erin' });
    expect(sentLate).toContain('**5 h 12 min after the deadline**');
    expect(sentLate).toContain('## Reasons for the delay');
  });

  it('Art. 33(3) contents (a) to (d) are all there, measures from containment and recovery', () => {
    const text = gdprArt33Markdown(fixture(), onTime);
    const a = text.indexOf('## (a) Nature');
    const b = text.indexOf('## (b) Data protection officer');
    const c = text.indexOf('## (c) Likely consequences');
    const d = text.indexOf('## (d) Measures taken or proposed');
    expect([a, b, c, d].every((i) => i > 0) && a < b && b < c && c < d).toBe(true);
    expect(text).toContain('Approximate number of data subjects concerned: approximately 1,850');
    expect(text).toContain('Approximate number of personal data records concerned: approximately 2,300');
    expect(text).toContain('Data Protection Officer, dpo@shop.example.com');
    expect(text).toContain('`network.ban_ips`: banned 1 network');
    expect(text).not.toContain('`lockdown.status`');
  });

  it('the Art. 34 notice is plain language with the DPO contact and what subjects can do', () => {
    const text = gdprArt34Markdown(fixture(), onTime);
    expect(text).toContain('## What you can do');
    expect(text).toContain('contact our data protection officer: Data Protection Officer, dpo@shop.example.com');
    expect(text).toContain('- We ended the affected sign-in sessions');
    expect(text).not.toMatch(/tokens\.revoke|EMERGENCY_LOCKDOWN/);
  });
});

describe('California notice', () => {
  it('is titled "Notice of Data Breach" with exactly the five headings, in order', () => {
    const lines = ccpaMarkdown(fixture(), onTime).split('\n');
    expect(lines.filter((l) => l.startsWith('# '))).toEqual(['# Notice of Data Breach']);
    expect(lines.filter((l) => /^#{2,} /.test(l))).toEqual(CCPA_HEADINGS.map((h) => `## ${h}`));
    expect(CCPA_HEADINGS).toEqual(['What Happened', 'What Information Was Involved', 'What We Are Doing', 'What You Can Do', 'For More Information']);
  });
});

describe('secrets stay out', () => {
  const docs = () => [...generateDocuments(fixture(), onTime), ...generateDocuments(fixture(), late)];

  it('no planted secret value appears in any document', () => {
    const secrets = plantedSecrets(fixture());
    expect(secrets).toEqual(expect.arrayContaining(['fbk-FAKE-SECRET-never-print-4f1d2e3c', 'fbk-FAKE-DB-PASSWORD-never-print-a1b2']));
    expect(secrets.length).toBeGreaterThanOrEqual(3);
    for (const doc of docs()) {
      for (const s of secrets) expect(doc.content, `${doc.file} leaks ${s.slice(0, 12)}…`).not.toContain(s);
      expect(doc.content).not.toMatch(/never-print|eyJhbGci/);
    }
  });

  it('rotated secrets are shown by name, sinks and fingerprint only', () => {
    const pm = postmortemMarkdown(fixture(), onTime);
    expect(pm).toContain('| `rotate-jwt` | `JWT_SECRET_KEY` | GitHub Actions secrets of acme/shop, dotenv /etc/shop/production.env | `9c41e07a2b5d` | succeeded |');
    expect(pm).toContain('| `rotate-db` | `DATABASE_PASSWORD` | GitHub Actions secrets of acme/shop | `1f7e2c88d0a4` | succeeded |');
    // Other proof shapes: a list of sinks with per-sink fingerprints, or one `sink`; the fingerprint may come from the summary.
    const status = fixture();
    const [jwt, db] = status.steps.filter((s) => s.action.startsWith('secrets.rotate'));
    if (!jwt || !db) throw new Error('fixture has no rotation steps');
    jwt.proof = { secretName: 'JWT_SECRET_KEY', sinks: [{ sink: 'github', fingerprint: 'abcdef012345' }, 'vault'] };
    db.proof = { secret_name: 'DATABASE_URL', sink: 'dotenv' };
    expect(rotatedSecrets(status).map(({ secret, sinks, fingerprint }) => ({ secret, sinks, fingerprint }))).toEqual([
      { secret: 'JWT_SECRET_KEY', sinks: ['github', 'vault'], fingerprint: 'abcdef012345' },
      { secret: 'DATABASE_URL', sinks: ['dotenv'], fingerprint: '1f7e2c88d0a4' },
    ]);
  });

  it('proofs print whitelisted fields only; a "fingerprint" that is not one is withheld', () => {
    expect(proofSummary({ value: 'hunter2', password: 'x', secret: 'y', token: 'z', key: ':1:EMERGENCY_LOCKDOWN' })).toBe('key=:1:EMERGENCY_LOCKDOWN');
    expect(proofSummary({ fingerprint: 'a'.repeat(64) })).toBe('fingerprint=[withheld]');
    expect(proofSummary({ nested: { fingerprint: '9c41e07a2b5d' }, keys: { checked: 2, example: ':1:fb:ban:10.0.0.0/8' } })).toBe('keys.checked=2');
    expect(proofSummary({ url: 'postgres://app:hunter2@db/shop' })).toBe('url=postgres://app:[redacted]@db/shop');
  });

  it('free text is redacted: JWTs, URL passwords, known token formats, assignments, random-looking strings', () => {
    expect(redact('see eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln now')).toBe('see [redacted JWT] now');
    expect(redact('JWT_SECRET_KEY=s3cr3t-value and secretName=JWT_SECRET_KEY')).toBe('JWT_SECRET_KEY=[redacted] and secretName=JWT_SECRET_KEY');
    expect(redact('token ghp_abcdefghijklmnopqrstuvwxyz0123456789')).toBe('token [redacted]');
    expect(redact('key Kq3v8yq1y0m3b2W4JpXn5u0Zr7Hc9sT2aLQe1fG6dVw=')).toBe('key [redacted]');
    // Digests, commit ids, workflow ids and paths stay readable.
    const kept = 'sha e95a2edc459c5ba34b244df70403dd6981f11aa1bca8e325206d1cc5bc43180e at firebreak-INC-20260314-k3v9qa-ban-expiry-13 in /srv/firebreak/.data/evidence/INC-20260314-k3v9qa/timeline.md';
    expect(redact(kept)).toBe(kept);
  });
});

describe('facts and modes', () => {
  it('which documents apply', () => {
    const names = (args: Record<string, unknown>) => generateDocuments(fixture(), noticeFactsFromArgs(args, fixture(), STEP_STARTED)).map((d) => d.file);
    expect(names({})).toEqual(['postmortem.md']);
    expect(names({ personal_data: true })).toEqual(['postmortem.md', 'gdpr-art33.md', 'ccpa.md']);
    expect(names({ high_risk: true })).toEqual(['postmortem.md', 'gdpr-art33.md', 'gdpr-art34.md', 'ccpa.md']);
  });

  it('arguments are validated, every problem at once; aware_at defaults to the declaration', () => {
    expect(() => noticeFactsFromArgs({ personal: true, subjects_approx: -1, aware_at: 'yesterday' }, fixture(), STEP_STARTED)).toThrow(
      /unknown argument "personal".*subjects_approx must be a whole number.*aware_at must be an ISO 8601 time/,
    );
    expect(noticeFactsFromArgs({}, fixture(), STEP_STARTED).awareAt).toBe('2026-03-14T02:47:12.418Z');
  });

  it('a drill is marked DRILL prominently in every document', () => {
    const status = { ...fixture(), mode: 'drill' as const };
    for (const doc of generateDocuments(status, onTime)) expect(doc.content, doc.file).toContain('**DRILL — NOT A REAL INCIDENT.**');
    expect(postmortemMarkdown(status, onTime).split('\n')[0]).toBe('# [DRILL] Post-mortem: Leaked access or refresh token (INC-20260314-k3v9qa)');
  });

  it('without personal data the post-mortem says no notice was drafted', () => {
    const pm = postmortemMarkdown(fixture(), noticeFactsFromArgs({}, fixture(), STEP_STARTED));
    expect(pm).toContain('No personal data was recorded as affected');
    expect(pm).not.toContain('Aware (GDPR 72 h clock)');
  });
});

describe('report.postmortem activity', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fbt-documents-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
  const base = loadConfig({ env: {}, cwd: '/' });
  const config = { ...base, dataDir } as Readonly<Config>;
  const acts = createReportActivities({ config, logger: createLogger({ level: 'silent', pretty: false }), clients: new TargetClients(config) });
  const input = (args: Record<string, unknown>, status: IncidentStatus | undefined = fixture()): ActionInput => ({
    incidentId: 'INC-20260314-k3v9qa',
    stepId: 'postmortem',
    action: 'report.postmortem',
    target: 'local',
    mode: 'live',
    args,
    requestedAt: STEP_STARTED,
    status,
  });

  it('writes the documents atomically, reports paths and hashes, and a retry writes the same bytes', async () => {
    const first = await acts.reportPostmortem(input(ARGS));
    const dir = join(dataDir, 'evidence', 'INC-20260314-k3v9qa');
    expect(readdirSync(dir).sort()).toEqual(['ccpa.md', 'gdpr-art33.md', 'gdpr-art34.md', 'postmortem.md']);
    const out = first.output as { files: Record<string, string>; sha256: Record<string, string> };
    expect(Object.keys(out.files).sort()).toEqual(['ccpa', 'gdpr-art33', 'gdpr-art34', 'postmortem']);
    for (const [name, path] of Object.entries(out.files)) expect(sha256Hex(readFileSync(path, 'utf8'))).toBe(out.sha256[name]);
    // Same content as the golden files: the step's start is "generated at".
    expect(readFileSync(out.files.postmortem as string, 'utf8')).toBe(postmortemMarkdown(fixture(), onTime));
    expect(first.summary).toMatch(/^post-mortem and 3 notice draft\(s\) written to .* \(GDPR Art\. 33 deadline 2026-03-17T02:47:12\.418Z\)$/);
    const again = await acts.reportPostmortem(input(ARGS));
    expect(again.output).toEqual(first.output);
    // The facts are recorded in the proof so `firebreak report` can regenerate the same drafts later.
    const status = fixture();
    const step = status.steps.find((s) => s.id === 'postmortem');
    if (step) step.proof = first.proof;
    expect(noticeFactsFromArgs(recordedNoticeArgs(status), status, STEP_STARTED)).toEqual(onTime);
  });

  it('refuses bad input as FirebreakBadInput (non-retryable), writing nothing', async () => {
    const err = await acts.reportPostmortem(input({ high_risk: 'yes' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe(FailureTypes.BadInput);
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect((err as Error).message).toMatch(/high_risk must be true or false/);
    const noStatus = await acts.reportPostmortem({ ...input({}), status: undefined }).catch((e: unknown) => e);
    expect((noStatus as ApplicationFailure).type).toBe(FailureTypes.BadInput);
  });
});

describe('firebreak report', () => {
  const outDir = mkdtempSync(join(tmpdir(), 'fbt-report-'));
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  /** The command against a stand-in client whose status query answers the fixture. */
  async function report(argv: string[]): Promise<string> {
    const status = fixture();
    const client = { workflow: { getHandle: () => ({ query: () => Promise.resolve(status) }) } } as unknown as Client;
    class TestCtx extends Ctx {
      override client(): Promise<Client> {
        return Promise.resolve(client);
      }
    }
    const run: Runner =
      (fn) =>
      async (...args: unknown[]) => {
        const cmd = args[args.length - 1] as Command;
        await (fn as (c: Ctx, ...rest: unknown[]) => Promise<void>)(new TestCtx(cmd.optsWithGlobals()), ...args.slice(0, -1));
      };
    const program = new Command('firebreak').option('--json').exitOverride();
    registerReport(program, run);
    let stdout = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout += String(chunk);
      return true;
    });
    const errSpy = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await program.parseAsync(argv, { from: 'user' });
    } finally {
      spy.mockRestore();
      errSpy.mockRestore();
    }
    return stdout;
  }

  it('regenerates the drafts into --out and prints their paths (--json: files)', async () => {
    const out = await report(['--json', 'report', 'INC-20260314-k3v9qa', '--out', outDir, '--personal-data', '--data-category', 'names', '--subjects', '1850']);
    const doc = JSON.parse(out) as { ok: boolean; files: Record<string, string> };
    expect(doc.ok).toBe(true);
    expect(doc.files).toEqual({
      postmortem: join(outDir, 'postmortem.md'),
      'gdpr-art33': join(outDir, 'gdpr-art33.md'),
      ccpa: join(outDir, 'ccpa.md'),
    });
    expect(readFileSync(join(outDir, 'gdpr-art33.md'), 'utf8')).toContain('Approximate number of data subjects concerned: approximately 1,850');
  });

  it('--open prints the post-mortem to stdout', async () => {
    const out = await report(['report', 'INC-20260314-k3v9qa', '--out', outDir, '--open']);
    expect(out.split('\n')[0]).toBe('# Post-mortem: Leaked access or refresh token (INC-20260314-k3v9qa)');
    expect(out).toContain('```mermaid\ngantt');
  });

  it('refuses a bad flag value as a usage error', async () => {
    await expect(report(['report', 'INC-20260314-k3v9qa', '--out', outDir, '--subjects', 'many'])).rejects.toMatchObject({ exitCode: 2 });
    await expect(report(['report', '../etc', '--out', outDir])).rejects.toMatchObject({ exitCode: 2 });
  });
});
