/**
 * A local stand-in for the GitHub REST endpoints Firebreak uses (commits, compare,
 * statuses, check runs, Actions secrets, workflow dispatch and runs), speaking the
 * documented JSON shapes over node:http so Octokit talks to it through `baseUrl`.
 * It records every call (never the Authorization value), checks the token, can
 * answer scripted failures, and holds sealed-box key pairs so tests can decrypt
 * what a sink sent.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import sodium from 'libsodium-wrappers';
import { GithubModel, type CommitRec, type IssueRec, type RecordedCall, type RunRec } from './github-model.js';
import { commitJson, DOCS, HttpError, isoSec, issueJson, matchRoute, ROUTES, runJson, type Route } from './github-shapes.js';

export { GithubModel, type CommitSpec, type IssueRec, type RecordedCall, type RunPlan, type StatusState } from './github-model.js';

export interface StandinOptions {
  owner?: string;
  repo?: string;
  /** The only token accepted (`Authorization: token|Bearer <token>`). */
  token?: string;
}

interface ScriptedFailure {
  status: number;
  times: number;
  rateLimited: boolean;
  /** Do the work, then answer the failure (the answer was lost, as after a crash). */
  afterEffect: boolean;
}

export interface FailOptions {
  /** 403/429: answer as rate limiting (`x-ratelimit-remaining: 0` and `retry-after`). */
  rateLimited?: boolean;
  /** Perform the call's effect, then answer the failure (a lost answer). */
  afterEffect?: boolean;
}

export interface GithubStandin {
  /** Base URL for Octokit (`baseUrl`). */
  url: string;
  model: GithubModel;
  calls: RecordedCall[];
  /** Calls whose route template is `route` (e.g. `POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches`). */
  callsTo(route: string): RecordedCall[];
  /** Answer the next `times` calls of `route` with `status` (0: drop the connection without answering). */
  failNext(route: string, status: number, times?: number, opts?: FailOptions): void;
  stop(): Promise<void>;
}


