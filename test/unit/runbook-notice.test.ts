/**
 * The runbook's GDPR trigger (`notice.gdpr`): parsed, checked (params and incident
 * fields only, line numbers), evaluated; the legacy parameter names still work,
 * and the shipped runbooks' explicit trigger decides exactly as the legacy rule did.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadRunbook, parseRunbook, RunbookError } from '../../lib/runbook/loader.js';
import { gdprClockStart, GdprTriggerError } from '../../lib/runbook/gdpr.js';
import { coerceParams } from '../../lib/runbook/params.js';
import { planSteps } from '../../lib/runbook/plan.js';
import type { RunbookDoc } from '../../lib/runbook/types.js';

const RUNBOOKS = fileURLToPath(new URL('../../runbooks', import.meta.url));
const DECLARED = '2026-03-14T09:00:00.000Z';
const INCIDENT = { id: 'INC-1', target: 'local', mode: 'live', severity: 'high', declaredBy: 'olga', capabilities: ['redis'] };

/** 7 lines before `notice:` (line 8). */
const doc = (notice: string): string => `name: t
title: Test
severity: low
params:
  pii: { type: boolean, default: false }
  since: { type: string, default: "" }
  count: { type: integer, default: 1 }
${notice}
phases:
  detection:
    - id: look
      action: lockdown.status
`;

function problems(content: string): Array<{ path: string; line: number; message: string }> {
  try {
    parseRunbook(content, 't.yaml');
  } catch (e) {
    if (e instanceof RunbookError) return e.problems.map((p) => ({ path: p.path, line: p.line, message: p.message }));
    throw e;
  }
  throw new Error('expected the runbook to be rejected');
}

const start = (d: RunbookDoc, params: Record<string, unknown>, incident: Record<string, unknown> = INCIDENT) => gdprClockStart(d, { params, incident }, DECLARED);

describe('notice.gdpr in a runbook', () => {
  it('normalizes to conditions and a template; YAML booleans become conditions', () => {
    const d = parseRunbook(doc('notice:\n  gdpr: { personal_data: params.pii, high_risk: "params.count == 2", aware_at: "{{ params.since }}" }'), 't.yaml').doc;
    expect(d.notice).toEqual({ gdpr: { personalData: 'params.pii', highRisk: 'params.count == 2', awareAt: '{{ params.since }}' } });
    expect(parseRunbook(doc('notice:\n  gdpr: { personal_data: true }'), 't.yaml').doc.notice).toEqual({ gdpr: { personalData: 'true' } });
    expect(parseRunbook(doc('notice: {}'), 't.yaml').doc.notice).toBeUndefined();
    expect(parseRunbook(doc(''), 't.yaml').doc.notice).toBeUndefined();
  });

  it('is checked: params and incident fields only, known names, a string awareness, with lines', () => {
    expect(
      problems(doc('notice:\n  gdpr:\n    personal_data: params.pi or steps.look.output.x\n    high_risk: "params.pii and"\n    aware_at: "{{ params.count }} {{ incident.nope }}"')),
    ).toEqual([
      { path: 'notice.gdpr.personal_data', line: 10, message: "params.pi: unknown param 'pi' (declared: count, pii, since)" },
      { path: 'notice.gdpr.personal_data', line: 10, message: 'steps.look.output.x: the clock starts when the incident is declared, before any step runs: use params or incident fields' },
      { path: 'notice.gdpr.high_risk', line: 11, message: 'invalid condition: unexpected end of condition (column 15 of the condition)' },
      { path: 'notice.gdpr.aware_at', line: 12, message: "{{ incident.nope }}: unknown incident field 'nope' (known: id, target, mode, severity, declaredBy, capabilities)" },
    ]);
    expect(problems(doc('notice:\n  gdpr: { personal_data: params.pii, aware_at: "{{ params.count }}" }'))).toEqual([
      { path: 'notice.gdpr.aware_at', line: 9, message: "{{ params.count }}: param 'count' is integer; expected string (an ISO time)" },
    ]);
    expect(problems(doc('notice:\n  gdpr: { personal_data: params.pii, aware_at: last tuesday }'))).toEqual([{ path: 'notice.gdpr.aware_at', line: 9, message: '"last tuesday" is not an ISO time' }]);
    expect(problems(doc('notice:\n  gdpr: { high_risk: params.pii, typo: 1 }')).map((p) => [p.path, p.message])).toEqual([
      ['notice.gdpr.personal_data', 'is required'],
      ['notice.gdpr.typo', "unknown key 'typo'"],
    ]);
    expect(problems(doc('notice:\n  ccpa: {}')).map((p) => p.message)).toEqual(["unknown key 'ccpa'"]);
  });

  it('decides from params and incident fields: the clock, its awareness time, high risk', () => {
    const d = parseRunbook(doc("notice:\n  gdpr: { personal_data: \"params.pii or incident.severity == 'critical'\", high_risk: params.count == 3, aware_at: '{{ params.since }}' }"), 't.yaml').doc;
    expect(start(d, { pii: false, since: '', count: 1 })).toBeUndefined();
    expect(start(d, { pii: true, since: '', count: 1 })).toEqual({ awareAt: DECLARED, highRisk: false });
    expect(start(d, { pii: false, since: '2026-03-13T22:00:00+01:00', count: 3 }, { ...INCIDENT, severity: 'critical' })).toEqual({ awareAt: '2026-03-13T22:00:00+01:00', highRisk: true });
    // A param with no value (not required, no default) means "since the declaration".
    expect(start(d, { pii: true })).toEqual({ awareAt: DECLARED, highRisk: false });
    expect(() => start(d, { pii: true, since: 'yesterday' })).toThrow(GdprTriggerError);
    expect(() => start(d, { pii: true, since: 'yesterday' })).toThrow('aware_at "yesterday" is not an ISO time');
    const fixed = parseRunbook(doc('notice:\n  gdpr: { personal_data: true, aware_at: "2026-03-01T00:00:00Z" }'), 't.yaml').doc;
    expect(start(fixed, {})).toEqual({ awareAt: '2026-03-01T00:00:00Z', highRisk: false });
  });

  it('overrides the legacy names: with a trigger, a param named personal_data is just a param', () => {
    const content = doc('notice:\n  gdpr: { personal_data: params.pii }').replace('params:\n', 'params:\n  personal_data: { type: boolean, default: true }\n');
    expect(start(parseRunbook(content, 't.yaml').doc, { personal_data: true, pii: false })).toBeUndefined();
  });

  it('a trigger that cannot start its clock is a planning problem, so the incident is refused before anything acts', () => {
    const d = parseRunbook(doc("notice:\n  gdpr: { personal_data: params.pii, aware_at: '{{ params.since }}' }"), 't.yaml').doc;
    expect(planSteps(d, { params: { pii: true, since: 'soon' }, incident: INCIDENT }).problems).toEqual([{ step: 'notice.gdpr', action: 'notice', message: 'aware_at "soon" is not an ISO time' }]);
    expect(planSteps(d, { params: { pii: false, since: 'soon' }, incident: INCIDENT }).problems).toEqual([]);
    // An awareness after the declaration would move the deadline at will: refused when the declaration time is known.
    const declaredAt = '2026-03-14T09:00:00.000Z';
    const later = '2026-03-14T09:06:00.000Z';
    expect(planSteps(d, { params: { pii: true, since: later }, incident: INCIDENT, declaredAt }).problems).toEqual([
      { step: 'notice.gdpr', action: 'notice', message: `aware_at ${later} is after the incident was declared (${declaredAt}): give the moment the team became aware` },
    ]);
    expect(planSteps(d, { params: { pii: true, since: '2026-03-14T09:04:00.000Z' }, incident: INCIDENT, declaredAt }).problems).toEqual([]); // skew
    expect(planSteps(d, { params: { pii: true, since: later }, incident: INCIDENT }).problems).toEqual([]); // no declaration time: not judged
  });
});

