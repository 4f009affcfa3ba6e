/**
 * Phase III: redeploy a verified commit. `deploy.verify_commit` checks that a
 * commit is signed and verified, on the protected branch, green and (optionally)
 * older than a cut-off; `deploy.redeploy` dispatches the target's deploy workflow
 * for it and waits for the run, resuming the same run after a retry.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { ownKey } from '../lib/redis-keys.js';
import type { ActionInput, ActionResult } from '../workflows/definitions.js';
import { assertModeAllowed, type ActivityDeps } from './deps.js';
import { badInput, onTarget, refused, verificationFailedFinal } from './support/failures.js';
import { FULL_SHA, MAX_TIMEOUT_MINUTES, SHA_PREFIX } from '../lib/args/rules.js';
import { githubClients, type GithubClients, type GithubParams, type GithubResponse, type GithubTarget } from './github-client.js';

/** Commits listed when no sha is given: `per_page` × pages, newest first. */
const LIST_PER_PAGE = 30;
const LIST_MAX_PAGES = 3;
/** Signed candidates whose branch and checks are fetched before giving up (each costs three calls). */
const MAX_DEEP_CHECKS = 15;
const CHECK_RUN_PAGES = 5;
const GREEN_CONCLUSIONS = new Set(['success', 'neutral', 'skipped']);

const DEFAULT_TIMEOUT_MINUTES = 30;
const POLL_FIRST_MS = 1_000;
const POLL_MAX_MS = 30_000;
/** Runs created this long before the dispatch are still looked at (clock skew between us and GitHub). */
const CREATED_SLACK_MS = 60_000;
/** After a dispatch whose answer was lost, how long to look for its run before dispatching again. */
const UNCERTAIN_DISPATCH_WINDOW_MS = 20_000;
const RECORD_TTL_SECONDS = 30 * 24 * 3600;


/** Time as deploy.redeploy sees it; tests drive a fake one so a 1-minute timeout takes milliseconds. */
export interface DeployClock {
  now(): number;
  /** Sleep, rejecting with the activity's cancellation. */
  sleep(ms: number): Promise<void>;
}

export interface DeployOptions {
  /** GitHub clients (default: the worker's shared cache). */
  github?: GithubClients;
  clock?: DeployClock;
}

const realClock: DeployClock = {
  now: () => Date.now(),
  sleep: (ms) => Context.current().sleep(ms),
};

type RuleName = 'signature' | 'branch' | 'green' | 'before';

/** One rule's verdict; `detail` is the line shown to humans (a refusal names it). */
export interface RuleResult {
  ok: boolean;
  detail: string;
  [key: string]: unknown;
}

type Rules = Partial<Record<RuleName, RuleResult>>;

type CheckRun = GithubResponse<'GET /repos/{owner}/{repo}/commits/{ref}/check-runs'>['data']['check_runs'][number];
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

const short = (sha: string) => sha.slice(0, 7);
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');


function failureStatus(err: unknown): number | undefined {
  if (!(err instanceof ApplicationFailure)) return undefined;
  const d = err.details?.[0] as { status?: unknown } | undefined;
  return typeof d?.status === 'number' ? d.status : undefined;
}

