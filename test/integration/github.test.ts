/**
 * GitHub: the Actions-secrets sink, deploy.verify_commit and deploy.redeploy against
 * the local GitHub stand-in (documented REST shapes over HTTP, through Octokit), and
 * the typed failures every GitHub error maps to. Redeploy runs in Temporal's
 * MockActivityEnvironment (real heartbeats and cancellation); its timeout test drives
 * a fake clock injected into the activity, so a 1-minute timeout takes milliseconds.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Info } from '@temporalio/activity';
import { ActivityCancellationDetails, ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDeployActivities, type DeployClock } from '../../activities/deploy/index.js';
import { createActivities } from '../../activities/index.js';
import { TargetClients, type ActivityDeps } from '../../activities/deps.js';
import { githubFailure } from '../../activities/github-client.js';
import { createGithubSink } from '../../activities/sinks/github.js';
import { loadConfig } from '../../lib/config.js';
import { TERMINAL, declareIncident, getStatus, waitFor } from '../../lib/incidents/index.js';
import { createLogger } from '../../lib/logger.js';
import { ownKey } from '../../lib/redis-keys.js';
import type { ActionInput, ActionResult, Mode } from '../../workflows/definitions.js';
import { DECLARER, startStack } from '../helpers/firebreak.js';
import { startGithubStandin, type GithubStandin } from '../helpers/github-standin.js';
import { redisClient, type TestRedis } from '../helpers/services.js';

const R = {
  commit: 'GET /repos/{owner}/{repo}/commits/{ref}',
  list: 'GET /repos/{owner}/{repo}/commits',
  compare: 'GET /repos/{owner}/{repo}/compare/{basehead}',
  status: 'GET /repos/{owner}/{repo}/commits/{ref}/status',
  checks: 'GET /repos/{owner}/{repo}/commits/{ref}/check-runs',
  repoKey: 'GET /repos/{owner}/{repo}/actions/secrets/public-key',
  repoPut: 'PUT /repos/{owner}/{repo}/actions/secrets/{secret_name}',
  envKey: 'GET /repos/{owner}/{repo}/environments/{environment_name}/secrets/public-key',
  envPut: 'PUT /repos/{owner}/{repo}/environments/{environment_name}/secrets/{secret_name}',
  dispatch: 'POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches',
  runs: 'GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs',
  run: 'GET /repos/{owner}/{repo}/actions/runs/{run_id}',
  cancel: 'POST /repos/{owner}/{repo}/actions/runs/{run_id}/cancel',
} as const;

const TOKEN = 'ghp_firebreakTestToken0123456789abcdef';
const SECRET_VALUE = 'pw-Zq9!s3cr3t-value-that-must-never-leak';

let gh: GithubStandin;
let r: TestRedis;
let dir: string;
let clients: TargetClients;
let deps: ActivityDeps;
// Through createActivities (as in the worker: every argument judged by the action's schema at the entry); the fake-clock ones are built directly.
let acts: ReturnType<typeof createActivities>;
const logLines: string[] = [];
const quietTemporal = new DefaultLogger('ERROR', () => undefined);

beforeAll(async () => {
  gh = await startGithubStandin({ owner: 'acme', repo: 'web', token: TOKEN });
  r = redisClient('github');
  dir = mkdtempSync(join(tmpdir(), 'fbt-github-'));
  const tokenFile = join(dir, 'token');
  const wrongFile = join(dir, 'wrong-token');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  writeFileSync(wrongFile, 'ghp_notTheRightToken000000000000000000\n');
  const redis = `redis: { url: "redis://127.0.0.1:6379/0", keyPrefix: "${r.prefix}" }`;
  const github = (extra: string, token = tokenFile) => `github: { repo: acme/web, branch: main, token: { file: "${token}" }, baseUrl: "${gh.url}"${extra} }`;
  const file = join(dir, 'firebreak.yaml');
  writeFileSync(
    file,
    [
      'targets:',
      `  local: { development: true, ${redis}, ${github(', deployWorkflow: deploy.yml, requiredChecks: [test]')} }`,
      `  nowf: { development: true, ${redis}, ${github('')} }`,
      `  badtoken: { development: true, ${redis}, ${github(', deployWorkflow: deploy.yml', wrongFile)} }`,
      `  nogh: { development: true, ${redis} }`,
      `  prod: { production: true, ${redis}, ${github(', deployWorkflow: deploy.yml')} }`,
    ].join('\n'),
  );
  const config = loadConfig({ file, env: {} });
  clients = new TargetClients(config);
  const logger = createLogger({ level: 'debug', pretty: false, destination: { write: (line: string) => void logLines.push(line) } });
  deps = { config, logger, clients };
  acts = createActivities(deps);
});

afterAll(async () => {
  await gh?.stop();
  await clients?.close();
  await r?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  gh.model.reset();
  gh.calls.length = 0;
});

let n = 0;
function input(action: string, args: Record<string, unknown>, o: { mode?: Mode; target?: string; incidentId?: string; stepId?: string } = {}): ActionInput {
  return {
    incidentId: o.incidentId ?? `INC-GH-${++n}`,
    stepId: o.stepId ?? 'step',
    action,
    target: o.target ?? 'local',
    mode: o.mode ?? 'live',
    args,
    requestedAt: new Date().toISOString(),
  };
}

const verify = (args: Record<string, unknown> = {}, o: Parameters<typeof input>[2] = {}) => acts.deployVerifyCommit(input('deploy.verify_commit', args, o));

function redeployIn(env: MockActivityEnvironment, a: ReturnType<typeof createDeployActivities>, i: ActionInput): Promise<ActionResult> {
  return env.run((x: ActionInput) => a.deployRedeploy(x), i);
}
const mockEnv = (activityId = `act-${++n}`, extra: Partial<Info> = {}) => new MockActivityEnvironment({ activityId, ...extra }, { logger: quietTemporal });

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ApplicationFailure);
    return err as ApplicationFailure;
  }
  throw new Error('expected the call to fail');
}

/** A clock whose sleeps only move virtual time forward. */
function fakeClock(): DeployClock & { elapsedMs(): number } {
  const start = Date.now();
  let t = start;
  return {
    now: () => t,
    sleep: async (ms) => {
      t += ms;
      await new Promise((resolve) => setImmediate(resolve));
    },
    elapsedMs: () => t - start,
  };
}

