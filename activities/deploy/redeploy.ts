/**
 * `deploy.redeploy`: dispatch the target's deploy workflow for a verified sha
 * and wait for its run to conclude. Bookkeeping in the target's Redis (written
 * before the dispatch) and the heartbeat let a retry watch the same run instead
 * of deploying twice; a cancel request cancels the GitHub run too.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { ArgsOf } from '../../lib/args/schemas.js';
import { ownKey } from '../../lib/redis-keys.js';
import type { ActionInput, ActionResult } from '../../workflows/definitions.js';
import type { ActivityDeps } from '../deps.js';
import { badInput, onTarget, verificationFailedFinal } from '../support/failures.js';
import type { GithubParams, GithubResponse, GithubTarget } from '../github-client.js';
import { lastHeartbeat } from '../support/context.js';
import { RECORD_TTL_SECONDS } from '../support/records.js';
import { iso, realClock, repositoryOf, short, type DeployOptions } from './common.js';

const DEFAULT_TIMEOUT_MINUTES = 30;
const POLL_FIRST_MS = 1_000;
const POLL_MAX_MS = 30_000;
/** Runs created this long before the dispatch are still looked at (clock skew between us and GitHub). */
const CREATED_SLACK_MS = 60_000;
/** After a dispatch whose answer was lost, how long to look for its run before dispatching again. */
const UNCERTAIN_DISPATCH_WINDOW_MS = 20_000;

type WorkflowRun = GithubResponse<'GET /repos/{owner}/{repo}/actions/runs/{run_id}'>['data'];

/** Bookkeeping of one redeploy step, in the target's Redis, written before the dispatch. */
interface DeployRecord {
  /** The scheduled activity this belongs to: Temporal's retries share it; a human retry of the step gets a new one. */
  activityId: string;
  sha: string;
  /** Our clock just before the dispatch (ms); the timeout counts from here. */
  requestedAt: number;
  /** false while the dispatch's answer is unknown (in flight, or lost in a crash). */
  dispatched: boolean;
  /** Runs of the deploy workflow that existed before the dispatch: never ours. */
  known: number[];
  runId?: number;
  matchedBy?: 'dispatch-response' | 'run-name' | 'first-after-dispatch' | 'heartbeat';
}

interface HeartbeatDetails {
  runId?: number;
  dispatchedAt?: string;
  status?: string;
}

function failureStatus(err: unknown): number | undefined {
  if (!(err instanceof ApplicationFailure)) return undefined;
  const d = err.details?.[0] as { status?: unknown } | undefined;
  return typeof d?.status === 'number' ? d.status : undefined;
}

/** The sha (lowercased) and the timeout (default 30 min); their format and range are the schema's, checked at the activity's entry. */
function parseRedeployArgs(args: ArgsOf<'deploy.redeploy'>): { sha: string; timeoutMinutes: number } {
  return { sha: args.sha.toLowerCase(), timeoutMinutes: args.timeout_minutes ?? DEFAULT_TIMEOUT_MINUTES };
}

function workflowOf(gh: GithubTarget): string {
  const wf = gh.config.deployWorkflow;
  if (!wf) throw badInput(`target "${gh.targetName}": github.deployWorkflow is not set (the workflow file to dispatch, e.g. deploy.yml)`);
  return wf;
}

async function recentRuns(gh: GithubTarget, workflow: string, sinceMs: number, ignoreCancellation = false): Promise<WorkflowRun[]> {
  const { data } = await gh.call(
    'GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs',
    { workflow_id: workflow, event: 'workflow_dispatch', branch: gh.branch, created: `>=${iso(sinceMs - CREATED_SLACK_MS)}`, per_page: 100 },
    { ignoreCancellation },
  );
  return data.workflow_runs;
}

/**
 * A workflow_dispatch run's head_sha is the branch head, not our input, so our run is the
 * one created after the dispatch that was not there before it: preferably one whose name
 * shows the sha (`run-name: deploy ${{ inputs.sha }}`), else the first one created.
 */
async function findRun(
  gh: GithubTarget,
  workflow: string,
  rec: DeployRecord,
  ignoreCancellation = false,
): Promise<{ run: WorkflowRun; matchedBy: DeployRecord['matchedBy'] } | undefined> {
  const known = new Set(rec.known);
  const fresh = (await recentRuns(gh, workflow, rec.requestedAt, ignoreCancellation))
    .filter((r) => !known.has(r.id))
    .sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at) || a.id - b.id);
  const named = fresh.find((r) => (r.display_title ?? '').includes(rec.sha) || (r.name ?? '').includes(rec.sha));
  if (named) return { run: named, matchedBy: 'run-name' };
  const first = fresh[0];
  return first ? { run: first, matchedBy: 'first-after-dispatch' } : undefined;
}

