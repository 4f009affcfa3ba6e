/**
 * The --wait/--watch progress printer over a recorded status sequence: every step line lands
 * under its own phase's header, even when the poll first sees it after the incident moved on.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { progressPrinter } from '../../cli/commands/progress.js';
import type { IncidentStatus, StepStatus } from '../../workflows/definitions.js';

const final = JSON.parse(readFileSync(new URL('../fixtures/incident-status.json', import.meta.url), 'utf8')) as IncidentStatus;

/** The recorded incident as a poller saw it: each snapshot has the steps of `done` phases in their final state, the rest pending. */
function snapshot(phase: IncidentStatus['phase'], state: IncidentStatus['state'], settled: (st: StepStatus) => boolean): IncidentStatus {
  return { ...final, phase, state, steps: final.steps.map((st) => (settled(st) ? st : { ...st, state: 'pending', summary: undefined, error: undefined })) };
}

function print(sequence: IncidentStatus[]): string[] {
  const lines: string[] = [];
  const printer = progressPrinter({ progress: (l) => lines.push(l) });
  for (const s of sequence) printer(s);
  return lines;
}

/** The header each line was printed under. */
function sections(lines: string[]): Map<string, string> {
  const under = new Map<string, string>();
  let header = '';
  for (const l of lines) {
    if (l.startsWith('  ── ')) header = l.trim();
    else under.set(l.trim().split(/[ :]/)[0] as string, header);
  }
  return under;
}

describe('progressPrinter', () => {
  it('prints each step under its own phase, even when it is first seen after the phase moved on', () => {
    const lines = print([
      snapshot('detection', 'running', () => false),
      // Phase I's step finished between two polls: the next poll already sees phase II running.
      snapshot('containment', 'awaiting-approval', (st) => st.phase === 'detection' || (st.phase === 'containment' && st.id.startsWith('revoke'))),
      snapshot('recovery', 'running', (st) => st.phase === 'detection' || st.phase === 'containment'),
      final,
    ]);
    const under = sections(lines);
    for (const st of final.steps) expect(under.get(st.id), `${st.id}\n${lines.join('\n')}`).toBe(`── phase ${st.phase}`);
    expect(lines.filter((l) => l.startsWith('  ── '))).toEqual(['  ── phase detection', '  ── phase containment', '  ── phase recovery', '  ── phase postmortem', '  ── done']);
    expect(lines).toContain('    lockdown-before succeeded: lockdown is off (:1:EMERGENCY_LOCKDOWN unset)');
    // The incident's own state goes under the phase it is in.
    expect(lines.indexOf('  [containment] awaiting-approval')).toBeGreaterThan(lines.indexOf('  ── phase containment'));
    expect(lines.at(-1)).toBe('  [done] completed');
  });

  it('prints a step once per state change, not once per poll', () => {
    const running = snapshot('detection', 'running', () => false);
    const lines = print([running, running, snapshot('containment', 'running', (st) => st.phase === 'detection'), snapshot('containment', 'running', (st) => st.phase === 'detection')]);
    expect(lines.filter((l) => l.includes('lockdown-before'))).toHaveLength(1);
    expect(lines).toEqual([
      '  ── phase detection',
      '  [detection] running',
      '    lockdown-before succeeded: lockdown is off (:1:EMERGENCY_LOCKDOWN unset)',
      '  ── phase containment',
      '  [containment] running',
    ]);
  });
});
