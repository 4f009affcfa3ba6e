/**
 * The worker's responders registry and per-target policy, as written in firebreak.yaml.
 * Parsed once with the rest of the config; `registryFromConfig` turns it into the
 * registry the workflow and activities verify signatures against (lib/identity/registry.ts).
 */
import { z } from 'zod';
import { parsePublicLine, parseRegistry, SERVICE_KINDS, type RegisteredKey, type Registry } from './identity/registry.js';
import { STATEMENT_KINDS } from './identity/statement.js';

const instant = z.string().refine((v) => /[zZ]|[+-]\d\d:\d\d$/.test(v) && !Number.isNaN(Date.parse(v)), 'must be an ISO-8601 date-time with a zone (e.g. 2026-01-31T12:00:00Z)');

/** A public key: the line `firebreak keys init` printed, optionally with validity bounds. */
const keyEntry = z.union([
  z.string().describe('ed25519 <base64> <name> <key id> (from `firebreak keys init`), or an ssh-ed25519 line'),
  z
    .object({
      key: z.string().describe('the public line'),
      notBefore: instant.optional(),
      notAfter: instant.optional(),
      revokedAt: instant.optional().describe('Emergency revocation: decisions signed from then on are refused; older ones still verify'),
    })
    .strict(),
]);

const slackId = z.object({ team: z.string(), user: z.string() }).strict();

export const identitySchema = z
  .object({
    responders: z
      .array(z.object({ name: z.string(), keys: z.array(keyEntry).default([]), slack: slackId.optional() }).strict())
      .default([])
      .describe('The people who may declare and decide, with their public keys'),
    services: z
      .array(
        z
          .object({
            name: z.string(),
            kind: z.enum(SERVICE_KINDS),
            keys: z.array(keyEntry).default([]),
            may: z.array(z.enum(STATEMENT_KINDS)).default([]).describe('Statement kinds it may attest for a person or make as itself'),
          })
          .strict(),
      )
      .default([])
      .describe('Services with keys of their own (Slack app, schedules, alert intake, drill robots)'),
    skewSeconds: z.number().int().min(10).max(3600).default(300).describe('How far a statement may be from the worker clock'),
  })
  .strict()
  .default({ responders: [], services: [], skewSeconds: 300 });
export type IdentityConfig = z.infer<typeof identitySchema>;

/** What a target demands beyond its runbooks: floors on gates, and who must sign. */
export const targetPolicySchema = z
  .object({
    gates: z
      .array(
        z
          .object({
            actions: z.array(z.string().min(1)).min(1).describe('Actions (e.g. database.read_only), or `resolve` for the all-clear'),
            count: z.number().int().min(1).max(20),
            group: z.string().min(1),
          })
          .strict(),
      )
      .default([])
      .describe('Minimum approvals for these actions whatever a runbook says (none by default: containment stays instant)'),
    personalVote: z.boolean().default(false).describe('Every gate needs at least one vote signed with a personal key (not only Slack-attested)'),
  })
  .strict()
  .default({ gates: [], personalVote: false });
export type TargetPolicy = z.infer<typeof targetPolicySchema>;

/** The registry the workflow verifies against, or the problems that make the config unusable. */
export function registryFromConfig(identity: IdentityConfig): { registry: Registry; problems: string[] } {
  const problems: string[] = [];
  const keys = (entries: IdentityConfig['responders'][number]['keys'], where: string, name: string): RegisteredKey[] =>
    entries.flatMap((entry, i) => {
      const line = typeof entry === 'string' ? entry : entry.key;
      const parsed = parsePublicLine(line);
      if (!parsed.ok) {
        problems.push(`identity.${where}.keys[${i}]: ${parsed.problems.join('; ')}`);
        return [];
      }
      if (parsed.value.name !== name) problems.push(`identity.${where}.keys[${i}]: the key line names ${parsed.value.name}, not ${name}`);
      const bounds = typeof entry === 'string' ? {} : { notBefore: entry.notBefore, notAfter: entry.notAfter, revokedAt: entry.revokedAt };
      const key: RegisteredKey = { ...parsed.value.key };
      for (const [k, v] of Object.entries(bounds)) if (v !== undefined) key[k as 'notBefore'] = new Date(v).toISOString();
      return [key];
    });
  const raw = {
    responders: identity.responders.map((r, i) => ({ name: r.name, keys: keys(r.keys, `responders[${i}]`, r.name), ...(r.slack && { slack: r.slack }) })),
    services: identity.services.map((s, i) => ({ name: s.name, kind: s.kind, keys: keys(s.keys, `services[${i}]`, s.name), may: s.may })),
  };
  const parsed = parseRegistry(raw);
  if (!parsed.ok) problems.push(...parsed.problems.map((p) => `identity: ${p}`));
  return { registry: parsed.ok ? parsed.value : { responders: [], services: [] }, problems };
}
