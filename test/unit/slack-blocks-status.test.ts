/**
 * The live status message: the facts `firebreak status` prints, in blocks Slack accepts,
 * whatever the status holds, and never a ping from incident text.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderStatus } from '../../cli/render.js';
import { statusMessage, statusTopic, TOPIC_MAX } from '../../slack/blocks/status-message.js';
import { SLACK_LIMITS } from '../../slack/blocks/text.js';
import type { GateStatus, IncidentStatus, StepStatus } from '../../workflows/definitions.js';
import { allTexts, livePings, shapeProblems } from './slack-blocks-shape.js';

const recorded = JSON.parse(readFileSync(new URL('../fixtures/incident-status.json', import.meta.url), 'utf8')) as IncidentStatus;
const clone = (): IncidentStatus => structuredClone(recorded);
const joined = (s: IncidentStatus, opts = {}) => allTexts(statusMessage(s, opts)).join('\n');

const PINGS = 'heads up <!channel> <!here> <@U123> <#C42|ops> <!subteam^S1> @here @channel @everyone <https://evil.example|click> & done';

describe('status message', () => {
  it('shows what the CLI shows of a completed incident, in blocks Slack accepts', () => {
    const s = clone();
    const msg = statusMessage(s);
    expect(shapeProblems(msg.blocks, 'message')).toEqual([]);
    expect(msg.blocks[0]).toMatchObject({ type: 'header', text: { type: 'plain_text', text: `${s.id} · ${s.runbook.title}` } });
    const text = joined(s);
    const cli = renderStatus(s);
    // Header facts, each step's id, action and state, the containment, and the identity line.
    for (const fact of [s.state, s.severity, s.mode, s.target, s.runbook.sha256.slice(0, 12), 'signed ed25519:3f9a0c1d2e4b5a67 (personal)', '*I. Detection &amp; analysis*', '*IV. Post-mortem &amp; notification*']) expect(text).toContain(fact);
    for (const st of s.steps) {
      expect(cli).toContain(st.id);
      expect(text).toMatch(new RegExp(`\`${st.id}\` ${st.action.replace('.', '\\.')} — ${st.state}`));
    }
    expect(text).toContain(':leftwards_arrow_with_hook: `lockdown` lockdown.enable — undone');
    expect(text).toContain(':warning: `probe` deploy.probe — overridden');
    expect(text).toContain('*Containment in force:*\n• ban');
    expect(text).toContain(`*Checklist \`vendor-secrets\`* (rotate by hand, then \`firebreak confirm ${s.id} vendor-secrets &lt;item&gt;\`)`);
    expect(text).toContain(':ballot_box_with_check: STRIPE_SECRET_KEY — confirmed by alice');
    expect(text).toContain(':heavy_minus_sign: SENDGRID_API_KEY — waived by bob');
    // The newest five timeline entries, in order, with the total.
    expect(text).toContain(`*Timeline* (last 5 of ${s.timeline.length})`);
    const shown = s.timeline.slice(-5).map((t) => t.message);
    let at = -1;
    for (const m of shown) {
      const i = text.indexOf(m.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'), at + 1);
      expect(i, m).toBeGreaterThan(at);
      at = i;
    }
    expect(text).not.toContain(s.timeline.at(-6)?.message ?? '\u0000');
    // Completed: the post-mortem, from the report.postmortem step.
    expect(text).toContain('*Post-mortem:* post-mortem and 3 notice drafts written to /srv/firebreak/.data/evidence/INC-20260314-k3v9qa');
    expect(msg.text).toBe(`${s.id} ${s.runbook.title}: completed, phase done, ${s.severity}, ${s.mode}, target ${s.target}`);
  });

  it('links the post-mortem issue when the step opened one, and only when the incident completed', () => {
    const s = clone();
    const pm = s.steps.find((x) => x.action === 'report.postmortem') as StepStatus;
    pm.proof = { ...pm.proof, issue: { number: 42, url: 'https://github.example/acme/app/issues/42' } };
    expect(joined(s)).toContain('*Post-mortem:* <https://github.example/acme/app/issues/42|GitHub issue #42>');
    expect(joined(s, { postmortemUrl: 'https://wiki.example/pm?a=1&b=2' })).toContain('*Post-mortem:* <https://wiki.example/pm?a=1&amp;b=2|post-mortem>');
    // A javascript: URL, or one that would break out of the link syntax, is shown as text, never as a link.
    for (const url of ['javascript:alert(1)', 'https://x.example/|<!channel>']) {
      const texts = allTexts(statusMessage(s, { postmortemUrl: url }));
      expect(livePings(texts)).toEqual([]);
      expect(texts.join('\n')).toContain(`*Post-mortem:* post-mortem: ${url.replace(/</g, '&lt;').replace(/>/g, '&gt;')}`);
    }
    const running = { ...clone(), state: 'running' as const, phase: 'recovery' as const };
    expect(joined(running)).not.toContain('*Post-mortem:*');
  });

  it('shows open gates with counts, approvers, the args hash and how to approve', () => {
    const s = clone();
    s.state = 'awaiting-approval';
    s.phase = 'containment';
    const gate = s.gates[0] as GateStatus;
    gate.state = 'open';
    gate.approvals = gate.approvals.slice(0, 1);
    const text = joined(s, { command: '/inc' });
    expect(text).toContain(`*Open gates*\n:raised_hand: \`lockdown\`: 1/2 from group \`responders\`; args \`${gate.argsHash.slice(0, 12)}\`; approved by alice — \`/inc approve ${s.id} lockdown\``);
    expect(text).not.toContain('`resolve`: 1/1');
  });

  it('pings nobody: mention syntax and broadcast words in any incident text are escaped', () => {
    const s = clone();
    s.summary = PINGS;
    s.abortReason = PINGS;
    s.runbook.title = PINGS;
    s.target = PINGS;
    s.declaredBy.user = PINGS;
    s.activeContainment = [PINGS];
    s.rejection = [{ step: PINGS, action: 'x', message: PINGS }];
    s.timeline.push({ at: '2026-03-14T03:40:00.000Z', kind: 'note', message: PINGS, by: 'mallory' });
    (s.steps[0] as StepStatus).summary = PINGS;
    (s.steps[1] as StepStatus).error = PINGS;
    (s.steps[2] as StepStatus).plan = [PINGS];
    (s.gates[0] as GateStatus).state = 'open';
    (s.gates[0] as GateStatus).approvals[0]!.by = PINGS;
    (s.checklists[0]!.items[0]!).note = PINGS;
    const msg = statusMessage(s);
    expect(shapeProblems(msg.blocks, 'message')).toEqual([]);
    const texts = allTexts(msg);
    expect(livePings(texts)).toEqual([]);
    const all = texts.join('\n');
    expect(all).toContain('heads up &lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt; &lt;#C42|ops&gt; &lt;!subteam^S1&gt; @\u2060here @\u2060channel @\u2060everyone &lt;https://evil.example|click&gt; &amp; done');
    // Controls and bidi overrides show as escapes, as in the terminal.
    s.summary = 'ok\u202Eevil\u0007';
    expect(joined(s)).toContain('ok\\u{202e}evil\\u{7}');
  });

  it('stays within Slack limits whatever the status holds, and says how much it left out', () => {
    const s = clone();
    const huge = 'x'.repeat(5000) + '<&>'.repeat(2000);
    s.runbook.title = huge;
    s.summary = huge;
    s.abortReason = huge;
    s.rejection = Array.from({ length: 300 }, (_, i) => ({ step: `s${i}`, action: 'tokens.revoke', message: huge }));
    s.steps = Array.from({ length: 200 }, (_, i): StepStatus => ({ id: `step-${i}-${'y'.repeat(200)}`, phase: 'containment', action: 'tokens.revoke', state: 'failed', error: huge, plan: [huge, huge, huge, huge, huge] }));
    s.gates = Array.from({ length: 120 }, (_, i): GateStatus => ({ id: `g${i}`, group: huge, required: 2, approvals: [{ by: huge, host: 'h', at: 'now' }], argsHash: 'a'.repeat(64), args: { huge }, openedAt: 'now', escalations: 0, state: 'open' }));
    s.checklists = Array.from({ length: 30 }, (_, i) => ({ step: `c${i}`, items: Array.from({ length: 50 }, (_, j) => ({ name: `item${j}${huge}`, state: 'open' as const })), remindEveryMs: 1, reminders: 0 }));
    s.activeContainment = Array.from({ length: 400 }, (_, i) => `step-${i}-${huge}`);
    s.timeline = Array.from({ length: 200 }, (_, i) => ({ at: `2026-03-14T03:${String(i % 60).padStart(2, '0')}:00.000Z`, kind: 'note' as const, message: `entry ${i} ${huge}` }));
    s.timelineTotal = 5000;
    for (const timeline of [5, 20, 1000]) {
      const msg = statusMessage(s, { timeline });
      expect(shapeProblems(msg.blocks, 'message')).toEqual([]);
      expect(msg.blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.messageBlocks);
      expect(msg.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fallbackText);
      const text = allTexts(msg).join('\n');
      // No entity cut in half anywhere.
      expect(text).not.toMatch(/&(?!amp;|lt;|gt;)/);
      expect(text).toMatch(/_…and \d+ more steps \(`\/incident status INC-[^`]+` shows each\)_/);
      expect(text).toMatch(/_…and \d+ more open gates/);
      expect(text).toMatch(/_…and \d+ more problems_/);
      // The timeline keeps the newest entries (20 at most), the note on what was left out first.
      if (timeline === 5) expect(text).toMatch(/\*Timeline\* \(last 5 of 5000\)\n`03:15:00` entry 195 /);
      else expect(text).toMatch(/\*Timeline\* \(last 20 of 5000\)\n_…and \d+ more entries_\n`03:\d\d:00` entry 1\d\d /);
      expect(text).toContain('entry 199 ');
    }
  });

  it('the channel topic: id, state, severity and phase, within Slack’s 250 characters', () => {
    const s = { ...clone(), state: 'awaiting-approval' as const, phase: 'containment' as const };
    expect(statusTopic(s)).toBe(`${s.id} · awaiting-approval · ${s.severity} · phase II. Containment`);
    expect(statusTopic({ ...s, phase: 'recovery', mode: 'drill' })).toBe(`[DRILL] ${s.id} · awaiting-approval · ${s.severity} · phase III. Eradication &amp; recovery`);
    expect(statusTopic({ ...s, id: 'I'.repeat(200), phase: 'postmortem' }).length).toBeLessThanOrEqual(TOPIC_MAX);
  });

  it('marks a drill and an unauthenticated development incident', () => {
    const s = { ...clone(), mode: 'drill' as const, identity: { authenticated: false, declarer: { responder: 'dave', via: 'personal' } } } as IncidentStatus;
    const msg = statusMessage(s);
    expect(msg.blocks[0]).toMatchObject({ type: 'header', text: { text: `[DRILL] ${s.id} · ${s.runbook.title}` } });
    expect(allTexts(msg).join('\n')).toContain('UNAUTHENTICATED (development target: names are as typed)');
    expect(msg.text.startsWith('[DRILL] ')).toBe(true);
  });
});