const short = (sha: string) => sha.slice(0, 7);

describe('GitHub Actions secrets sink', () => {
  it('seals a repository secret with the repo public key; the stand-in opens it with the private key', async () => {
    const sink = createGithubSink(deps, 'local');
    expect(sink.kind).toBe('github');
    expect(sink.describe()).toBe('GitHub Actions secrets of acme/web');
    await sink.put('DATABASE_PASSWORD', SECRET_VALUE);
    expect(gh.model.decryptSecret('DATABASE_PASSWORD')).toBe(SECRET_VALUE);
    const put = gh.callsTo(R.repoPut);
    expect(put).toHaveLength(1);
    expect(put[0]).toMatchObject({ status: 201, auth: 'token', body: { key_id: gh.model.repoKey.keyId } });
    // Updating answers 204; the new value replaces the old.
    await sink.put('DATABASE_PASSWORD', `${SECRET_VALUE}-2`);
    expect(gh.callsTo(R.repoPut)[1]?.status).toBe(204);
    expect(gh.model.decryptSecret('DATABASE_PASSWORD')).toBe(`${SECRET_VALUE}-2`);
    expect(gh.callsTo(R.repoKey)).toHaveLength(2);
    expect('get' in sink).toBe(false);
  });

  it('writes environment secrets with the environment key, leaving repository secrets alone', async () => {
    gh.model.addEnvironment('production');
    const sink = createGithubSink(deps, 'local', 'production');
    expect(sink.describe()).toBe('GitHub Actions secrets of acme/web, environment "production"');
    await sink.put('JWT_SECRET_KEY', SECRET_VALUE);
    expect(gh.model.decryptSecret('JWT_SECRET_KEY', 'production')).toBe(SECRET_VALUE);
    expect(gh.model.decryptSecret('JWT_SECRET_KEY')).toBeUndefined();
    expect(gh.callsTo(R.envKey)[0]?.path).toBe('/repos/acme/web/environments/production/secrets/public-key');
    expect(gh.callsTo(R.envPut)[0]).toMatchObject({ status: 201, path: '/repos/acme/web/environments/production/secrets/JWT_SECRET_KEY' });
    // An environment that does not exist is a 404: not retryable, nothing written.
    const f = await failureOf(createGithubSink(deps, 'local', 'staging').put('JWT_SECRET_KEY', SECRET_VALUE));
    expect(f).toMatchObject({ type: 'FirebreakBadInput', nonRetryable: true });
    expect(f.message).toMatch(/environments\/\{environment_name\}\/secrets\/public-key \(acme\/web\) answered 404/);
  });

  it('refuses names GitHub does not allow before calling GitHub', async () => {
    const sink = createGithubSink(deps, 'local');
    for (const name of ['1PASSWORD', 'GITHUB_TOKEN', 'github_x', 'DB-PASSWORD', 'DB PASSWORD', '', 'Ä']) {
      const f = await failureOf(sink.put(name, SECRET_VALUE));
      expect(f).toMatchObject({ type: 'FirebreakBadInput', nonRetryable: true });
    }
    expect(gh.calls).toHaveLength(0);
    await expect(sink.put('OK_NAME', '')).rejects.toMatchObject({ type: 'FirebreakBadInput' });
    await expect(sink.put('OK_NAME', 'x'.repeat(48 * 1024 + 1))).rejects.toMatchObject({ type: 'FirebreakBadInput' });
    expect(() => createGithubSink(deps, 'local', '')).toThrow(/environment must be a non-empty name/);
    await expect(createGithubSink(deps, 'nogh').put('OK_NAME', 'x')).rejects.toMatchObject({ type: 'FirebreakBadInput', message: expect.stringMatching(/no github section/) });
  });

  it('never puts the value (or the token) in requests, logs or errors', async () => {
    const sink = createGithubSink(deps, 'local');
    await sink.put('API_KEY', SECRET_VALUE);
    gh.failNext(R.repoPut, 422);
    const f1 = await failureOf(sink.put('API_KEY', SECRET_VALUE));
    gh.failNext(R.repoPut, 500);
    const f2 = await failureOf(sink.put('API_KEY', SECRET_VALUE));
    gh.failNext(R.repoPut, 0);
    const f3 = await failureOf(sink.put('API_KEY', SECRET_VALUE));
    const everything = [JSON.stringify(gh.calls), logLines.join('\n'), ...[f1, f2, f3].map((f) => `${f.message} ${JSON.stringify(f.details)} ${f.stack ?? ''}`)].join('\n');
    expect(everything).not.toContain(SECRET_VALUE);
    expect(everything).not.toContain(Buffer.from(SECRET_VALUE).toString('base64'));
    expect(everything).not.toContain(TOKEN);
    expect(f1).toMatchObject({ type: 'FirebreakBadInput', nonRetryable: true });
    expect(f2).toMatchObject({ type: 'FirebreakTargetUnavailable', nonRetryable: false });
    expect(f3).toMatchObject({ type: 'FirebreakTargetUnavailable', nonRetryable: false });
    expect(logLines.some((l) => l.includes('github secret written') && l.includes('API_KEY'))).toBe(true);
  });
});

