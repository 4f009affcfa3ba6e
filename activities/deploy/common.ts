/** What the GitHub-backed deploy actions share: their options, the target's repository, short forms for messages. */
import { Context } from '@temporalio/activity';
import type { TargetConfig } from '../../lib/config.js';
import type { ActionInput } from '../../workflows/definitions.js';
import type { ActivityDeps } from '../deps.js';
import { assertModeAllowed } from '../support/mode.js';
import { githubClients, type GithubClients, type GithubTarget } from '../github-client.js';

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

export const realClock: DeployClock = {
  now: () => Date.now(),
  sleep: (ms) => Context.current().sleep(ms),
};

/** The input's target (after the mode check) and its repository's client. */
export function repositoryOf(deps: ActivityDeps, options: DeployOptions, input: ActionInput): { gh: GithubTarget; target: TargetConfig } {
  const target = deps.clients.target(input.target);
  assertModeAllowed(target, input.target, input.mode);
  return { target, gh: (options.github ?? githubClients(deps)).for(input.target) };
}

export const short = (sha: string): string => sha.slice(0, 7);
export const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
