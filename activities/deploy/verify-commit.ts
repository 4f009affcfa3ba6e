/**
 * `deploy.verify_commit`: a commit (or the newest qualifying one on the protected
 * branch) is signed and verified, on the branch, green, and (optionally) older
 * than a cut-off; a refusal names every rule that failed.
 */
import type { ArgsOf } from '../../lib/args/schemas.js';
import type { ActionInput, ActionResult } from '../../workflows/definitions.js';
import type { ActivityDeps } from '../deps.js';
import { refused } from '../support/failures.js';
import type { GithubResponse, GithubTarget } from '../github-client.js';
import { repositoryOf, short, type DeployOptions } from './common.js';

/** Commits listed when no sha is given: `per_page` × pages, newest first. */
const LIST_PER_PAGE = 30;
const LIST_MAX_PAGES = 3;
/** Signed candidates whose branch and checks are fetched before giving up (each costs three calls). */
const MAX_DEEP_CHECKS = 15;
const CHECK_RUN_PAGES = 5;
const GREEN_CONCLUSIONS = new Set(['success', 'neutral', 'skipped']);

type RuleName = 'signature' | 'branch' | 'green' | 'before';

/** One rule's verdict; `detail` is the line shown to humans (a refusal names it). */
export interface RuleResult {
  ok: boolean;
  detail: string;
  [key: string]: unknown;
}

type Rules = Partial<Record<RuleName, RuleResult>>;

type CheckRun = GithubResponse<'GET /repos/{owner}/{repo}/commits/{ref}/check-runs'>['data']['check_runs'][number];

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

/** The sha (lowercased; none when empty) and the cut-off; their format is the schema's, checked at the activity's entry. */
function parseVerifyArgs(args: ArgsOf<'deploy.verify_commit'>): { sha?: string; before?: { ms: number; text: string } } {
  const { sha, before } = args;
  return { sha: sha ? sha.toLowerCase() : undefined, before: before ? { ms: Date.parse(before), text: before } : undefined };
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

function committerDate(c: { commit: { committer?: { date?: string } | null } }): string | undefined {
  return c.commit.committer?.date ?? undefined;
}

function summarise(skipped: { sha: string; reason: string }[]): string {
  const lines = skipped.slice(0, 8).map((s) => `${short(s.sha)} ${s.reason}`);
  return `${lines.join('; ')}${skipped.length > 8 ? `; and ${skipped.length - 8} more` : ''}`;
}

export function createVerifyCommitActivities(deps: ActivityDeps, options: DeployOptions = {}) {
  return {
    /** Check a commit (or pick the newest on the protected branch) is signed, on the branch, green and before a cut-off. */
    async deployVerifyCommit(input: ActionInput): Promise<ActionResult> {
      const { sha, before } = parseVerifyArgs(input.args);
      const { gh } = repositoryOf(deps, options, input);
      return sha ? verifyOne(gh, sha, before) : verifyNewest(gh, before);
    },
  };
}