describe('deploy.verify_commit', () => {
  it('accepts a signed, green commit on the protected branch and returns its full sha', async () => {
    const good = gh.model.pushGreen('main');
    gh.model.pushGreen('main');
    const res = await verify({ sha: good.slice(0, 10) });
    expect(res.output).toMatchObject({ sha: good, verified: true, branch: 'main' });
    expect(res.changed).toBe(false);
    const checks = res.output?.checks as Record<string, string>;
    expect(checks.signature).toBe('signature verified (valid)');
    expect(checks.branch).toBe('on main (1 commit(s) behind its head)');
    expect(checks.green).toMatch(/^green \(no statuses, 1 check run\(s\) passed, required: test\)$/);
    expect(res.proof).toMatchObject({
      sha: good,
      rules: { signature: { ok: true }, branch: { ok: true, status: 'behind', behindBy: 1 }, green: { ok: true, checkRuns: 1 } },
    });
    expect(res.summary).toContain(`commit ${short(good)} of acme/web is verified`);
    expect(gh.callsTo(R.compare)[0]?.path).toBe(`/repos/acme/web/compare/main...${good}`);
    expect(gh.calls.every((c) => c.auth === 'token' && c.method === 'GET')).toBe(true);
  });

  it('accepts the branch head (compare "identical") with green statuses too', async () => {
    const head = gh.model.pushGreen('main');
    gh.model.setStatus(head, 'ci/build', 'success');
    const res = await verify({ sha: head });
    expect((res.output?.checks as Record<string, string>).branch).toBe('the head of main');
    expect(res.proof).toMatchObject({ rules: { green: { ok: true, combinedState: 'success', statuses: 1 } } });
  });

  it('refuses an unsigned commit and one whose signature does not verify', async () => {
    const unsigned = gh.model.pushGreen('main', ['test'], { verified: false });
    const f = await failureOf(verify({ sha: unsigned }));
    expect(f).toMatchObject({ type: 'FirebreakRefused', nonRetryable: true });
    expect(f.message).toBe(`commit ${short(unsigned)} of acme/web refused: signature not verified: unsigned`);
    const badKey = gh.model.pushGreen('main', ['test'], { verified: false, reason: 'unknown_key' });
    await expect(verify({ sha: badKey })).rejects.toThrow(/signature not verified: unknown_key/);
  });

  it('refuses a commit that is not on the protected branch (compare "ahead" / "diverged")', async () => {
    const base = gh.model.pushGreen('main');
    // An unrelated history (a root commit of its own): diverged from main.
    const side = gh.model.pushGreen('feature');
    const ahead = gh.model.commit({ parents: [base] });
    gh.model.setCheckRun(ahead, 'test');
    const f = await failureOf(verify({ sha: ahead }));
    expect(f.type).toBe('FirebreakRefused');
    expect(f.message).toMatch(/not on the protected branch main: compare is "ahead" \(1 commit\(s\) not on main, 0 behind\)/);
    gh.model.pushGreen('main');
    await expect(verify({ sha: ahead })).rejects.toThrow(/compare is "diverged" \(1 commit\(s\) not on main, 1 behind\)/);
    await expect(verify({ sha: side })).rejects.toThrow(/compare is "diverged"/);
  });

  it('refuses a failing check run, a pending one, and a failing or pending combined status', async () => {
    const failing = gh.model.pushGreen('main', ['test', 'lint']);
    gh.model.setCheckRun(failing, 'lint', { conclusion: 'failure' });
    await expect(verify({ sha: failing })).rejects.toThrow(/refused: not green: check run "lint" concluded failure$/);

    const pending = gh.model.pushGreen('main', []);
    gh.model.setCheckRun(pending, 'test', { status: 'in_progress' });
    const f = await failureOf(verify({ sha: pending }));
    expect(f.message).toMatch(/not green: check run "test" is in_progress$/);
    expect(f.nonRetryable).toBe(true);

    const red = gh.model.pushGreen('main');
    gh.model.setStatus(red, 'ci/build', 'failure');
    gh.model.setStatus(red, 'ci/docs', 'success');
    await expect(verify({ sha: red })).rejects.toThrow(/not green: combined status failure \(ci\/build: failure\)$/);

    const waiting = gh.model.pushGreen('main');
    gh.model.setStatus(waiting, 'ci/build', 'pending');
    await expect(verify({ sha: waiting })).rejects.toThrow(/not green: combined status pending \(ci\/build: pending\)$/);
  });

  it('refuses when a required check is missing or only neutral; a required commit status counts', async () => {
    const missing = gh.model.pushGreen('main', ['lint']);
    await expect(verify({ sha: missing })).rejects.toThrow(/not green: required check "test" missing$/);
    const neutral = gh.model.pushGreen('main', []);
    gh.model.setCheckRun(neutral, 'test', { conclusion: 'neutral' });
    await expect(verify({ sha: neutral })).rejects.toThrow(/required check "test" concluded neutral, not success/);
    const viaStatus = gh.model.pushGreen('main', []);
    gh.model.setStatus(viaStatus, 'test', 'success');
    await expect(verify({ sha: viaStatus })).resolves.toMatchObject({ output: { sha: viaStatus } });
  });

  it('applies the `before` cut-off to the committer date', async () => {
    const c = gh.model.pushGreen('main', ['test'], { date: '2026-03-02T10:00:00Z' });
    await expect(verify({ sha: c, before: '2026-03-02T09:00:00Z' })).rejects.toThrow(/refused: not before 2026-03-02T09:00:00Z: committed 2026-03-02T10:00:00Z$/);
    const ok = await verify({ sha: c, before: '2026-03-03' });
    expect(ok.proof).toMatchObject({ rules: { before: { ok: true, committedAt: '2026-03-02T10:00:00Z' } } });
  });

  it('names every rule that failed', async () => {
    gh.model.pushGreen('main');
    const bad = gh.model.commit({ verified: false, date: '2026-05-01T00:00:00Z' });
    gh.model.setCheckRun(bad, 'test', { conclusion: 'failure' });
    const f = await failureOf(verify({ sha: bad, before: '2026-04-01T00:00:00Z' }));
    expect(f.message).toContain('signature not verified: unsigned; not on the protected branch main');
    expect(f.message).toContain('; not green: check run "test" concluded failure; not before 2026-04-01T00:00:00Z');
  });

  it('without a sha, picks the newest qualifying commit of the branch and says why newer ones were skipped', async () => {
    const good = gh.model.pushGreen('main');
    const red = gh.model.pushGreen('main', ['test', 'lint']);
    gh.model.setCheckRun(red, 'lint', { conclusion: 'failure' });
    const unsigned = gh.model.pushGreen('main', ['test'], { verified: false });
    const res = await verify();
    expect(res.output).toMatchObject({ sha: good, verified: true });
    expect(res.summary).toContain(`skipped 2 newer: ${short(unsigned)} (signature not verified: unsigned), ${short(red)} (not green: check run "lint" concluded failure)`);
    expect(res.proof?.skipped).toEqual([
      { sha: unsigned, reason: 'signature not verified: unsigned' },
      { sha: red, reason: 'not green: check run "lint" concluded failure' },
    ]);
    expect(gh.callsTo(R.list)[0]?.query).toMatchObject({ sha: 'main', per_page: '30' });
    // The unsigned head cost no extra calls: its signature came with the list.
    expect(gh.callsTo(R.compare).map((c) => c.path.split('...')[1])).toEqual([red, good]);
  });

  it('without a sha, honours `before`, pages through the branch, and refuses when nothing qualifies', async () => {
    const old = gh.model.pushGreen('main', ['test'], { date: '2026-02-01T00:00:00Z' });
    for (let i = 0; i < 34; i++) gh.model.pushGreen('main', ['test'], { date: `2026-02-${String(2 + (i % 20)).padStart(2, '0')}T${String(i % 24).padStart(2, '0')}:00:00Z` });
    const res = await verify({ before: '2026-02-01T12:00:00Z' });
    expect(res.output?.sha).toBe(old);
    expect(gh.callsTo(R.list).map((c) => c.query.page)).toEqual(['1', '2']);
    expect((res.proof?.skipped as unknown[]).length).toBe(34);
    expect(res.summary).toMatch(/skipped 34 newer: .*not before 2026-02-01T12:00:00Z.*, and 29 more$/);

    gh.model.reset();
    const unsigned = gh.model.pushGreen('main', ['test'], { verified: false });
    const red = gh.model.pushGreen('main', ['lint']);
    const f = await failureOf(verify());
    expect(f.type).toBe('FirebreakRefused');
    expect(f.message).toBe(`no qualifying commit among the newest 2 on main of acme/web: ${short(red)} not green: required check "test" missing; ${short(unsigned)} signature not verified: unsigned`);
  });

  it('validates its input and target before calling GitHub', async () => {
    await expect(verify({ sha: 'not-a-sha' })).rejects.toMatchObject({ type: 'FirebreakBadInput', message: expect.stringMatching(/sha must be a commit sha \(7 to 64 hex digits\)/) });
    await expect(verify({ sha: 123 })).rejects.toMatchObject({ type: 'FirebreakBadInput', message: expect.stringMatching(/sha must be a commit sha/) });
    await expect(verify({ before: 'last tuesday' })).rejects.toMatchObject({ type: 'FirebreakBadInput', message: expect.stringMatching(/before must be an ISO date/) });
    await expect(verify({}, { target: 'nogh' })).rejects.toMatchObject({ type: 'FirebreakBadInput', message: expect.stringMatching(/target "nogh" has no github section/) });
    await expect(verify({}, { target: 'nope' })).rejects.toMatchObject({ type: 'FirebreakBadInput' });
    await expect(verify({}, { target: 'prod', mode: 'drill' })).rejects.toMatchObject({ type: 'FirebreakRefused' });
    expect(gh.calls).toHaveLength(0);
    // An unknown sha: GitHub answers 422 "No commit found".
    await expect(verify({ sha: 'deadbeefdeadbeef' })).rejects.toMatchObject({ type: 'FirebreakBadInput', message: expect.stringMatching(/answered 422: No commit found for SHA: deadbeefdeadbeef/) });
  });
});