/** Dispatch, asking GitHub for the run id (2026 API); servers that do not know the option get the classic request. */
async function dispatch(gh: GithubTarget, workflow: string, sha: string): Promise<number | undefined> {
  const route = 'POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches' as const;
  const params: GithubParams<typeof route> = { workflow_id: workflow, ref: gh.branch, inputs: { sha } };
  try {
    const res = await gh.call(route, { ...params, return_run_details: true } as GithubParams<typeof route>);
    const data = res.data as unknown as { workflow_run_id?: unknown } | undefined;
    return typeof data?.workflow_run_id === 'number' ? data.workflow_run_id : undefined;
  } catch (err) {
    const status = failureStatus(err);
    if (status !== 400 && status !== 422) throw err;
  }
  await gh.call(route, params);
  return undefined;
}

/** After a cancel request: cancel the GitHub run this step dispatched, when it can be found. */
async function cancelRun(gh: GithubTarget, workflow: string, rec: DeployRecord, log: ActivityDeps['logger']): Promise<void> {
  try {
    let runId = rec.runId;
    if (runId === undefined) runId = (await findRun(gh, workflow, rec, true))?.run.id;
    if (runId === undefined) {
      log.warn({ sha: rec.sha }, 'deploy cancelled before its run was found; nothing to cancel');
      return;
    }
    await gh.call('POST /repos/{owner}/{repo}/actions/runs/{run_id}/cancel', { run_id: runId }, { ignoreCancellation: true });
    log.warn({ sha: rec.sha, runId }, 'deploy cancelled: the GitHub run was cancelled too');
  } catch (err) {
    // 409: the run already finished. The cancellation is rethrown either way.
    log.warn({ sha: rec.sha, runId: rec.runId, error: (err as Error).message }, 'could not cancel the GitHub run');
  }
}

