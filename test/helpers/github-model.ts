/**
 * The GitHub stand-in's in-memory repository (commits, statuses, check runs, Actions
 * workflows and runs, secrets with sealed-box key pairs, issues) and the records it keeps.
 * Tests set it up and read it back through `GithubStandin.model`.
 */
import { randomBytes, randomInt } from 'node:crypto';
import sodium from 'libsodium-wrappers';

export interface RecordedCall {
  method: string;
  /** Path without the query, e.g. /repos/acme/web/commits/abc. */
  path: string;
  /** Matched route template, e.g. `GET /repos/{owner}/{repo}/commits/{ref}` (or `unknown`). */
  route: string;
  query: Record<string, string>;
  body: unknown;
  status: number;
  /** Authorization scheme seen (`token`, `bearer`, or `none`); the credential itself is not recorded. */
  auth: 'token' | 'bearer' | 'none' | 'other';
}

export interface CommitSpec {
  message?: string;
  /** Committer (and author) date; default: one minute after the previous commit made by the model. */
  date?: string;
  /** `commit.verification.verified` (default true). */
  verified?: boolean;
  /** `commit.verification.reason` (default `valid`, or `unsigned` when not verified). */
  reason?: string;
  parents?: string[];
}

export interface CommitRec {
  sha: string;
  message: string;
  date: string;
  verified: boolean;
  reason: string;
  parents: string[];
  order: number;
}

/** An issue as the stand-in keeps it (`POST /repos/{owner}/{repo}/issues`). */
export interface IssueRec {
  number: number;
  title: string;
  body: string | null;
  labels: string[];
  state: 'open' | 'closed';
  created_at: string;
  updated_at: string;
}

export type StatusState = 'error' | 'failure' | 'pending' | 'success';
export type RunStatus = 'queued' | 'in_progress' | 'completed' | 'waiting' | 'pending' | 'requested';

export interface CheckRunSpec {
  status?: 'queued' | 'in_progress' | 'completed';
  conclusion?: 'success' | 'failure' | 'neutral' | 'cancelled' | 'skipped' | 'timed_out' | 'action_required' | null;
}

/** How a dispatched run behaves: polls of `GET /actions/runs/{id}` move it along. */
export interface RunPlan {
  /** Polls answered `queued` before it starts. */
  queuedPolls: number;
  /** Polls answered `in_progress` before it completes. */
  runningPolls: number;
  /** Conclusion when it completes; null: it never completes. */
  conclusion: 'success' | 'failure' | 'cancelled' | 'timed_out' | null;
  /** Workflow-run list calls that do not show it yet (GitHub creates runs a moment after the dispatch). */
  hiddenForListCalls: number;
}

export interface RunRec {
  id: number;
  run_number: number;
  workflowFile: string;
  display_title: string;
  event: string;
  status: RunStatus;
  conclusion: string | null;
  head_branch: string;
  head_sha: string;
  created_at: string;
  updated_at: string;
  inputs: Record<string, unknown>;
  polls: number;
  listCalls: number;
  plan: RunPlan;
}

export interface WorkflowRec {
  id: number;
  file: string;
  name: string;
  inputs: string[];
  /** `run-name:` of the workflow; default: the workflow name. */
  runName?: (inputs: Record<string, unknown>) => string;
}

export interface KeyPairRec {
  keyId: string;
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

export interface SecretRec {
  name: string;
  encrypted_value: string;
  key_id: string;
  created_at: string;
  updated_at: string;
}

export interface DispatchRec {
  workflow: string;
  ref: string;
  inputs: Record<string, unknown>;
  runId: number;
  at: string;
}

/** What `POST .../dispatches` answers: the 2026 run details when asked, plain 204, or an older server that rejects the option. */
export type DispatchMode = 'details' | 'no-content' | 'legacy';

function newKeyPair(): KeyPairRec {
  const kp = sodium.crypto_box_keypair();
  return { keyId: String(randomInt(1e11, 9e11)) + String(randomInt(1e6, 9e6)), publicKey: kp.publicKey, privateKey: kp.privateKey };
}

export const hex40 = () => randomBytes(20).toString('hex');

/** Commits get dates a minute apart from 30 days ago (whole seconds, as GitHub gives them): always in the past, whatever today is. */
const commitClockStart = (): number => Math.floor((Date.now() - 30 * 24 * 3600_000) / 1000) * 1000;

/** The in-memory repository; tests set it up and read it back. */
export class GithubModel {
  commits = new Map<string, CommitRec>();
  branches = new Map<string, string>();
  statuses = new Map<string, { context: string; state: StatusState; description: string | null; at: string }[]>();
  checkRuns = new Map<string, { id: number; name: string; status: string; conclusion: string | null }[]>();
  workflows = new Map<string, WorkflowRec>();
  runs: RunRec[] = [];
  dispatches: DispatchRec[] = [];
  issues: IssueRec[] = [];
  dispatchMode: DispatchMode = 'details';
  /** Plan copied into each new run. */
  runPlan: RunPlan = { queuedPolls: 0, runningPolls: 1, conclusion: 'success', hiddenForListCalls: 0 };
  readonly repoKey: KeyPairRec = newKeyPair();
  readonly secrets = new Map<string, SecretRec>();
  readonly environments = new Map<string, { key: KeyPairRec; secrets: Map<string, SecretRec> }>();
  private clock = commitClockStart();
  private order = 0;
  private nextId = 1000;

  constructor(
    readonly owner: string,
    readonly repo: string,
    readonly token: string,
  ) {
    this.reset();
  }