describe('legacy parameter names (runbooks without notice.gdpr)', () => {
  const legacy = parseRunbook(doc('').replace('  pii:', '  personal_data: { type: boolean, default: false }\n  high_risk: { type: boolean, default: false }\n  aware_at: { type: string, default: "" }\n  pii:'), 't.yaml').doc;

  it('personal_data must be true (not truthy); aware_at empty means the declaration', () => {
    expect(legacy.notice).toBeUndefined();
    expect(start(legacy, { personal_data: false, high_risk: true })).toBeUndefined();
    expect(start(legacy, { personal_data: 'yes' })).toBeUndefined();
    expect(start(legacy, { personal_data: true, aware_at: '' })).toEqual({ awareAt: DECLARED, highRisk: false });
    expect(start(legacy, { personal_data: true, aware_at: '2026-03-14T05:00:00Z', high_risk: true })).toEqual({ awareAt: '2026-03-14T05:00:00Z', highRisk: true });
    expect(start(legacy, { personal_data: true, aware_at: 7 })).toEqual({ awareAt: DECLARED, highRisk: false });
    expect(() => start(legacy, { personal_data: true, aware_at: 'yesterday' })).toThrow(GdprTriggerError);
  });
});

describe('shipped runbooks', () => {
  const shipped = ['token-leak', 'sqli', 'admin-compromise'];

  it.each(shipped)('%s names its trigger and decides exactly as the legacy rule did', (name) => {
    const d = loadRunbook(RUNBOOKS, name).doc;
    expect(d.notice?.gdpr).toEqual({ personalData: 'params.personal_data', highRisk: 'params.high_risk', awareAt: '{{ params.aware_at }}' });
    const asLegacy: RunbookDoc = { ...d, notice: undefined };
    for (const personal_data of [true, false]) {
      for (const high_risk of [true, false]) {
        for (const aware_at of ['', '2026-03-14T05:00:00+02:00', 'not a time']) {
          const params = coerceParams(d, { personal_data, high_risk, aware_at, ...(name === 'admin-compromise' ? { user_ids: ['7'] } : {}) });
          const outcome = (x: RunbookDoc) => {
            try {
              return start(x, params);
            } catch (e) {
              return (e as Error).message;
            }
          };
          expect(outcome(d), JSON.stringify(params)).toEqual(outcome(asLegacy));
        }
      }
    }
  });
});
