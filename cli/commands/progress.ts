import type { IncidentStatus } from '../../workflows/definitions.js';
import type { Ctx } from '../context.js';

/** Prints one line per step or state change (stderr), for --wait and --watch. */
export function progressPrinter(ctx: Ctx): (s: IncidentStatus) => void {
  const seen = new Map<string, string>();
  let lastState = '';
  return (s) => {
    if (`${s.state}/${s.phase}` !== lastState) {
      lastState = `${s.state}/${s.phase}`;
      ctx.progress(`  [${s.phase}] ${s.state}`);
    }
    for (const st of s.steps) {
      if (seen.get(st.id) !== st.state && st.state !== 'pending') {
        seen.set(st.id, st.state);
        ctx.progress(`    ${st.id} ${st.state}${st.summary ? `: ${st.summary}` : ''}${st.error ? `: ${st.error}` : ''}`);
      }
    }
  };
}