  /** Forget commits, branches, checks, runs and dispatches (keys, secrets and environments stay). */
  reset(): void {
    this.commits.clear();
    this.branches.clear();
    this.statuses.clear();
    this.checkRuns.clear();
    this.workflows.clear();
    this.runs = [];
    this.dispatches = [];
    this.issues = [];
    this.dispatchMode = 'details';
    this.runPlan = { queuedPolls: 0, runningPolls: 1, conclusion: 'success', hiddenForListCalls: 0 };
    this.clock = commitClockStart();
    this.addWorkflow('deploy.yml', { name: 'Deploy', inputs: ['sha'] });
  }

  get htmlBase(): string {
    return `https://github.test/${this.owner}/${this.repo}`;
  }

  addWorkflow(file: string, opts: { name?: string; inputs?: string[]; runName?: (inputs: Record<string, unknown>) => string } = {}): void {
    this.workflows.set(file, { id: this.nextId++, file, name: opts.name ?? file, inputs: opts.inputs ?? [], runName: opts.runName });
  }

  /** Add a commit (not on any branch unless pushed); returns its sha. */
  commit(spec: CommitSpec = {}): string {
    const sha = hex40();
    this.clock += 60_000;
    const verified = spec.verified ?? true;
    this.commits.set(sha, {
      sha,
      message: spec.message ?? `commit ${this.order + 1}`,
      date: spec.date ?? new Date(this.clock).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      verified,
      reason: spec.reason ?? (verified ? 'valid' : 'unsigned'),
      parents: spec.parents ?? [],
      order: this.order++,
    });
    return sha;
  }

  /** A new commit on top of `branch` (created when missing), moving the branch; returns its sha. */
  push(branch: string, spec: CommitSpec = {}): string {
    const head = this.branches.get(branch);
    const sha = this.commit({ ...spec, parents: spec.parents ?? (head ? [head] : []) });
    this.branches.set(branch, sha);
    return sha;
  }

  /** Set (replace) the latest commit status of `context`. */
  setStatus(sha: string, context: string, state: StatusState): void {
    const list = (this.statuses.get(sha) ?? []).filter((s) => s.context !== context);
    list.push({ context, state, description: null, at: new Date().toISOString() });
    this.statuses.set(sha, list);
  }

  /** Set (replace) the latest check run named `name`. */
  setCheckRun(sha: string, name: string, spec: CheckRunSpec = {}): void {
    const list = (this.checkRuns.get(sha) ?? []).filter((r) => r.name !== name);
    const status = spec.status ?? 'completed';
    list.push({ id: this.nextId++, name, status, conclusion: status === 'completed' ? (spec.conclusion ?? 'success') : null });
    this.checkRuns.set(sha, list);
  }

  /** A commit pushed to `branch` with the given check runs all green. */
  pushGreen(branch: string, checks: string[] = ['test'], spec: CommitSpec = {}): string {
    const sha = this.push(branch, spec);
    for (const name of checks) this.setCheckRun(sha, name);
    return sha;
  }

  addEnvironment(name: string): void {
    if (!this.environments.has(name)) this.environments.set(name, { key: newKeyPair(), secrets: new Map() });
  }

  /** A run that exists before any dispatch (someone else's). */
  addRun(workflowFile: string, spec: Partial<Pick<RunRec, 'status' | 'conclusion' | 'display_title' | 'created_at'>> = {}): RunRec {
    return this.createRun(workflowFile, this.branches.get('main') ?? hex40(), 'main', {}, { ...this.runPlan, conclusion: null }, spec);
  }

  createRun(workflowFile: string, headSha: string, branch: string, inputs: Record<string, unknown>, plan: RunPlan, spec: Partial<RunRec> = {}): RunRec {
    const wf = this.workflows.get(workflowFile);
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const run: RunRec = {
      id: this.nextId++,
      run_number: this.runs.length + 1,
      workflowFile,
      display_title: wf?.runName ? wf.runName(inputs) : (wf?.name ?? workflowFile),
      event: 'workflow_dispatch',
      status: 'queued',
      conclusion: null,
      head_branch: branch,
      head_sha: headSha,
      created_at: now,
      updated_at: now,
      inputs,
      polls: 0,
      listCalls: 0,
      plan: { ...plan },
      ...spec,
    };
    this.runs.push(run);
    return run;
  }

  run(id: number): RunRec | undefined {
    return this.runs.find((r) => r.id === id);
  }

  /** Open the sealed box GitHub would have stored (repository secret, or environment secret). */
  decryptSecret(name: string, environment?: string): string | undefined {
    const holder = environment === undefined ? { key: this.repoKey, secrets: this.secrets } : this.environments.get(environment);
    const rec = holder?.secrets.get(name.toUpperCase());
    if (!holder || !rec) return undefined;
    const opened = sodium.crypto_box_seal_open(sodium.from_base64(rec.encrypted_value, sodium.base64_variants.ORIGINAL), holder.key.publicKey, holder.key.privateKey);
    return sodium.to_string(opened);
  }

  resolve(ref: string): CommitRec | undefined {
    const branchHead = this.branches.get(ref);
    if (branchHead) return this.commits.get(branchHead);
    const exact = this.commits.get(ref.toLowerCase());
    if (exact) return exact;
    if (!/^[0-9a-f]{4,39}$/i.test(ref)) return undefined;
    const matches = [...this.commits.values()].filter((c) => c.sha.startsWith(ref.toLowerCase()));
    return matches.length === 1 ? matches[0] : undefined;
  }

  /** The commit and every ancestor. */
  ancestors(sha: string): Set<string> {
    const seen = new Set<string>();
    const todo = [sha];
    while (todo.length) {
      const s = todo.pop() as string;
      if (seen.has(s)) continue;
      seen.add(s);
      todo.push(...(this.commits.get(s)?.parents ?? []));
    }
    return seen;
  }
}