describe('deploy.redeploy', () => {
  let sha: string;
  beforeEach(() => {
    gh.model.pushGreen('main');
    sha = gh.model.pushGreen('main');
  });

  it('dispatches the deploy workflow with the sha and succeeds with the run URL', async () => {
    const env = mockEnv();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const res = await redeployIn(env, acts, input('deploy.redeploy', { sha }));
    const [d] = gh.model.dispatches;
    expect(gh.model.dispatches).toHaveLength(1);
    expect(d).toMatchObject({ workflow: 'deploy.yml', ref: 'main', inputs: { sha } });
    expect(gh.callsTo(R.dispatch)[0]?.body).toEqual({ ref: 'main', inputs: { sha }, return_run_details: true });
    const url = `https://github.test/acme/web/actions/runs/${d?.runId}`;
    expect(res).toMatchObject({
      changed: true,
      output: { sha, runId: d?.runId, url, conclusion: 'success' },
      proof: { workflow: 'deploy.yml', ref: 'main', runUrl: url, status: 'completed', conclusion: 'success', matchedBy: 'dispatch-response', resumed: false },
    });
    expect(res.summary).toBe(`deployed ${short(sha)} with deploy.yml on main: run ${d?.runId} succeeded (${url})`);
    expect(beats).toContainEqual(expect.objectContaining({ runId: d?.runId, status: 'completed' }));
  });

  it('without run details (a server answering 204), finds the run created after the dispatch, not an older one', async () => {
    gh.model.dispatchMode = 'no-content';
    const someoneElses = gh.model.addRun('deploy.yml', { status: 'in_progress' });
    gh.model.runPlan.hiddenForListCalls = 1; // GitHub creates the run a moment after the dispatch
    const res = await redeployIn(mockEnv(), acts, input('deploy.redeploy', { sha }));
    const ours = gh.model.dispatches[0]?.runId;
    expect(ours).not.toBe(someoneElses.id);
    expect(res.proof).toMatchObject({ runId: ours, matchedBy: 'first-after-dispatch' });
    expect(gh.callsTo(R.runs)[0]?.query).toMatchObject({ event: 'workflow_dispatch', branch: 'main', created: expect.stringMatching(/^>=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) });
    expect(gh.model.run(someoneElses.id)?.status).toBe('in_progress');
  });

  it('prefers the run whose name shows the sha, and retries the dispatch without run details on an older server', async () => {
    gh.model.dispatchMode = 'legacy';
    gh.model.addWorkflow('deploy.yml', { name: 'Deploy', inputs: ['sha'], runName: (i) => `deploy ${String(i.sha)}` });
    const res = await redeployIn(mockEnv(), acts, input('deploy.redeploy', { sha }));
    expect(gh.callsTo(R.dispatch).map((c) => c.status)).toEqual([422, 204]);
    expect(gh.model.dispatches).toHaveLength(1);
    expect(res.proof).toMatchObject({ matchedBy: 'run-name', conclusion: 'success' });
  });

  it('a failed run fails the step, not retryably, with the run URL', async () => {
    gh.model.runPlan.conclusion = 'failure';
    const f = await failureOf(redeployIn(mockEnv(), acts, input('deploy.redeploy', { sha })));
    const runId = gh.model.dispatches[0]?.runId;
    expect(f).toMatchObject({ type: 'FirebreakVerificationFailed', nonRetryable: true });
    expect(f.message).toBe(`deploy run https://github.test/acme/web/actions/runs/${runId} concluded failure: ${short(sha)} is not deployed`);
  });

  it('a run that never finishes fails after timeout_minutes with the run URL (fake clock)', async () => {
    gh.model.runPlan.conclusion = null;
    const clock = fakeClock();
    const timed = createDeployActivities(deps, { clock });
    const started = Date.now();
    const f = await failureOf(redeployIn(mockEnv(), timed, input('deploy.redeploy', { sha, timeout_minutes: 1 })));
    const runId = gh.model.dispatches[0]?.runId;
    expect(f).toMatchObject({ type: 'FirebreakVerificationFailed', nonRetryable: true });
    expect(f.message).toBe(`deploy run https://github.test/acme/web/actions/runs/${runId} did not finish within 1 min (still in_progress); it was not cancelled`);
    expect(clock.elapsedMs()).toBeGreaterThanOrEqual(60_000);
    expect(Date.now() - started).toBeLessThan(5_000);
    // Backoff 1 s, 2 s, 4 s, ... capped at 30 s: a handful of polls for a minute, not sixty.
    expect(gh.callsTo(R.run).length).toBeLessThanOrEqual(8);
    expect(gh.model.run(runId as number)?.status).toBe('in_progress');
  });

  it('a retry after a crash watches the same run and never dispatches twice', async () => {
    gh.model.runPlan.runningPolls = 2;
    const crashing = createDeployActivities(deps, {
      clock: {
        now: () => Date.now(),
        sleep: () => Promise.reject(new Error('worker killed')),
      },
    });
    const same = input('deploy.redeploy', { sha });
    await expect(redeployIn(mockEnv('deploy-1'), crashing, same)).rejects.toThrow('worker killed');
    expect(gh.model.dispatches).toHaveLength(1);
    const record = JSON.parse((await r.redis.get(ownKey({ keyPrefix: r.prefix, keyVersion: 1 }, 'deploy', same.incidentId, same.stepId))) ?? '{}') as Record<string, unknown>;
    expect(record).toMatchObject({ activityId: 'deploy-1', sha, dispatched: true, runId: gh.model.dispatches[0]?.runId });
    const res = await redeployIn(mockEnv('deploy-1', { attempt: 2 }), acts, same);
    expect(gh.model.dispatches).toHaveLength(1);
    expect(gh.callsTo(R.dispatch)).toHaveLength(1);
    expect(res.proof).toMatchObject({ runId: gh.model.dispatches[0]?.runId, conclusion: 'success', resumed: true });
  });

  it('a retry after a lost dispatch answer adopts the run it created; a heartbeat alone is enough to resume', async () => {
    gh.model.dispatchMode = 'no-content';
    gh.failNext(R.dispatch, 500, 1, { afterEffect: true });
    const same = input('deploy.redeploy', { sha });
    await expect(redeployIn(mockEnv('deploy-2'), acts, same)).rejects.toMatchObject({ type: 'FirebreakTargetUnavailable', nonRetryable: false });
    expect(gh.model.dispatches).toHaveLength(1);
    const res = await redeployIn(mockEnv('deploy-2', { attempt: 2 }), acts, same);
    expect(gh.callsTo(R.dispatch)).toHaveLength(1);
    expect(res.proof).toMatchObject({ runId: gh.model.dispatches[0]?.runId, matchedBy: 'first-after-dispatch', resumed: true });

    // No Redis record, only the last heartbeat's details: the run is still watched, not re-dispatched.
    const other = input('deploy.redeploy', { sha });
    const run = gh.model.createRun('deploy.yml', sha, 'main', { sha }, gh.model.runPlan);
    const viaHeartbeat = await redeployIn(mockEnv('deploy-3', { attempt: 2, heartbeatDetails: { runId: run.id, dispatchedAt: new Date().toISOString() } }), acts, other);
    expect(gh.callsTo(R.dispatch)).toHaveLength(1);
    expect(viaHeartbeat.proof).toMatchObject({ runId: run.id, matchedBy: 'heartbeat', resumed: true });
  });

  it('a new scheduling of the step (a human retry after it failed) deploys again', async () => {
    gh.model.runPlan.conclusion = 'failure';
    const same = input('deploy.redeploy', { sha });
    await expect(redeployIn(mockEnv('first'), acts, same)).rejects.toMatchObject({ type: 'FirebreakVerificationFailed' });
    gh.model.runPlan.conclusion = 'success';
    const res = await redeployIn(mockEnv('second'), acts, same);
    expect(gh.model.dispatches).toHaveLength(2);
    expect(res.proof).toMatchObject({ runId: gh.model.dispatches[1]?.runId, resumed: false });
  });

  it('cancelling the activity cancels the GitHub run and rethrows the cancellation', async () => {
    gh.model.runPlan.conclusion = null;
    const env = mockEnv();
    const polling = new Promise<void>((resolve) => env.on('heartbeat', (d: { status?: string } | undefined) => {
        if (d?.status === 'in_progress') resolve();
      }));
    const running = redeployIn(env, acts, input('deploy.redeploy', { sha }));
    await polling;
    env.cancel();
    await expect(running).rejects.toBeInstanceOf(CancelledFailure);
    const runId = gh.model.dispatches[0]?.runId as number;
    expect(gh.callsTo(R.cancel).map((c) => c.path)).toEqual([`/repos/acme/web/actions/runs/${runId}/cancel`]);
    expect(gh.model.run(runId)).toMatchObject({ status: 'completed', conclusion: 'cancelled' });
  });

  it('a worker shutdown is not a cancel request: the run keeps going for the next attempt', async () => {
    gh.model.runPlan.conclusion = null;
    const env = mockEnv();
    const polling = new Promise<void>((resolve) => env.on('heartbeat', (d: { status?: string } | undefined) => {
        if (d?.status === 'in_progress') resolve();
      }));
    const running = redeployIn(env, acts, input('deploy.redeploy', { sha }));
    await polling;
    env.cancel('WORKER_SHUTDOWN', new ActivityCancellationDetails({ workerShutdown: true }));
    await expect(running).rejects.toBeInstanceOf(CancelledFailure);
    expect(gh.callsTo(R.cancel)).toHaveLength(0);
    expect(gh.model.run(gh.model.dispatches[0]?.runId as number)?.status).toBe('in_progress');
  });

  it('dry-run plans the dispatch and calls nothing; bad input and config are refused up front', async () => {
    const plan = await redeployIn(mockEnv(), acts, input('deploy.redeploy', { sha }, { mode: 'dry-run' }));
    expect(plan).toMatchObject({
      changed: false,
      plan: [`POST /repos/acme/web/actions/workflows/deploy.yml/dispatches { ref: main, inputs: { sha: ${sha} } }`, 'wait up to 30 min for the run to conclude success'],
    });
    const bad = async (args: Record<string, unknown>, target = 'local') => redeployIn(mockEnv(), acts, input('deploy.redeploy', args, { target }));
    await expect(bad({ sha: short(sha) })).rejects.toMatchObject({ type: 'FirebreakBadInput', message: expect.stringMatching(/full commit sha/) });
    await expect(bad({})).rejects.toMatchObject({ type: 'FirebreakBadInput', message: expect.stringMatching(/sha must be a full commit sha/) });
    await expect(bad({ sha, timeout_minutes: 0 })).rejects.toMatchObject({ type: 'FirebreakBadInput', message: expect.stringMatching(/timeout_minutes/) });
    await expect(bad({ sha, timeout_minutes: 1.5 })).rejects.toMatchObject({ type: 'FirebreakBadInput', message: expect.stringMatching(/timeout_minutes must be a whole number from 1 to 120/) });
    await expect(bad({ sha }, 'nowf')).rejects.toMatchObject({ type: 'FirebreakBadInput', message: expect.stringMatching(/github.deployWorkflow is not set/) });
    await expect(redeployIn(mockEnv(), acts, input('deploy.redeploy', { sha }, { target: 'prod', mode: 'drill' }))).rejects.toMatchObject({ type: 'FirebreakRefused' });
    expect(gh.calls).toHaveLength(0);
  });
});

