import { PHASES } from '../../lib/runbook/types.js';
import type { IncidentStatus } from '../../workflows/definitions.js';
import type { Ctx } from '../context.js';

/**
 * Prints one line per step or state change (stderr), for --wait and --watch. Each step line
 * goes under the header of the step's own phase: a poll often sees phase I's last steps
 * finish only after the incident moved on to phase II.
 */
export function progressPrinter(ctx: Pick<Ctx, 'progress'>): (s: IncidentStatus) => void {
  const seen = new Map<string, string>();
  let lastState = '';
  let shown = '';
  const header = (phase: string) => {
    if (phase === shown) return;
    shown = phase;
    ctx.progress(`  ── ${phase === 'done' ? 'done' : `phase ${phase}`}`);
  };
  return (s) => {
    const changed = s.steps.filter((st) => st.state !== 'pending' && seen.get(st.id) !== st.state);
    const order = (p: string) => PHASES.indexOf(p as (typeof PHASES)[number]);
    for (const st of [...changed].sort((a, b) => order(a.phase) - order(b.phase))) {
      seen.set(st.id, st.state);
      header(st.phase);
      ctx.progress(`    ${st.id} ${st.state}${st.summary ? `: ${st.summary}` : ''}${st.error ? `: ${st.error}` : ''}`);
    }
    if (`${s.state}/${s.phase}` !== lastState) {
      lastState = `${s.state}/${s.phase}`;
      header(s.phase);
      ctx.progress(`  [${s.phase}] ${s.state}`);
    }
  };
}
