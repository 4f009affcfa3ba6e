/** nginx from outside: a client of a banned address gets 403 (realip header), and not once the ban is lifted. */
import { isIP } from 'node:net';
import type { TargetConfig } from '../../lib/config.js';
import type { CheckRequest, PostCondition } from '../../workflows/drill-definitions.js';
import { httpStatus } from './http.js';

/** The first single address among the drill's parameters, once a ban step ran. */
function bannedAddress(req: CheckRequest): string | undefined {
  if (!req.steps.some((s) => s.action === 'network.ban_ips' && (s.state === 'succeeded' || s.state === 'undone'))) return undefined;
  const values: unknown[] = Object.values(req.params).flatMap((v): unknown[] => (Array.isArray(v) ? (v as unknown[]) : [v]));
  return values.find((v): v is string => typeof v === 'string' && isIP(v.trim()) !== 0)?.trim();
}

export async function nginxChecks(t: TargetConfig, req: CheckRequest): Promise<PostCondition[]> {
  const url = t.drill?.nginxUrl;
  const address = bannedAddress(req);
  if (!url || !address) return [];
  const header = t.drill?.clientIpHeader ?? 'X-Real-IP';
  const s = await httpStatus(url, { headers: { [header]: address } });
  const lifted = req.steps.some((x) => x.action === 'network.ban_ips' && x.state === 'undone');
  if (req.when === 'containment') return [{ when: 'containment', system: 'nginx', check: `nginx answers 403 to banned client ${address}`, ok: s === 403, detail: `answered ${s}` }];
  if (!lifted) return [];
  return [{ when: 'restore', system: 'nginx', check: `nginx lets ${address} in again once the ban is lifted`, ok: typeof s === 'number' && s !== 403, detail: `answered ${s}` }];
}