describe('GitHub errors map to typed failures once', () => {
  const cases: [number, string, boolean, RegExp][] = [
    [401, 'FirebreakRefused', true, /answered 401: Bad credentials \(the token was not accepted/],
    [403, 'FirebreakRefused', true, /answered 403: Resource not accessible by personal access token \(the token lacks a permission/],
    [404, 'FirebreakBadInput', true, /answered 404: Not Found$/],
    [422, 'FirebreakBadInput', true, /answered 422: Validation Failed$/],
    [408, 'FirebreakTargetUnavailable', false, /answered 408/],
    [429, 'FirebreakTargetUnavailable', false, /answered 429: API rate limit exceeded/],
    [500, 'FirebreakTargetUnavailable', false, /answered 500: Server Error$/],
    [503, 'FirebreakTargetUnavailable', false, /answered 503/],
  ];

  it.each(cases)('verify_commit: %i → %s (non-retryable %s)', async (status, type, nonRetryable, message) => {
    const c = gh.model.pushGreen('main');
    gh.failNext(R.commit, status);
    const f = await failureOf(verify({ sha: c }));
    expect(f).toMatchObject({ type, nonRetryable });
    expect(f.message).toMatch(/^GitHub GET \/repos\/\{owner\}\/\{repo\}\/commits\/\{ref\} \(acme\/web\) answered /);
    expect(f.message).toMatch(message);
    expect(f.message).not.toContain(TOKEN);
    // The next call goes through: a retry would succeed.
    await expect(verify({ sha: c })).resolves.toMatchObject({ output: { sha: c } });
  });

  it('a 403 with the rate limit exhausted and a 429 are retryable, after GitHub’s delay; a dropped connection too', async () => {
    const c = gh.model.pushGreen('main');
    gh.failNext(R.checks, 403, 1, { rateLimited: true });
    const limited = await failureOf(verify({ sha: c }));
    expect(limited).toMatchObject({ type: 'FirebreakTargetUnavailable', nonRetryable: false, nextRetryDelay: 1000 });
    expect(limited.message).toMatch(/check-runs \(acme\/web\) answered 403: .*\(rate limited; retrying in 1 s\)/);
    gh.failNext(R.status, 429, 1, { rateLimited: true });
    await expect(verify({ sha: c })).rejects.toMatchObject({ type: 'FirebreakTargetUnavailable', nonRetryable: false, nextRetryDelay: 1000 });
    gh.failNext(R.list, 0);
    const dropped = await failureOf(verify());
    expect(dropped).toMatchObject({ type: 'FirebreakTargetUnavailable', nonRetryable: false });
    expect(dropped.message).toMatch(/^GitHub GET \/repos\/\{owner\}\/\{repo\}\/commits \(acme\/web\) unreachable: /);
  });

  it('a wrong token is refused by the stand-in itself: 401, not retryable, token never echoed', async () => {
    gh.model.pushGreen('main');
    const f = await failureOf(verify({}, { target: 'badtoken' }));
    expect(f).toMatchObject({ type: 'FirebreakRefused', nonRetryable: true });
    expect(f.message).toContain('answered 401: Bad credentials');
    expect(f.message).not.toMatch(/ghp_/);
    expect(gh.calls.at(-1)).toMatchObject({ status: 401, auth: 'token' });
  });

  it('redeploy: dispatch 404/422 and 401 are not retryable; dispatch 502 and run polling 500 are', async () => {
    const sha = gh.model.pushGreen('main');
    const run = (s = sha) => redeployIn(mockEnv(), acts, input('deploy.redeploy', { sha: s }));
    gh.failNext(R.dispatch, 404);
    await expect(run()).rejects.toMatchObject({ type: 'FirebreakBadInput', nonRetryable: true, message: expect.stringMatching(/dispatches \(acme\/web\) answered 404/) });
    gh.failNext(R.dispatch, 401);
    await expect(run()).rejects.toMatchObject({ type: 'FirebreakRefused', nonRetryable: true });
    gh.failNext(R.dispatch, 403);
    await expect(run()).rejects.toMatchObject({ type: 'FirebreakRefused', nonRetryable: true });
    // 422 on the dispatch is retried once without run details (an older server), then reported.
    gh.failNext(R.dispatch, 422, 2);
    await expect(run()).rejects.toMatchObject({ type: 'FirebreakBadInput', nonRetryable: true, message: expect.stringMatching(/answered 422/) });
    expect(gh.model.dispatches).toHaveLength(0);
    gh.failNext(R.dispatch, 502);
    await expect(run()).rejects.toMatchObject({ type: 'FirebreakTargetUnavailable', nonRetryable: false });
    gh.failNext(R.run, 500);
    await expect(run()).rejects.toMatchObject({ type: 'FirebreakTargetUnavailable', nonRetryable: false, message: expect.stringMatching(/actions\/runs\/\{run_id\} \(acme\/web\) answered 500/) });
    gh.failNext(R.runs, 429);
    await expect(run()).rejects.toMatchObject({ type: 'FirebreakTargetUnavailable', nonRetryable: false });
  });

  it('sink: public key 403 and 404 are not retryable, 500 is', async () => {
    const sink = createGithubSink(deps, 'local');
    gh.failNext(R.repoKey, 403);
    await expect(sink.put('X_KEY', SECRET_VALUE)).rejects.toMatchObject({ type: 'FirebreakRefused', nonRetryable: true });
    gh.failNext(R.repoKey, 404);
    await expect(sink.put('X_KEY', SECRET_VALUE)).rejects.toMatchObject({ type: 'FirebreakBadInput', nonRetryable: true });
    gh.failNext(R.repoKey, 500);
    await expect(sink.put('X_KEY', SECRET_VALUE)).rejects.toMatchObject({ type: 'FirebreakTargetUnavailable', nonRetryable: false });
    await sink.put('X_KEY', SECRET_VALUE);
    expect(gh.model.decryptSecret('X_KEY')).toBe(SECRET_VALUE);
  });

  it('githubFailure passes typed failures through and wraps unknown errors as retryable', () => {
    const typed = ApplicationFailure.create({ type: 'FirebreakBadInput', message: 'x', nonRetryable: true });
    expect(githubFailure(typed)).toBe(typed);
    const cancelled = new CancelledFailure('CANCELLED');
    expect(githubFailure(cancelled)).toBe(cancelled);
    expect(githubFailure(new Error(`boom ${TOKEN}`), 'GET /x', [TOKEN])).toMatchObject({ type: 'FirebreakTargetUnavailable', nonRetryable: false, message: 'github error: GET /x: boom [REDACTED]' });
  });
});

describe('an incident verifies a commit, then redeploys it', () => {
  it('phase III: verify_commit → redeploy with {{ steps.verify.output.sha }}; one dispatch of that sha', async () => {
    const tokenFile = join(dir, 'token');
    const stack = await startStack('github-incident', {
      targetExtra: `    github: { repo: acme/web, branch: main, token: { file: "${tokenFile}" }, baseUrl: "${gh.url}", deployWorkflow: deploy.yml, requiredChecks: [test] }`,
    });
    try {
      const good = gh.model.pushGreen('main');
      const red = gh.model.pushGreen('main', ['test', 'lint']);
      gh.model.setCheckRun(red, 'lint', { conclusion: 'failure' });
      stack.writeRunbook(
        'redeploy-verified',
        [
          'name: redeploy-verified',
          'title: Redeploy the last verified commit',
          'severity: high',
          'phases:',
          '  recovery:',
          '    - id: verify',
          '      action: deploy.verify_commit',
          '    - id: redeploy',
          '      action: deploy.redeploy',
          '      needs: [verify]',
          '      with: { sha: "{{ steps.verify.output.sha }}", timeout_minutes: 5 }',
          '',
        ].join('\n'),
      );
      const res = await declareIncident(stack.client, stack.config, { runbook: 'redeploy-verified', actor: stack.actor(DECLARER) });
      const s = await waitFor(stack.client, res.id, (x) => TERMINAL.includes(x.state) || x.state === 'blocked' || x.state === 'awaiting-resolve', { timeoutMs: 60_000, intervalMs: 200 });
      // Step first: a failure shows its error (e.g. the activity not registered on the worker).
      expect(s.steps.find((x) => x.id === 'verify')).toMatchObject({ state: 'succeeded', proof: { sha: good } });
      // Nothing was contained, so there is no all-clear to wait for: phase III done, the incident completes.
      expect(s).toMatchObject({ state: 'completed', phase: 'done' });
      const redeploy = s.steps.find((x) => x.id === 'redeploy');
      expect(redeploy).toMatchObject({ state: 'succeeded', proof: { sha: good, conclusion: 'success' } });
      expect(gh.model.dispatches).toHaveLength(1);
      expect(gh.model.dispatches[0]?.inputs).toEqual({ sha: good });
      expect(redeploy?.summary).toContain(`https://github.test/acme/web/actions/runs/${gh.model.dispatches[0]?.runId}`);
      expect((await getStatus(stack.client, res.id)).timeline.some((t) => t.step === 'verify' && t.message.includes(`skipped 1 newer: ${short(red)}`))).toBe(true);
    } finally {
      await stack.stop();
    }
  });
});