/** Start the stand-in on 127.0.0.1 (a free port). */
export async function startGithubStandin(opts: StandinOptions = {}): Promise<GithubStandin> {
  await sodium.ready;
  const model = new GithubModel(opts.owner ?? 'acme', opts.repo ?? 'web', opts.token ?? `ghp_${randomBytes(18).toString('hex')}`);
  const calls: RecordedCall[] = [];
  const failures = new Map<string, ScriptedFailure[]>();
  let base = '';

  const apiUrl = (path: string) => `${base}/repos/${model.owner}/${model.repo}${path}`;

  const shapes = { model, apiUrl };

  function page<T>(items: T[], query: Record<string, string>, path: string, res: ServerResponse, defaultPerPage = 30): T[] {
    const perPage = Math.min(Math.max(Number(query.per_page ?? defaultPerPage) || defaultPerPage, 1), 100);
    const pageNo = Math.max(Number(query.page ?? 1) || 1, 1);
    const slice = items.slice((pageNo - 1) * perPage, pageNo * perPage);
    if (pageNo * perPage < items.length) {
      const next = new URLSearchParams({ ...query, page: String(pageNo + 1), per_page: String(perPage) });
      res.setHeader('link', `<${base}${path}?${next.toString()}>; rel="next"`);
    }
    return slice;
  }

  function advance(run: RunRec): void {
    if (run.status === 'completed') return;
    run.polls += 1;
    const { queuedPolls, runningPolls, conclusion } = run.plan;
    if (run.polls <= queuedPolls) run.status = 'queued';
    else if (run.polls <= queuedPolls + runningPolls || conclusion === null) run.status = 'in_progress';
    else {
      run.status = 'completed';
      run.conclusion = conclusion;
    }
    run.updated_at = isoSec(Date.now());
  }

  function secretHolder(env: string | undefined) {
    if (env === undefined) return { key: model.repoKey, secrets: model.secrets };
    const holder = model.environments.get(env);
    if (!holder) throw new HttpError(404, 'Not Found');
    return holder;
  }

  function handle(route: Route, params: Record<string, string>, query: Record<string, string>, body: unknown, path: string, res: ServerResponse): { status: number; data?: unknown } {
    if (params.owner !== model.owner || params.repo !== model.repo) throw new HttpError(404, 'Not Found');
    switch (route) {
      case 'GET /repos/{owner}/{repo}/commits': {
        const head = model.resolve(query.sha ?? 'main');
        if (!head) throw new HttpError(404, 'Not Found');
        const all = [...model.ancestors(head.sha)].map((s) => model.commits.get(s) as CommitRec);
        all.sort((a, b) => Date.parse(b.date) - Date.parse(a.date) || b.order - a.order);
        return { status: 200, data: page(all, query, path, res).map((x) => commitJson(shapes, x)) };
      }
      case 'GET /repos/{owner}/{repo}/commits/{ref}': {
        const c = model.resolve(params.ref as string);
        if (!c) throw new HttpError(422, `No commit found for SHA: ${params.ref}`);
        return { status: 200, data: { ...commitJson(shapes, c), stats: { total: 1, additions: 1, deletions: 0 }, files: [] } };
      }
      case 'GET /repos/{owner}/{repo}/commits/{ref}/status': {
        const c = model.resolve(params.ref as string);
        if (!c) throw new HttpError(422, `No commit found for SHA: ${params.ref}`);
        const list = model.statuses.get(c.sha) ?? [];
        const state = list.length === 0 ? 'pending' : list.some((s) => s.state === 'failure' || s.state === 'error') ? 'failure' : list.some((s) => s.state === 'pending') ? 'pending' : 'success';
        return {
          status: 200,
          data: {
            state,
            sha: c.sha,
            total_count: list.length,
            statuses: list.map((s, i) => ({
              id: i + 1,
              node_id: `SC_${i}`,
              url: apiUrl(`/statuses/${c.sha}`),
              avatar_url: null,
              state: s.state,
              description: s.description,
              target_url: null,
              context: s.context,
              created_at: s.at,
              updated_at: s.at,
            })),
            repository: { id: 1, name: model.repo, full_name: `${model.owner}/${model.repo}` },
            commit_url: apiUrl(`/commits/${c.sha}`),
            url: apiUrl(`/commits/${c.sha}/status`),
          },
        };
      }
      case 'GET /repos/{owner}/{repo}/commits/{ref}/check-runs': {
        const c = model.resolve(params.ref as string);
        if (!c) throw new HttpError(422, `No commit found for SHA: ${params.ref}`);
        const runs = (model.checkRuns.get(c.sha) ?? []).map((r) => ({
          id: r.id,
          head_sha: c.sha,
          node_id: `CR_${r.id}`,
          external_id: '',
          url: apiUrl(`/check-runs/${r.id}`),
          html_url: `${model.htmlBase}/runs/${r.id}`,
          details_url: null,
          status: r.status,
          conclusion: r.conclusion,
          started_at: c.date,
          completed_at: r.status === 'completed' ? c.date : null,
          output: { title: null, summary: null, text: null, annotations_count: 0, annotations_url: '' },
          name: r.name,
          check_suite: { id: 1 },
          app: null,
          pull_requests: [],
        }));
        return { status: 200, data: { total_count: runs.length, check_runs: page(runs, query, path, res) } };
      }
      case 'GET /repos/{owner}/{repo}/compare/{basehead}': {
        const [baseRef, headRef] = (params.basehead as string).split('...') as [string, string | undefined];
        const b = model.resolve(baseRef);
        const h = headRef === undefined ? undefined : model.resolve(headRef);
        if (!b || !h) throw new HttpError(404, 'Not Found');
        const ancB = model.ancestors(b.sha);
        const ancH = model.ancestors(h.sha);
        const ahead = [...ancH].filter((s) => !ancB.has(s)).map((s) => model.commits.get(s) as CommitRec);
        const behind = [...ancB].filter((s) => !ancH.has(s));
        const status = ahead.length === 0 && behind.length === 0 ? 'identical' : ahead.length === 0 ? 'behind' : behind.length === 0 ? 'ahead' : 'diverged';
        const mergeBase = [...ancH].filter((s) => ancB.has(s)).map((s) => model.commits.get(s) as CommitRec).sort((x, y) => y.order - x.order)[0];
        ahead.sort((x, y) => x.order - y.order);
        return {
          status: 200,
          data: {
            url: apiUrl(`/compare/${params.basehead}`),
            html_url: `${model.htmlBase}/compare/${params.basehead}`,
            permalink_url: `${model.htmlBase}/compare/${b.sha}...${h.sha}`,
            diff_url: `${model.htmlBase}/compare/${params.basehead}.diff`,
            patch_url: `${model.htmlBase}/compare/${params.basehead}.patch`,
            base_commit: commitJson(shapes, b),
            merge_base_commit: mergeBase ? commitJson(shapes, mergeBase) : null,
            status,
            ahead_by: ahead.length,
            behind_by: behind.length,
            total_commits: ahead.length,
            commits: page(ahead, query, path, res, 250).map((x) => commitJson(shapes, x)),
            files: [],
          },
        };
      }
      case 'GET /repos/{owner}/{repo}/actions/secrets/public-key':
      case 'GET /repos/{owner}/{repo}/environments/{environment_name}/secrets/public-key': {
        const { key } = secretHolder(params.environment_name);
        return { status: 200, data: { key_id: key.keyId, key: sodium.to_base64(key.publicKey, sodium.base64_variants.ORIGINAL) } };
      }
      case 'PUT /repos/{owner}/{repo}/actions/secrets/{secret_name}':
      case 'PUT /repos/{owner}/{repo}/environments/{environment_name}/secrets/{secret_name}': {
        const holder = secretHolder(params.environment_name);
        const name = params.secret_name as string;
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || /^GITHUB_/i.test(name)) throw new HttpError(422, 'Invalid secret name');
        const b = (body ?? {}) as { encrypted_value?: unknown; key_id?: unknown };
        if (typeof b.encrypted_value !== 'string' || typeof b.key_id !== 'string') throw new HttpError(422, 'Invalid request.\n\n"encrypted_value" and "key_id" are required.');
        if (b.key_id !== holder.key.keyId) throw new HttpError(422, 'Bad key_id');
        try {
          sodium.crypto_box_seal_open(sodium.from_base64(b.encrypted_value, sodium.base64_variants.ORIGINAL), holder.key.publicKey, holder.key.privateKey);
        } catch {
          throw new HttpError(422, 'encrypted_value is not a sealed box for this key');
        }
        const upper = name.toUpperCase();
        const now = isoSec(Date.now());
        const existing = holder.secrets.get(upper);
        holder.secrets.set(upper, { name: upper, encrypted_value: b.encrypted_value, key_id: b.key_id, created_at: existing?.created_at ?? now, updated_at: now });
        return { status: existing ? 204 : 201, data: existing ? undefined : {} };
      }
      case 'POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches': {
        const wf = model.workflows.get(params.workflow_id as string) ?? [...model.workflows.values()].find((w) => String(w.id) === params.workflow_id);
        if (!wf) throw new HttpError(404, 'Not Found');
        const b = (body ?? {}) as { ref?: unknown; inputs?: Record<string, unknown>; return_run_details?: unknown };
        const keys = Object.keys(b).filter((k) => !['ref', 'inputs', 'return_run_details'].includes(k));
        if (keys.length) throw new HttpError(422, `Invalid request.\n\n${keys.map((k) => `"${k}"`).join(', ')} is not a permitted key.`);
        if (b.return_run_details !== undefined && model.dispatchMode === 'legacy') throw new HttpError(422, 'Invalid request.\n\n"return_run_details" is not a permitted key.');
        if (typeof b.ref !== 'string') throw new HttpError(422, 'Invalid request.\n\n"ref" wasn\'t supplied.');
        const branch = b.ref.replace(/^refs\/heads\//, '');
        const head = model.branches.get(branch);
        if (!head) throw new HttpError(422, `No ref found for: ${b.ref}`);
        const inputs = b.inputs ?? {};
        const unexpected = Object.keys(inputs).filter((k) => !wf.inputs.includes(k));
        if (unexpected.length) throw new HttpError(422, `Unexpected inputs provided: ${JSON.stringify(unexpected)}`);
        // A workflow_dispatch run runs the branch head: head_sha is not the `sha` input.
        const run = model.createRun(wf.file, head, branch, inputs, model.runPlan);
        model.dispatches.push({ workflow: wf.file, ref: b.ref, inputs, runId: run.id, at: new Date().toISOString() });
        if (b.return_run_details === true && model.dispatchMode === 'details') {
          return { status: 200, data: { workflow_run_id: run.id, run_url: apiUrl(`/actions/runs/${run.id}`), html_url: `${model.htmlBase}/actions/runs/${run.id}` } };
        }
        return { status: 204 };
      }
      case 'GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs': {
        const wf = model.workflows.get(params.workflow_id as string);
        if (!wf) throw new HttpError(404, 'Not Found');
        let runs = model.runs.filter((r) => r.workflowFile === wf.file);
        for (const r of runs) r.listCalls += 1;
        runs = runs.filter((r) => r.listCalls > r.plan.hiddenForListCalls);
        if (query.event) runs = runs.filter((r) => r.event === query.event);
        if (query.branch) runs = runs.filter((r) => r.head_branch === query.branch);
        if (query.status) runs = runs.filter((r) => r.status === query.status || r.conclusion === query.status);
        if (query.created) {
          const m = /^(>=|>|<=|<)?(.+)$/.exec(query.created);
          const op = m?.[1] ?? '>=';
          const at = Date.parse(m?.[2] ?? '');
          if (!Number.isFinite(at)) throw new HttpError(422, 'Invalid created filter');
          const t = (r: RunRec) => Date.parse(r.created_at);
          runs = runs.filter((r) => (op === '>=' ? t(r) >= at : op === '>' ? t(r) > at : op === '<=' ? t(r) <= at : t(r) < at));
        }
        runs.sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at) || b.id - a.id);
        return { status: 200, data: { total_count: runs.length, workflow_runs: page(runs, query, path, res).map((x) => runJson(shapes, x)) } };
      }
      case 'GET /repos/{owner}/{repo}/actions/runs/{run_id}': {
        const run = model.run(Number(params.run_id));
        if (!run) throw new HttpError(404, 'Not Found');
        advance(run);
        return { status: 200, data: runJson(shapes, run) };
      }
      case 'GET /repos/{owner}/{repo}/issues': {
        const state = query.state ?? 'open';
        const wanted = query.labels ? query.labels.split(',') : [];
        const list = model.issues
          .filter((i) => state === 'all' || i.state === state)
          .filter((i) => wanted.every((l) => i.labels.includes(l)))
          .sort((a, b) => b.number - a.number);
        return { status: 200, data: list.map((x) => issueJson(shapes, x)) };
      }
      case 'POST /repos/{owner}/{repo}/issues': {
        const b = (body ?? {}) as { title?: unknown; body?: unknown; labels?: unknown };
        if (typeof b.title !== 'string' || !b.title) throw new HttpError(422, 'Validation Failed');
        if (b.body !== undefined && b.body !== null && (typeof b.body !== 'string' || b.body.length > 65_536)) throw new HttpError(422, 'Validation Failed');
        const labels = Array.isArray(b.labels) ? b.labels.map((l) => (typeof l === 'string' ? l : String((l as { name?: unknown }).name))) : [];
        const now = isoSec(Date.now());
        const issue: IssueRec = { number: model.issues.length + 1, title: b.title, body: typeof b.body === 'string' ? b.body : null, labels, state: 'open', created_at: now, updated_at: now };
        model.issues.push(issue);
        return { status: 201, data: issueJson(shapes, issue) };
      }
      case 'PATCH /repos/{owner}/{repo}/issues/{issue_number}': {
        const issue = model.issues.find((i) => i.number === Number(params.issue_number));
        if (!issue) throw new HttpError(404, 'Not Found');
        const b = (body ?? {}) as { title?: unknown; body?: unknown; state?: unknown; labels?: unknown };
        if (b.title !== undefined && (typeof b.title !== 'string' || !b.title)) throw new HttpError(422, 'Validation Failed');
        if (b.body !== undefined && b.body !== null && (typeof b.body !== 'string' || b.body.length > 65_536)) throw new HttpError(422, 'Validation Failed');
        if (typeof b.title === 'string') issue.title = b.title;
        if (b.body !== undefined) issue.body = typeof b.body === 'string' ? b.body : null;
        if (b.state === 'open' || b.state === 'closed') issue.state = b.state;
        if (Array.isArray(b.labels)) issue.labels = b.labels.map((l) => (typeof l === 'string' ? l : String((l as { name?: unknown }).name)));
        issue.updated_at = isoSec(Date.now());
        return { status: 200, data: issueJson(shapes, issue) };
      }
      case 'POST /repos/{owner}/{repo}/actions/runs/{run_id}/cancel': {
        const run = model.run(Number(params.run_id));
        if (!run) throw new HttpError(404, 'Not Found');
        if (run.status === 'completed') throw new HttpError(409, 'Cannot cancel a workflow run that is completed.');
        run.status = 'completed';
        run.conclusion = 'cancelled';
        run.updated_at = isoSec(Date.now());
        return { status: 202, data: {} };
      }
    }
  }

  function send(res: ServerResponse, status: number, data: unknown, headers: Record<string, string> = {}): void {
    res.statusCode = status;
    res.setHeader('x-ratelimit-limit', '5000');
    res.setHeader('x-ratelimit-remaining', '4999');
    res.setHeader('x-ratelimit-reset', String(Math.floor(Date.now() / 1000) + 3600));
    res.setHeader('x-github-api-version-selected', '2022-11-28');
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    if (status === 204 || data === undefined) {
      res.end();
      return;
    }
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.end(JSON.stringify(data));
  }

  function errorBody(status: number, message: string, rateLimited: boolean): { data: unknown; headers: Record<string, string> } {
    const headers: Record<string, string> = {};
    if (rateLimited) {
      headers['x-ratelimit-remaining'] = '0';
      headers['x-ratelimit-reset'] = String(Math.floor(Date.now() / 1000) + 1);
      headers['retry-after'] = '1';
    }
    return { data: { message, documentation_url: DOCS, status: String(status) }, headers };
  }

  const DEFAULT_MESSAGES: Record<number, string> = {
    401: 'Bad credentials',
    403: 'Resource not accessible by personal access token',
    404: 'Not Found',
    408: 'Request Timeout',
    409: 'Conflict',
    422: 'Validation Failed',
    429: 'API rate limit exceeded',
    500: 'Server Error',
    502: 'Bad Gateway',
    503: 'Service Unavailable',
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const method = (req.method ?? 'GET').toUpperCase();
      const query = Object.fromEntries(url.searchParams.entries());
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = raw ? (JSON.parse(raw) as unknown) : undefined;
      } catch {
        body = raw;
      }
      const header = req.headers.authorization ?? '';
      const scheme = header.split(' ')[0]?.toLowerCase() ?? '';
      const credential = header.slice(scheme.length + 1);
      const auth: RecordedCall['auth'] = !header ? 'none' : scheme === 'token' ? 'token' : scheme === 'bearer' ? 'bearer' : 'other';
      const matched = matchRoute(method, url.pathname);
      const call: RecordedCall = { method, path: url.pathname, route: matched?.route ?? 'unknown', query, body, status: 0, auth };
      calls.push(call);
      const reply = (status: number, data: unknown, headers: Record<string, string> = {}) => {
        call.status = status;
        send(res, status, data, headers);
      };
      const fail = (status: number, message: string, rateLimited = false) => {
        const e = errorBody(status, message, rateLimited);
        reply(status, e.data, e.headers);
      };
      if (!header) return fail(401, 'Requires authentication');
      if ((auth !== 'token' && auth !== 'bearer') || credential !== model.token) return fail(401, 'Bad credentials');
      if (!matched) return fail(404, 'Not Found');
      const scripted = failures.get(matched.route)?.[0];
      if (scripted) {
        scripted.times -= 1;
        if (scripted.times <= 0) failures.get(matched.route)?.shift();
      }
      if (scripted && !scripted.afterEffect) {
        if (scripted.status === 0) {
          call.status = 0;
          req.socket.destroy();
          return;
        }
        return fail(scripted.status, DEFAULT_MESSAGES[scripted.status] ?? 'Error', scripted.rateLimited);
      }
      try {
        const out = handle(matched.route, matched.params, query, body, url.pathname, res);
        if (scripted) return fail(scripted.status, DEFAULT_MESSAGES[scripted.status] ?? 'Error', scripted.rateLimited);
        reply(out.status, out.data);
      } catch (err) {
        if (err instanceof HttpError) return fail(err.status, err.message);
        return fail(500, 'Server Error');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: base,
    model,
    calls,
    callsTo: (route) => calls.filter((c) => c.route === route),
    failNext(route, status, times = 1, o = {}) {
      if (!ROUTES.includes(route as Route)) throw new Error(`github stand-in: no route ${route}`);
      const list = failures.get(route) ?? [];
      list.push({ status, times, rateLimited: o.rateLimited ?? false, afterEffect: o.afterEffect ?? false });
      failures.set(route, list);
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
