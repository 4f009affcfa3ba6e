/** The live status render: who approved each passed gate, a hash that moves only when the message does, the topic. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderLive } from '../../slack/live/render.js';
import { slackFailure } from '../../slack/live/slack-errors.js';
import type { GateStatus, IncidentStatus } from '../../workflows/definitions.js';
import { allTexts, shapeProblems } from './slack-blocks-shape.js';

const recorded = JSON.parse(readFileSync(new URL('../fixtures/incident-status.json', import.meta.url), 'utf8')) as IncidentStatus;
const clone = (): IncidentStatus => structuredClone(recorded);

describe('live status render', () => {
  it('names who approved each passed gate, and none of the open ones there', () => {
    const s = clone();
    const [first] = s.gates as [GateStatus];
    first.state = 'approved';
    s.gates.push({ ...first, id: 'readonly', state: 'open', approvals: [] });
    const r = renderLive(s, '/incident');
    expect(shapeProblems(r.blocks, 'message')).toEqual([]);
    const text = allTexts(r).join('\n');
    expect(text).toContain(`*Approved*\n:white_check_mark: \`${first.id}\` by ${first.approvals.map((v) => v.by).join(', ')}`);
    expect(text).not.toMatch(/\*Approved\*[^*]*`readonly`/);
  });

  it('hashes the message as sent: equal statuses hash equal, any visible change moves the hash, the topic follows state and phase', () => {
    const a = renderLive(clone(), '/incident');
    expect(renderLive(clone(), '/incident').hash).toBe(a.hash);
    const s = clone();
    s.timeline.push({ at: '2026-03-14T10:00:00.000Z', kind: 'note', message: 'one more note' });
    expect(renderLive(s, '/incident').hash).not.toBe(a.hash);
    const t = clone();
    t.state = 'awaiting-approval';
    t.phase = 'containment';
    const r = renderLive(t, '/incident');
    expect(r.topic).toContain('awaiting-approval');
    expect(r.topic).toContain('II. Containment');
    expect(r.topic).not.toBe(a.topic);
  });

  it('turns Web API failures into a wait (429 Retry-After) or a retry, without the request', () => {
    expect(slackFailure({ code: 'slack_webapi_rate_limited_error', retryAfter: 3 })).toEqual({ kind: 'rate-limited', retryAfterMs: 3000, detail: '429, Retry-After 3 s' });
    expect(slackFailure({ code: 'slack_webapi_platform_error', data: { error: 'message_not_found' } })).toEqual({ kind: 'failed', detail: 'Slack answered message_not_found' });
    expect(slackFailure({ code: 'slack_webapi_http_error', statusCode: 500 })).toEqual({ kind: 'failed', detail: 'HTTP 500' });
    const f = slackFailure(new Error('socket hang up\nAuthorization: Bearer xoxb-secret'));
    expect(f).toEqual({ kind: 'failed', detail: 'socket hang up' });
  });
});
