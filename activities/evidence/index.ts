/**
 * Phase I: an evidence bundle of the target, captured before (and after) containment.
 *
 * Each source is captured on its own: one that fails is recorded as
 * `{ ok: false, error }` in the bundle and never fails the step, so evidence
 * never blocks containment. The bundle is written as one JSON file into the
 * incident's evidence folder and its SHA-256 goes into the workflow history
 * through the result. Nothing secret is written: query literals, secret-looking
 * `key=value` pairs, tokens and URL credentials are redacted (`lib/redact.ts`),
 * and the target's configured secrets are scrubbed from every string.
 */
import type { ArgsOf } from '../../lib/args/schemas.js';
import { ownKey, type KeySpace } from '../../lib/redis-keys.js';
import type { ActionInput, ActionResult } from '../../workflows/definitions.js';
import type { ActivityDeps } from '../deps.js';
import { githubClients, type GithubClients } from '../github-client.js';
import { incidentDir } from '../report/index.js';
import { knownSecrets, scrubKnown, summarize, writeBundle } from './bundle.js';
import { capture, errorText, SOURCE_TIMEOUT_MS, withDeadline, type SourceName, type SourceResult } from './capture.js';
import { captureGithub } from './github.js';
import { captureRedis } from './redis.js';
import { captureRoles, type BaselineRecord } from './roles.js';
import { captureSessions } from './sessions.js';

export { SOURCE_TIMEOUT_MS, type SourceName, type SourceResult } from './capture.js';
export { diffRoles, POWERFUL_ROLES, type ElevatedRole, type RoleChange, type RoleDiff } from './roles.js';
export type { SessionRow } from './sessions.js';

/** Role names listed in the step output at most (the file has them all). */
const OUTPUT_NAMES = 50;

export interface EvidenceOptions {
  /** GitHub clients (default: the worker's shared cache). */
  github?: GithubClients;
  /** Deadline of each source (default {@link SOURCE_TIMEOUT_MS}). */
  sourceTimeoutMs?: number;
}

export function createEvidenceActivities(deps: ActivityDeps, opts: EvidenceOptions = {}) {
  const { clients, logger } = deps;
  const sourceMs = opts.sourceTimeoutMs ?? SOURCE_TIMEOUT_MS;

  return {
    /**
     * evidence.snapshot: capture sessions, elevated roles (against the baseline),
     * the Redis deny-list state and, with `github`, the protected branch head and
     * the deployed sha; write them as one JSON file in the evidence folder.
     * Args: `{ baseline?: boolean }` (default true): record this snapshot's roles
     * as the new baseline (live/drill only, and only when `roles` succeeded).
     */
    async evidenceSnapshot(input: ActionInput): Promise<ActionResult> {
      const target = clients.target(input.target);
      const { baseline: baselineArg } = input.args as ArgsOf<'evidence.snapshot'>;
      const dir = incidentDir(deps.config.dataDir, input.incidentId);
      const space: KeySpace = target.redis;
      const baselineKey = ownKey(space, 'baseline', 'roles');
      const wantBaseline = baselineArg !== false;

      const skipped: Partial<Record<SourceName, string>> = {};
      if (!target.postgres) skipped.sessions = skipped.roles = 'the target has no postgres section';
      if (!target.github) skipped.github = 'the target has no github section';

      const started = new Date();
      const [sess, rls, rds, ghr] = await Promise.all([
        target.postgres ? capture('sessions', sourceMs, () => captureSessions(clients.pg(input.target))) : undefined,
        target.postgres ? capture('roles', sourceMs, () => captureRoles(clients.pg(input.target), () => clients.redis(input.target), input, baselineKey)) : undefined,
        capture('redis', sourceMs, () => captureRedis(clients.redis(input.target), space)),
        target.github ? capture('github', sourceMs, () => captureGithub((opts.github ?? githubClients(deps)).for(input.target))) : undefined,
      ]);

      // The role baseline: recorded after a successful roles capture in live/drill mode.
      let baseline: { recorded: boolean; key: string; reason?: string; error?: string } = { recorded: false, key: baselineKey };
      let rolesOut: Record<string, unknown> | undefined;
      if (rls?.ok) {
        const { previous, diff, ...rest } = rls;
        rolesOut = { ...rest, ...(diff ?? {}) };
        if (input.mode === 'dry-run') baseline.reason = 'dry-run never moves the baseline';
        else if (!wantBaseline) baseline.reason = 'baseline: false';
        else {
          const record: BaselineRecord = {
            version: 1,
            recordedAt: started.toISOString(),
            incidentId: input.incidentId,
            stepId: input.stepId,
            roles: rls.elevated,
            previous,
          };
          try {
            await withDeadline(sourceMs, 'redis (baseline)', () => clients.redis(input.target).set(baselineKey, JSON.stringify(record)));
            baseline = { recorded: true, key: baselineKey };
          } catch (err) {
            baseline.error = errorText(err);
            logger.warn({ target: input.target, err: baseline.error }, 'evidence: role baseline not recorded');
          }
        }
      } else if (rls) {
        rolesOut = rls;
        baseline.reason = 'roles were not captured';
      } else baseline.reason = 'no postgres on this target';

      const results: Partial<Record<SourceName, SourceResult<object> | Record<string, unknown>>> = {};
      if (sess) results.sessions = sess;
      if (rolesOut) results.roles = rolesOut;
      results.redis = rds;
      if (ghr) results.github = ghr;
      const sourcesOk = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, (v as { ok: boolean }).ok])) as Partial<Record<SourceName, boolean>>;

      const bundle = scrubKnown(
        {
          kind: 'firebreak.evidence',
          version: 1,
          incidentId: input.incidentId,
          stepId: input.stepId,
          target: input.target,
          mode: input.mode,
          requestedAt: input.requestedAt,
          capturedAt: started.toISOString(),
          finishedAt: new Date().toISOString(),
          sources: results,
          skipped,
          baseline,
        },
        knownSecrets(target),
      );
      const { file, sha256 } = await writeBundle(dir, input, bundle);

      const summary = summarize(results, sourcesOk);
      const output: Record<string, unknown> = { file, sha256, sources: sourcesOk, baselineRecorded: baseline.recorded };
      if (rls?.ok) {
        const d = rls.diff;
        output.roles = d
          ? { added: d.added.slice(0, OUTPUT_NAMES), removed: d.removed.slice(0, OUTPUT_NAMES), changed: d.changed.slice(0, OUTPUT_NAMES).map((c) => c.name) }
          : { baseline: 'none' };
      }
      if (ghr?.ok) output.github = { head: ghr.head.sha, verified: ghr.head.verified, deployed: ghr.deployed.sha, deployedIsHead: ghr.deployedIsHead };
      return {
        summary,
        changed: false,
        proof: { file, sha256, sources: sourcesOk },
        output,
        ...(input.mode === 'dry-run'
          ? { plan: [`captured ${file} (evidence is read-only, so dry-run captures too)`, ...(rls?.ok && wantBaseline ? ['would record the elevated roles as the new baseline in live or drill mode'] : [])] }
          : {}),
      };
    },
  };
}
