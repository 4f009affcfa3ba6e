/**
 * What the GitHub stand-in speaks: the routes it answers (matched as GitHub's templates,
 * static segments first), its error type, and the documented JSON shapes of commits,
 * workflow runs and issues built from the model.
 */
import { hex40, type CommitRec, type GithubModel, type IssueRec, type RunRec } from './github-model.js';

/** What a shape needs: the repository and the API URL of a path in it. */
export interface ShapeContext {
  model: GithubModel;
  apiUrl: (path: string) => string;
}

export const ROUTES = [
  'GET /repos/{owner}/{repo}/commits',
  'GET /repos/{owner}/{repo}/commits/{ref}',
  'GET /repos/{owner}/{repo}/commits/{ref}/status',
  'GET /repos/{owner}/{repo}/commits/{ref}/check-runs',
  'GET /repos/{owner}/{repo}/compare/{basehead}',
  'GET /repos/{owner}/{repo}/actions/secrets/public-key',
  'PUT /repos/{owner}/{repo}/actions/secrets/{secret_name}',
  'GET /repos/{owner}/{repo}/environments/{environment_name}/secrets/public-key',
  'PUT /repos/{owner}/{repo}/environments/{environment_name}/secrets/{secret_name}',
  'POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches',
  'GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs',
  'GET /repos/{owner}/{repo}/actions/runs/{run_id}',
  'POST /repos/{owner}/{repo}/actions/runs/{run_id}/cancel',
  'GET /repos/{owner}/{repo}/issues',
  'POST /repos/{owner}/{repo}/issues',
  'PATCH /repos/{owner}/{repo}/issues/{issue_number}',
] as const;
export type Route = (typeof ROUTES)[number];

const PARSED_ROUTES = ROUTES.map((route) => {
  const [method, template] = route.split(' ') as [string, string];
  return { route, method, parts: template.split('/').slice(1) };
});

export function matchRoute(method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
  const parts = path.split('/').slice(1);
  // Static segments win over parameters (`secrets/public-key` is not a secret named public-key).
  let best: { route: Route; params: Record<string, string>; score: number } | undefined;
  for (const r of PARSED_ROUTES) {
    if (r.method !== method || r.parts.length !== parts.length) continue;
    const params: Record<string, string> = {};
    let score = 0;
    let ok = true;
    r.parts.forEach((p, i) => {
      const got = parts[i] as string;
      if (p.startsWith('{')) params[p.slice(1, -1)] = decodeURIComponent(got);
      else if (p === got) score++;
      else ok = false;
    });
    if (ok && (!best || score > best.score)) best = { route: r.route, params, score };
  }
  return best && { route: best.route, params: best.params };
}

export const DOCS = 'https://docs.github.com/rest';
export const isoSec = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export function commitJson({ model, apiUrl }: ShapeContext, c: CommitRec) {
  const person = { name: 'Dev', email: 'dev@example.com', date: c.date };
  return {
    sha: c.sha,
    node_id: `C_${c.sha.slice(0, 12)}`,
    url: apiUrl(`/commits/${c.sha}`),
    html_url: `${model.htmlBase}/commit/${c.sha}`,
    comments_url: apiUrl(`/commits/${c.sha}/comments`),
    commit: {
      url: apiUrl(`/git/commits/${c.sha}`),
      author: person,
      committer: person,
      message: c.message,
      tree: { sha: hex40(), url: apiUrl('/git/trees/x') },
      comment_count: 0,
      verification: {
        verified: c.verified,
        reason: c.reason,
        signature: c.verified || c.reason !== 'unsigned' ? '-----BEGIN PGP SIGNATURE-----\n...\n-----END PGP SIGNATURE-----' : null,
        payload: c.verified || c.reason !== 'unsigned' ? `tree ...\n\n${c.message}` : null,
        verified_at: c.verified ? c.date : null,
      },
    },
    author: null,
    committer: null,
    parents: c.parents.map((p) => ({ sha: p, url: apiUrl(`/commits/${p}`), html_url: `${model.htmlBase}/commit/${p}` })),
  };
}

export function runJson({ model, apiUrl }: ShapeContext, r: RunRec) {
  const wf = model.workflows.get(r.workflowFile);
  return {
    id: r.id,
    name: wf?.name ?? r.workflowFile,
    node_id: `WFR_${r.id}`,
    head_branch: r.head_branch,
    head_sha: r.head_sha,
    path: `.github/workflows/${r.workflowFile}`,
    display_title: r.display_title,
    run_number: r.run_number,
    run_attempt: 1,
    event: r.event,
    status: r.status,
    conclusion: r.conclusion,
    workflow_id: wf?.id ?? 0,
    url: apiUrl(`/actions/runs/${r.id}`),
    html_url: `${model.htmlBase}/actions/runs/${r.id}`,
    created_at: r.created_at,
    updated_at: r.updated_at,
    run_started_at: r.created_at,
    jobs_url: apiUrl(`/actions/runs/${r.id}/jobs`),
    cancel_url: apiUrl(`/actions/runs/${r.id}/cancel`),
    workflow_url: apiUrl(`/actions/workflows/${wf?.id ?? 0}`),
    pull_requests: [],
    head_commit: null,
    repository: { id: 1, name: model.repo, full_name: `${model.owner}/${model.repo}` },
    head_repository: { id: 1, name: model.repo, full_name: `${model.owner}/${model.repo}` },
  };
}

export function issueJson({ model, apiUrl }: ShapeContext, i: IssueRec) {
  return {
    id: 50_000 + i.number,
    node_id: `I_${i.number}`,
    number: i.number,
    url: apiUrl(`/issues/${i.number}`),
    html_url: `${model.htmlBase}/issues/${i.number}`,
    title: i.title,
    body: i.body,
    state: i.state,
    labels: i.labels.map((name, k) => ({ id: k + 1, name, color: 'ededed', default: false })),
    user: { login: 'firebreak-bot', id: 1, type: 'User' },
    comments: 0,
    created_at: i.created_at,
    updated_at: i.updated_at,
    closed_at: null,
  };
}
