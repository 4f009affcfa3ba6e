/** The drill target's health during a drill: its Redis and PostgreSQL answer, and its app answers at all (503 under lockdown is an answer). */
import type { ActivityDeps } from '../deps.js';
import type { HealthResult } from '../../workflows/drill-definitions.js';
import { errorLine } from '../support/failures.js';
import { httpStatus } from './http.js';

export function createHealth(deps: ActivityDeps) {
  return async function drillHealth(req: { target: string }): Promise<HealthResult> {
    const t = deps.clients.target(req.target);
    const problems: string[] = [];
    await deps.clients
      .redis(req.target)
      .ping()
      .catch((err: unknown) => problems.push(`Redis: ${errorLine(err)}`));
    if (t.postgres) {
      await deps.clients
        .pg(req.target)
        .query('SELECT 1')
        .catch((err: unknown) => problems.push(`PostgreSQL: ${errorLine(err)}`));
    }
    const url = t.drill?.healthUrl ?? t.app?.url;
    if (url) {
      const s = await httpStatus(url, t.app?.caFile && url === t.app.url ? { caFile: t.app.caFile } : {});
      if (typeof s !== 'number' || (t.drill?.healthUrl !== undefined && s >= 500 && s !== 503)) problems.push(`${url}: ${typeof s === 'number' ? `answered ${s}` : `no answer (${s})`}`);
    }
    return problems.length ? { ok: false, problem: problems.join('; ') } : { ok: true };
  };
}
