/** Evidence source `github`: the protected branch head (signature verified?) and the deployed sha. */
import type { GithubTarget } from '../github-client.js';
import { errorText } from './capture.js';

export async function captureGithub(gh: GithubTarget) {
  // The branch head (commits/{ref} takes a branch name), and the latest production deployment.
  // A deployments answer that fails leaves the head captured: "could not read" is not "none".
  const [head, deployments] = await Promise.all([
    gh.call('GET /repos/{owner}/{repo}/commits/{ref}', { ref: gh.branch, per_page: 1 }),
    gh.call('GET /repos/{owner}/{repo}/deployments', { environment: 'production', per_page: 1 }).then(
      (res) => ({ ok: true as const, latest: res.data[0] }),
      (err: unknown) => ({ ok: false as const, error: errorText(err) }),
    ),
  ]);
  const verification = head.data.commit.verification;
  const latest = deployments.ok ? deployments.latest : undefined;
  const deployed = latest?.sha ?? 'unknown';
  return {
    repo: gh.slug,
    branch: gh.branch,
    head: { sha: head.data.sha, verified: verification?.verified ?? false, reason: verification?.reason ?? 'no verification information' },
    deployed: latest
      ? { sha: latest.sha, ref: latest.ref, environment: latest.environment, id: latest.id, createdAt: latest.created_at }
      : deployments.ok
        ? { sha: 'unknown', note: 'no production deployments' }
        : { sha: 'unknown', error: deployments.error },
    deployedIsHead: deployed === head.data.sha,
  };
}