export function createDeployActivities(deps: ActivityDeps, options: DeployOptions = {}) {
  const clock = options.clock ?? realClock;
  const github = () => options.github ?? githubClients(deps);

  function setup(input: ActionInput): { gh: GithubTarget; target: ReturnType<ActivityDeps['clients']['target']> } {
    const target = deps.clients.target(input.target);
    assertModeAllowed(target, input.target, input.mode);
    return { target, gh: github().for(input.target) };
  }

  // ---- verify_commit rules ------------------------------------------------

  function signatureRule(verification: { verified: boolean; reason: string } | null | undefined): RuleResult {
    if (verification?.verified === true) return { ok: true, detail: `signature verified (${verification.reason})`, reason: verification.reason };
    const reason = verification?.reason ?? 'no verification information';
    return { ok: false, detail: `signature not verified: ${reason}`, reason };
  }

  function beforeRule(committedAt: string | undefined, before: { ms: number; text: string } | undefined): RuleResult | undefined {
    if (!before) return undefined;
    const at = committedAt ? Date.parse(committedAt) : NaN;
    if (!Number.isFinite(at)) return { ok: false, detail: `not before ${before.text}: the commit has no committer date`, committedAt, before: before.text };
    if (at < before.ms) return { ok: true, detail: `committed ${committedAt} (before ${before.text})`, committedAt, before: before.text };
    return { ok: false, detail: `not before ${before.text}: committed ${committedAt}`, committedAt, before: before.text };
  }

  async function branchRule(gh: GithubTarget, sha: string): Promise<RuleResult> {
    const basehead = `${gh.branch}...${sha}`;
    const { data } = await gh.call('GET /repos/{owner}/{repo}/compare/{basehead}', { basehead, per_page: 1 });
    const facts = { compare: basehead, status: data.status, aheadBy: data.ahead_by, behindBy: data.behind_by };
    // `behind`: the branch head contains the commit; `identical`: it is the head.
    if (data.status === 'identical') return { ok: true, detail: `the head of ${gh.branch}`, ...facts };
    if (data.status === 'behind') return { ok: true, detail: `on ${gh.branch} (${data.behind_by} commit(s) behind its head)`, ...facts };
    return {
      ok: false,
      detail: `not on the protected branch ${gh.branch}: compare is "${data.status}" (${data.ahead_by} commit(s) not on ${gh.branch}, ${data.behind_by} behind)`,
      ...facts,
    };
  }

  async function greenRule(gh: GithubTarget, sha: string): Promise<RuleResult> {
    const [{ data: combined }, runs] = await Promise.all([
      gh.call('GET /repos/{owner}/{repo}/commits/{ref}/status', { ref: sha, per_page: 100 }),
      checkRuns(gh, sha),
    ]);
    const problems: string[] = [];
    if (combined.total_count > 0 && combined.state !== 'success') {
      const bad = combined.statuses.filter((s) => s.state !== 'success').map((s) => `${s.context}: ${s.state}`);
      problems.push(`combined status ${combined.state}${bad.length ? ` (${bad.join(', ')})` : ''}`);
    }
    const badRuns = new Set<string>();
    for (const run of runs) {
      if (run.status !== 'completed') problems.push(`check run "${run.name}" is ${run.status}`);
      else if (!GREEN_CONCLUSIONS.has(run.conclusion ?? '')) problems.push(`check run "${run.name}" concluded ${run.conclusion ?? 'nothing'}`);
      else continue;
      badRuns.add(run.name);
    }
    const required = gh.config.requiredChecks;
    for (const name of required) {
      const run = runs.find((r) => r.name === name);
      const status = combined.statuses.find((s) => s.context === name);
      if (!run && !status) problems.push(`required check "${name}" missing`);
      else if (run && badRuns.has(name)) continue;
      else if (run && run.conclusion !== 'success') problems.push(`required check "${name}" concluded ${run.conclusion ?? run.status}, not success`);
      else if (!run && status && status.state !== 'success') problems.push(`required check "${name}" is ${status.state}`);
    }
    const facts = {
      combinedState: combined.total_count > 0 ? combined.state : 'none',
      statuses: combined.total_count,
      checkRuns: runs.length,
      required,
    };
    if (problems.length) return { ok: false, detail: `not green: ${problems.join('; ')}`, problems, ...facts };
    const parts = [
      combined.total_count > 0 ? `${combined.total_count} status(es) success` : 'no statuses',
      `${runs.length} check run(s) passed`,
      ...(required.length ? [`required: ${required.join(', ')}`] : []),
    ];
    return { ok: true, detail: `green (${parts.join(', ')})`, ...facts };
  }

  async function checkRuns(gh: GithubTarget, sha: string): Promise<CheckRun[]> {
    const all: CheckRun[] = [];
    for (let page = 1; page <= CHECK_RUN_PAGES; page++) {
      const { data } = await gh.call('GET /repos/{owner}/{repo}/commits/{ref}/check-runs', { ref: sha, filter: 'latest', per_page: 100, page });
      all.push(...data.check_runs);
      if (data.check_runs.length < 100 || all.length >= data.total_count) break;
    }
    return all;
  }

  function failedRules(rules: Rules): string[] {
    return (['signature', 'branch', 'green', 'before'] as const).flatMap((r) => (rules[r] && !rules[r].ok ? [rules[r].detail] : []));
  }

  function verified(gh: GithubTarget, sha: string, url: string | undefined, committedAt: string | undefined, rules: Rules, skipped: { sha: string; reason: string }[]): ActionResult {
    const checks = Object.fromEntries(Object.entries(rules).map(([k, v]) => [k, v.detail]));
    const skippedLine = skipped.length
      ? `; skipped ${skipped.length} newer: ${skipped
          .slice(0, 5)
          .map((s) => `${short(s.sha)} (${s.reason})`)
          .join(', ')}${skipped.length > 5 ? `, and ${skipped.length - 5} more` : ''}`
      : '';
    return {
      summary: `commit ${short(sha)} of ${gh.slug} is verified: ${Object.values(checks).join('; ')}${skippedLine}`,
      changed: false,
      proof: { repo: gh.slug, branch: gh.branch, sha, rules, ...(skipped.length ? { skipped } : {}) },
      output: { sha, verified: true, checks, branch: gh.branch, committedAt, url },
    };
  }

  function parseVerifyArgs(args: Record<string, unknown>): { sha?: string; before?: { ms: number; text: string } } {
    const { sha, before } = args;
    if (sha !== undefined && sha !== '' && (typeof sha !== 'string' || !SHA_PREFIX.test(sha.toLowerCase()))) {
      throw badInput('deploy.verify_commit: sha must be a commit sha (7 to 64 hex digits)');
    }
    let cutoff: { ms: number; text: string } | undefined;
    if (before !== undefined && before !== '') {
      const ms = typeof before === 'string' ? Date.parse(before) : NaN;
      if (!Number.isFinite(ms)) throw badInput('deploy.verify_commit: before must be an ISO date or time, e.g. 2026-03-01T12:00:00Z');
      cutoff = { ms, text: before as string };
    }
    return { sha: typeof sha === 'string' && sha !== '' ? sha.toLowerCase() : undefined, before: cutoff };
  }

  async function verifyOne(gh: GithubTarget, wanted: string, before: { ms: number; text: string } | undefined): Promise<ActionResult> {
    const { data: commit } = await gh.call('GET /repos/{owner}/{repo}/commits/{ref}', { ref: wanted, per_page: 1 });
    const sha = commit.sha;
    const committedAt = committerDate(commit);
    const [branch, green] = await Promise.all([branchRule(gh, sha), greenRule(gh, sha)]);
    const rules: Rules = { signature: signatureRule(commit.commit.verification), branch, green };
    const cut = beforeRule(committedAt, before);
    if (cut) rules.before = cut;
    const failed = failedRules(rules);
    if (failed.length) throw refused(`commit ${short(sha)} of ${gh.slug} refused: ${failed.join('; ')}`);
    return verified(gh, sha, commit.html_url, committedAt, rules, []);
  }

  async function verifyNewest(gh: GithubTarget, before: { ms: number; text: string } | undefined): Promise<ActionResult> {
    const skipped: { sha: string; reason: string }[] = [];
    let deep = 0;
    let listed = 0;
    for (let page = 1; page <= LIST_MAX_PAGES; page++) {
      const { data } = await gh.call('GET /repos/{owner}/{repo}/commits', { sha: gh.branch, per_page: LIST_PER_PAGE, page });
      listed += data.length;
      for (const c of data) {
        const committedAt = committerDate(c);
        const rules: Rules = { signature: signatureRule(c.commit.verification) };
        const cut = beforeRule(committedAt, before);
        if (cut) rules.before = cut;
        const cheap = failedRules(rules);
        if (cheap.length) {
          skipped.push({ sha: c.sha, reason: cheap[0] as string });
          continue;
        }
        if (deep >= MAX_DEEP_CHECKS) {
          throw refused(`no qualifying commit on ${gh.branch} of ${gh.slug}: checked the newest ${deep} signed candidates (${summarise(skipped)})`);
        }
        deep++;
        rules.branch = await branchRule(gh, c.sha);
        if (rules.branch.ok) rules.green = await greenRule(gh, c.sha);
        const failed = failedRules(rules);
        if (failed.length) {
          skipped.push({ sha: c.sha, reason: failed[0] as string });
          continue;
        }
        return verified(gh, c.sha, c.html_url, committedAt, rules, skipped);
      }
      if (data.length < LIST_PER_PAGE) break;
    }
    throw refused(`no qualifying commit among the newest ${listed} on ${gh.branch} of ${gh.slug}${listed ? `: ${summarise(skipped)}` : ''}`);
  }

  // ---- redeploy -----------------------------------------------------------

  function parseRedeployArgs(args: Record<string, unknown>): { sha: string; timeoutMinutes: number } {
    const { sha, timeout_minutes: minutes } = args;
    if (typeof sha !== 'string' || !FULL_SHA.test(sha.toLowerCase())) {
      throw badInput('deploy.redeploy: sha must be a full commit sha (40 hex digits), e.g. "{{ steps.verify.output.sha }}"');
    }
    const timeoutMinutes = minutes === undefined ? DEFAULT_TIMEOUT_MINUTES : minutes;
    if (typeof timeoutMinutes !== 'number' || !Number.isInteger(timeoutMinutes) || timeoutMinutes < 1 || timeoutMinutes > MAX_TIMEOUT_MINUTES) {
      throw badInput(`deploy.redeploy: timeout_minutes must be a whole number from 1 to ${MAX_TIMEOUT_MINUTES}`);
    }
    return { sha: sha.toLowerCase(), timeoutMinutes };
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
    /** Check a commit (or pick the newest on the protected branch) is signed, on the branch, green and before a cut-off. */
    async deployVerifyCommit(input: ActionInput): Promise<ActionResult> {
      const { sha, before } = parseVerifyArgs(input.args);
      const { gh } = setup(input);
      return sha ? verifyOne(gh, sha, before) : verifyNewest(gh, before);
    },

    /** Dispatch the deploy workflow for a verified sha and wait for its run; a retry watches the same run. */
    async deployRedeploy(input: ActionInput): Promise<ActionResult> {
      const { sha, timeoutMinutes } = parseRedeployArgs(input.args);
      const { gh, target } = setup(input);
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
      const hb = (ctx.info.heartbeatDetails ?? undefined) as HeartbeatDetails | undefined;
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
}

function committerDate(c: { commit: { committer?: { date?: string } | null } }): string | undefined {
  return c.commit.committer?.date ?? undefined;
}

function summarise(skipped: { sha: string; reason: string }[]): string {
  const lines = skipped.slice(0, 8).map((s) => `${short(s.sha)} ${s.reason}`);
  return `${lines.join('; ')}${skipped.length > 8 ? `; and ${skipped.length - 8} more` : ''}`;
}
