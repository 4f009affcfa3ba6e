/**
 * Drills in the config: the robots the worker signs with (`drills:`), and the rule that a
 * drill target shares nothing with a target drills must never touch. Pure apart from zod.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { absolutePath, type TargetConfig } from './config-target.js';
import { parseDuration } from './runbook/schema.js';

const duration = (what: string, fallback: string, minMs: number) =>
  z
    .string()
    .default(fallback)
    .transform((v, ctx) => {
      const ms = parseDuration(v.trim());
      if (ms === undefined || ms < minMs) {
        ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not a duration${minMs ? ` of at least ${minMs / 1000}s` : ""} (e.g. 500ms, 30s, 15m) for ${what}` });
        return z.NEVER;
      }
      return ms;
    });

export const drillsSchema = z
  .object({
    robots: z
      .array(
        z
          .object({
            name: z.string().min(1).describe('The identity.services entry (kind drill-robot) this key is'),
            keyFile: absolutePath.describe("The robot's Ed25519 private key (PKCS#8 PEM, mode 0600), held by the worker"),
          })
          .strict(),
      )
      .default([])
      .describe('Drill robots: the first declares a drill, the others approve its gates (the two-person rule holds for robots too)'),
    approveAfter: duration('drills.approveAfter', '2s', 0).describe('How long a robot waits before approving an open gate (the drill measures the machine, not a person)'),
    timeBudget: duration('drills.timeBudget', '30m', 10_000).describe('A drill running longer is aborted (its robots roll back at once)'),
    healthEvery: duration('drills.healthEvery', '10s', 1_000).describe("How often the drill target's health is checked during a drill"),
    reportsDir: absolutePath.optional().describe('Where drill reports are kept, one folder per schedule (default <dataDir>/drills)'),
  })
  .strict()
  .default({ robots: [], approveAfter: 2_000, timeBudget: 30 * 60_000, healthEvery: 10_000 });
export type DrillsConfig = z.infer<typeof drillsSchema>;

/** The robots of `drills:` against the registry: each a drill-robot service with a key. */
export function drillRobotProblems(drills: DrillsConfig, services: Array<{ name: string; kind: string; keys: unknown[]; may: string[] }>): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  drills.robots.forEach((r, i) => {
    const svc = services.find((s) => s.name === r.name);
    if (seen.has(r.name)) problems.push(`drills.robots[${i}]: robot "${r.name}" is listed twice`);
    seen.add(r.name);
    if (!svc) problems.push(`drills.robots[${i}]: no identity.services entry named "${r.name}": register the robot's public key there (kind drill-robot)`);
    else if (svc.kind !== 'drill-robot') problems.push(`drills.robots[${i}]: identity.services "${r.name}" is of kind ${svc.kind}, not drill-robot`);
    else {
      const missing = ['declare', 'approve', 'resolve', 'abort'].filter((k) => !svc.may.includes(k));
      if (missing.length) problems.push(`drills.robots[${i}]: identity.services "${r.name}" may not ${missing.join(', ')} (a drill robot needs declare, approve, resolve and abort)`);
    }
  });
  if (drills.robots.length === 1) problems.push('drills.robots: one robot cannot run a drill: it declares, and the two-person rule needs another to approve');
  return problems;
}

/** host:port of a URL with its default port, or undefined. */
function endpoint(url: string, defaultPort: number): string | undefined {
  try {
    const u = new URL(url);
    const host = u.hostname === 'localhost' ? '127.0.0.1' : u.hostname.replace(/^\[|\]$/g, '');
    return `${host}:${u.port || defaultPort}`;
  } catch {
    return undefined;
  }
}

const redisDb = (url: string): string => {
  try {
    return new URL(url).pathname.replace(/^\//, '') || '0';
  } catch {
    return '0';
  }
};

/** What of `drill` (a drill target) is also `other`'s: each a short phrase naming the shared thing. */
export function sharedWith(drill: TargetConfig, other: TargetConfig): string[] {
  const shared: string[] = [];
  const dr = drill.redis;
  const or = other.redis;
  if (endpoint(dr.url, 6379) === endpoint(or.url, 6379) && redisDb(dr.url) === redisDb(or.url) && dr.keyPrefix === or.keyPrefix) {
    shared.push(`Redis keys (${endpoint(dr.url, 6379)} db ${redisDb(dr.url)}, keyPrefix "${dr.keyPrefix}")`);
  }
  const dp = drill.postgres;
  const op = other.postgres;
  if (dp && op && endpoint(dp.adminUrl, 5432) === endpoint(op.adminUrl, 5432)) {
    if (dp.database === op.database) shared.push(`PostgreSQL database "${dp.database}" on ${endpoint(dp.adminUrl, 5432)}`);
    // Roles are the cluster's, not a database's: the same app role is the same grants everywhere.
    if (dp.appRole === op.appRole) shared.push(`PostgreSQL app role "${dp.appRole}" on ${endpoint(dp.adminUrl, 5432)}`);
  }
  if (drill.nginx && other.nginx && resolve(drill.nginx.denyFile) === resolve(other.nginx.denyFile)) shared.push(`nginx deny file ${drill.nginx.denyFile}`);
  for (const sink of drill.secrets?.sinks ?? []) {
    for (const theirs of other.secrets?.sinks ?? []) {
      if (sink.type === 'dotenv' && theirs.type === 'dotenv' && resolve(sink.path) === resolve(theirs.path)) shared.push(`secret sink ${sink.path}`);
      if (sink.type === 'github' && theirs.type === 'github' && drill.github && drill.github.repo === other.github?.repo && sink.environment === theirs.environment) {
        shared.push(`GitHub secrets of ${drill.github.repo}${sink.environment ? ` (environment ${sink.environment})` : ''}`);
      }
    }
  }
  return shared;
}

/**
 * Every drill target against every target that is not one: a drill acts for real, so
 * anything it shares with such a target (production above all) would be hit by a rehearsal.
 */
export function drillTargetProblems(targets: Readonly<Record<string, TargetConfig>>): string[] {
  const problems: string[] = [];
  for (const [name, t] of Object.entries(targets)) {
    if (t.drill?.token && !t.app) problems.push(`targets.${name}.drill.token: the drill sends the token to the app, and the target has no app.url`);
    if (!t.drillTarget) continue;
    for (const [otherName, other] of Object.entries(targets)) {
      if (otherName === name || other.drillTarget) continue;
      const shared = sharedWith(t, other);
      if (shared.length) {
        problems.push(`targets.${name}: a drill target shares ${shared.join(', ')} with ${other.production ? 'production ' : ''}target "${otherName}": give the drill target its own`);
      }
    }
  }
  return problems;
}

/** Why a drill robot may not run on this target (front door and worker alike), or undefined. */
export function scheduledDrillRefusal(target: Pick<TargetConfig, 'production' | 'drillTarget'>, targetName: string): string | undefined {
  if (target.production) return `target "${targetName}" is production: drills run by robots (scheduled, or \`drill run\`) only run on a drill target`;
  if (!target.drillTarget) return `target "${targetName}" is not a drill target (set drillTarget: true on an isolated copy of the stack)`;
  return undefined;
}