export function createRedeployActivities(deps: ActivityDeps, options: DeployOptions = {}) {
  const clock = options.clock ?? realClock;

  async function saveRecord(input: ActionInput, key: string, rec: DeployRecord): Promise<void> {
    await onTarget('redis', () => deps.clients.redis(input.target).set(key, JSON.stringify(rec), 'EX', RECORD_TTL_SECONDS));
  }

  async function loadRecord(input: ActionInput, key: string): Promise<DeployRecord | undefined> {
    const raw = await onTarget('redis', () => deps.clients.redis(input.target).get(key));
    if (!raw) return undefined;
    try {
      return JSON.parse(raw) as DeployRecord;
    } catch {
      return undefined;
    }
  }

  return {
    /** Dispatch the deploy workflow for a verified sha and wait for its run; a retry watches the same run. */
    async deployRedeploy(input: ActionInput): Promise<ActionResult> {
      const { sha, timeoutMinutes } = parseRedeployArgs(input.args as ArgsOf<'deploy.redeploy'>);
      const { gh, target } = repositoryOf(deps, options, input);
      const workflow = workflowOf(gh);
      const dispatchLine = `POST /repos/${gh.slug}/actions/workflows/${workflow}/dispatches { ref: ${gh.branch}, inputs: { sha: ${sha} } }`;
      if (input.mode === 'dry-run') {
        return {
          summary: `would dispatch ${workflow} on ${gh.branch} of ${gh.slug} for ${short(sha)} and wait up to ${timeoutMinutes} min`,
          changed: false,
          plan: [dispatchLine, `wait up to ${timeoutMinutes} min for the run to conclude success`],
        };
      }
      const ctx = Context.current();
      const key = ownKey(target.redis, 'deploy', input.incidentId, input.stepId);
      const hb = lastHeartbeat<HeartbeatDetails>();
      const stored = await loadRecord(input, key);
      // A record of an earlier scheduling (a human retry after the step failed) is history: deploy again.
      let rec: DeployRecord | undefined = stored && stored.activityId === ctx.info.activityId && stored.sha === sha ? stored : undefined;
      const resumed = rec !== undefined || typeof hb?.runId === 'number';
      if (!rec && typeof hb?.runId === 'number') {
        rec = { activityId: ctx.info.activityId, sha, requestedAt: Date.parse(hb.dispatchedAt ?? '') || clock.now(), dispatched: true, known: [], runId: hb.runId, matchedBy: 'heartbeat' };
        await saveRecord(input, key, rec);
      } else if (rec && rec.runId === undefined && typeof hb?.runId === 'number') {
        rec = { ...rec, dispatched: true, runId: hb.runId, matchedBy: 'heartbeat' };
      }
      const beat = (status?: string) => ctx.heartbeat({ runId: rec?.runId, dispatchedAt: rec ? iso(rec.requestedAt) : undefined, status } satisfies HeartbeatDetails);
      const log = deps.logger.child({ incidentId: input.incidentId, step: input.stepId, repo: gh.slug, workflow });

      let run: WorkflowRun | undefined;
      try {
        if (!rec) {
          const now = clock.now();
          const known = (await recentRuns(gh, workflow, now)).map((r) => r.id);
          rec = { activityId: ctx.info.activityId, sha, requestedAt: now, dispatched: false, known };
          await saveRecord(input, key, rec);
        }
        const deadline = rec.requestedAt + timeoutMinutes * 60_000;
        const runUrl = () => (run?.html_url ? run.html_url : rec?.runId ? `run ${rec.runId}` : `${workflow} on ${gh.branch}`);

        if (!rec.dispatched && rec.runId === undefined) {
          // The answer to an earlier dispatch may have been lost: look for its run before dispatching again.
          let found: Awaited<ReturnType<typeof findRun>>;
          if (resumed) {
            const until = clock.now() + UNCERTAIN_DISPATCH_WINDOW_MS;
            let wait = POLL_FIRST_MS;
            for (;;) {
              found = await findRun(gh, workflow, rec);
              if (found || clock.now() >= until) break;
              beat('looking for the run of an earlier dispatch');
              await clock.sleep(wait);
              wait = Math.min(wait * 2, 5_000);
            }
          }
          if (found) {
            rec = { ...rec, dispatched: true, runId: found.run.id, matchedBy: found.matchedBy };
          } else {
            const runId = await dispatch(gh, workflow, sha);
            rec = { ...rec, dispatched: true, ...(runId !== undefined ? { runId, matchedBy: 'dispatch-response' as const } : {}) };
            log.info({ sha, runId }, 'deploy workflow dispatched');
          }
          await saveRecord(input, key, rec);
          beat('dispatched');
        }

        let wait = POLL_FIRST_MS;
        let runId = rec.runId;
        while (runId === undefined) {
          const found = await findRun(gh, workflow, rec);
          if (found) {
            runId = found.run.id;
            rec = { ...rec, runId, matchedBy: found.matchedBy };
            run = found.run;
            await saveRecord(input, key, rec);
            beat(found.run.status ?? undefined);
            break;
          }
          beat('waiting for the run to appear');
          if (clock.now() >= deadline) {
            throw verificationFailedFinal(`dispatched ${workflow} on ${gh.branch} for ${short(sha)} at ${iso(rec.requestedAt)}, but no run appeared within ${timeoutMinutes} min`, {
              workflow,
              sha,
            });
          }
          await clock.sleep(Math.min(wait, Math.max(deadline - clock.now(), 1)));
          wait = Math.min(wait * 2, 5_000);
        }

        wait = POLL_FIRST_MS;
        for (;;) {
          run = (await gh.call('GET /repos/{owner}/{repo}/actions/runs/{run_id}', { run_id: runId })).data;
          beat(run.status ?? undefined);
          if (run.status === 'completed') break;
          if (clock.now() >= deadline) {
            throw verificationFailedFinal(`deploy run ${run.html_url} did not finish within ${timeoutMinutes} min (still ${run.status ?? 'unknown'}); it was not cancelled`, {
              runId,
              url: run.html_url,
              status: run.status,
            });
          }
          await clock.sleep(Math.min(wait, Math.max(deadline - clock.now(), 1)));
          wait = Math.min(wait * 2, POLL_MAX_MS);
        }
        const facts = {
          repo: gh.slug,
          workflow,
          ref: gh.branch,
          sha,
          runId,
          runNumber: run.run_number,
          runUrl: run.html_url,
          status: run.status,
          conclusion: run.conclusion,
          runHeadSha: run.head_sha,
          dispatchedAt: iso(rec.requestedAt),
          completedAt: run.updated_at,
          matchedBy: rec.matchedBy,
          resumed,
        };
        if (run.conclusion !== 'success') {
          throw verificationFailedFinal(`deploy run ${runUrl()} concluded ${run.conclusion ?? 'nothing'}: ${short(sha)} is not deployed`, facts);
        }
        log.info({ sha, runId, url: run.html_url }, 'deploy succeeded');
        return {
          summary: `deployed ${short(sha)} with ${workflow} on ${gh.branch}: run ${runId} succeeded (${run.html_url})`,
          changed: true,
          proof: facts,
          output: { sha, runId, url: run.html_url, conclusion: run.conclusion },
        };
      } catch (err) {
        const cancelled = err instanceof CancelledFailure || ctx.cancellationSignal.aborted;
        // Only a cancel request stops the deploy; a worker shutdown or heartbeat timeout means another attempt takes over.
        if (cancelled && ctx.cancellationDetails?.cancelRequested && rec?.dispatched) await cancelRun(gh, workflow, rec, log);
        throw err;
      }
    },
  };
}
