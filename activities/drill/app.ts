/**
 * The protected app and its kill-switch, from outside: what the app answers over HTTP (503
 * under lockdown, as its middleware decides from what it reads), and the flag's raw value.
 */
import type { TargetConfig } from '../../lib/config.js';
import { djangoKey, LOCKDOWN_KEY } from '../../lib/redis-keys.js';
import type { Baseline, CheckRequest, PostCondition } from '../../workflows/drill-definitions.js';
import type { TargetClients } from '../deps.js';
import { httpStatus } from './http.js';

/** How the drill reaches the app: trusting its caFile. */
export const appOptions = (app: NonNullable<TargetConfig['app']>) => (app.caFile ? { caFile: app.caFile } : {});

export async function appBaseline(clients: TargetClients, target: string, t: TargetConfig): Promise<Pick<Baseline, 'appStatus' | 'lockdownFlag'>> {
  const flag = await clients.redis(target).get(djangoKey(t.redis, LOCKDOWN_KEY));
  const status = t.app ? await httpStatus(t.app.url, appOptions(t.app)) : undefined;
  return { lockdownFlag: flag, ...(typeof status === 'number' && { appStatus: status }) };
}

export async function appChecks(clients: TargetClients, target: string, t: TargetConfig, req: CheckRequest): Promise<PostCondition[]> {
  const locked = req.steps.some((s) => s.action === 'lockdown.enable' && (s.state === 'succeeded' || s.state === 'undone'));
  if (!locked) return [];
  const out: PostCondition[] = [];
  if (req.when === 'containment') {
    if (t.app) {
      const s = await httpStatus(t.app.url, appOptions(t.app));
      out.push({ when: 'containment', system: 'app', check: `the app answers 503 under lockdown (${t.app.url})`, ok: s === 503, detail: typeof s === 'number' ? `answered ${s}` : `no answer (${s})` });
    }
    return out;
  }
  const flag = await clients.redis(target).get(djangoKey(t.redis, LOCKDOWN_KEY));
  const was = req.baseline.lockdownFlag ?? null;
  out.push({ when: 'restore', system: 'redis', check: 'the lockdown flag is back to its value before the drill', ok: flag === was, detail: flag === was ? (was === null ? 'unset, as before' : `"${was}", as before`) : `now ${flag === null ? 'unset' : `"${flag}"`}, before ${was === null ? 'unset' : `"${was}"`}` });
  if (t.app) {
    const s = await httpStatus(t.app.url, appOptions(t.app));
    const want = req.baseline.appStatus;
    out.push({ when: 'restore', system: 'app', check: `the app answers as before the drill (${t.app.url})`, ok: typeof s === 'number' && s !== 503 && (want === undefined || s === want), detail: `answered ${s}, before ${want ?? 'no answer'}` });
  }
  return out;
}
