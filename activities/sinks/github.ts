/**
 * GitHub Actions secrets as a secret sink: the value is sealed with the
 * repository's (or environment's) public key (libsodium sealed box) and PUT;
 * GitHub never gives a value back, so there is no `get`.
 */
import sodium from 'libsodium-wrappers';
import type { ActivityDeps } from '../deps.js';
import { badInput, verificationFailed } from '../support/failures.js';
import { githubClients, type GithubTarget } from '../github-client.js';
import type { SecretSink } from './types.js';

/** GitHub's rules: letters, digits and `_`, not starting with a digit or `GITHUB_` (names are case-insensitive). */
const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** GitHub refuses secrets larger than 48 KB. */
const MAX_SECRET_BYTES = 48 * 1024;

/** Why `name` cannot be a GitHub Actions secret name, or undefined when it can. */
export function githubSecretNameProblem(name: string): string | undefined {
  if (!SECRET_NAME.test(name)) return 'GitHub secret names use only letters, digits and _ and do not start with a digit';
  if (/^GITHUB_/i.test(name)) return 'GitHub secret names must not start with GITHUB_';
  return undefined;
}

/**
 * A sink writing GitHub Actions secrets of the target's repository, or of one of
 * its deployment environments when `environment` is given. Never logs or throws the value.
 */
export function createGithubSink(deps: ActivityDeps, targetName: string, environment?: string): SecretSink {
  const where = (gh: GithubTarget) => (environment === undefined ? `GitHub Actions secrets of ${gh.slug}` : `GitHub Actions secrets of ${gh.slug}, environment "${environment}"`);
  const describeTarget = () => {
    const repo = deps.clients.target(targetName).github?.repo ?? '(no github repo configured)';
    return environment === undefined ? `GitHub Actions secrets of ${repo}` : `GitHub Actions secrets of ${repo}, environment "${environment}"`;
  };
  if (environment !== undefined && (environment.length === 0 || environment.length > 255)) {
    throw badInput('github sink: environment must be a non-empty name of at most 255 characters');
  }

  async function publicKey(gh: GithubTarget): Promise<{ keyId: string; key: Uint8Array }> {
    const { data } =
      environment === undefined
        ? await gh.call('GET /repos/{owner}/{repo}/actions/secrets/public-key', {})
        : await gh.call('GET /repos/{owner}/{repo}/environments/{environment_name}/secrets/public-key', { environment_name: environment });
    await sodium.ready;
    let key: Uint8Array;
    try {
      key = sodium.from_base64(data.key, sodium.base64_variants.ORIGINAL);
    } catch {
      key = new Uint8Array();
    }
    if (key.length !== sodium.crypto_box_PUBLICKEYBYTES || typeof data.key_id !== 'string') {
      throw verificationFailed(`${where(gh)}: GitHub returned an unusable public key (${key.length} bytes, key_id ${typeof data.key_id})`);
    }
    return { keyId: data.key_id, key };
  }

  return {
    kind: 'github',
    describe: describeTarget,
    async put(name: string, value: string): Promise<void> {
      const problem = githubSecretNameProblem(name);
      if (problem) throw badInput(`github sink: secret name "${name.slice(0, 100)}" is not allowed: ${problem}`);
      if (typeof value !== 'string' || value.length === 0) throw badInput(`github sink: secret ${name} has an empty value`);
      if (Buffer.byteLength(value, 'utf8') > MAX_SECRET_BYTES) throw badInput(`github sink: secret ${name} is larger than GitHub's 48 KB limit`);
      const gh = githubClients(deps).for(targetName);
      const { keyId, key } = await publicKey(gh);
      const encrypted = sodium.to_base64(sodium.crypto_box_seal(sodium.from_string(value), key), sodium.base64_variants.ORIGINAL);
      const res =
        environment === undefined
          ? await gh.call('PUT /repos/{owner}/{repo}/actions/secrets/{secret_name}', { secret_name: name, encrypted_value: encrypted, key_id: keyId })
          : await gh.call('PUT /repos/{owner}/{repo}/environments/{environment_name}/secrets/{secret_name}', {
              environment_name: environment,
              secret_name: name,
              encrypted_value: encrypted,
              key_id: keyId,
            });
      // 201 created, 204 updated; anything else means GitHub did not store it.
      if ((res.status as number) !== 201 && (res.status as number) !== 204) {
        throw verificationFailed(`${where(gh)}: PUT ${name} answered ${res.status}, expected 201 or 204`);
      }
      deps.logger.info({ target: targetName, repo: gh.slug, environment, secretName: name, keyId, created: (res.status as number) === 201 }, 'github secret written');
    },
  };
}
