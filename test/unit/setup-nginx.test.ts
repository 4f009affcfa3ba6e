/** What `npm run setup` decides to do about nginx (scripts/setup-nginx.mjs), from the facts alone. */
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain JavaScript setup script without type declarations
import { findNginx, findOnPath, planNginx, POLICY_RC_D } from '../../scripts/setup-nginx.mjs';

interface Facts {
  nginx?: string;
  platform: string;
  uid?: number;
  aptGet?: string;
  policyExists: boolean;
}
type Plan = { kind: 'present'; path: string } | { kind: 'install'; steps: { argv: string[] }[]; createPolicy: boolean; env: Record<string, string> } | { kind: 'advise'; line: string };
const plan = planNginx as (f: Facts) => Plan;
const find = findNginx as (env: Record<string, string | undefined>, executable: (p: string) => boolean) => string | undefined;
const onPath = findOnPath as (name: string, env: Record<string, string | undefined>, executable: (p: string) => boolean) => string | undefined;

const linuxRoot: Facts = { platform: 'linux', uid: 0, aptGet: '/usr/bin/apt-get', policyExists: false };

describe('planNginx', () => {
  it('present: nothing to do, whoever runs it', () => {
    expect(plan({ ...linuxRoot, nginx: '/usr/sbin/nginx' })).toEqual({ kind: 'present', path: '/usr/sbin/nginx' });
    expect(plan({ platform: 'darwin', uid: 501, nginx: '/opt/homebrew/bin/nginx', policyExists: false })).toEqual({ kind: 'present', path: '/opt/homebrew/bin/nginx' });
  });

  it('root with apt-get: apt-get update + install, quiet and non-interactive, with the policy-rc.d guard', () => {
    const p = plan(linuxRoot);
    expect(p).toEqual({
      kind: 'install',
      steps: [{ argv: ['/usr/bin/apt-get', 'update', '-qq'] }, { argv: ['/usr/bin/apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'nginx'] }],
      createPolicy: true,
      env: { DEBIAN_FRONTEND: 'noninteractive' },
    });
    expect(POLICY_RC_D).toBe('/usr/sbin/policy-rc.d');
  });

  it('an existing policy-rc.d is the machine’s own: used, not replaced or removed', () => {
    expect(plan({ ...linuxRoot, policyExists: true })).toMatchObject({ kind: 'install', createPolicy: false });
  });

  it('not root: one line with the command to run, nothing installed', () => {
    const p = plan({ ...linuxRoot, uid: 1000 });
    expect(p).toEqual({ kind: 'advise', line: 'nginx not found (the nginx tests run the real binary): run `sudo apt-get install -y nginx`, or set NGINX_BIN' });
  });

  it('root without apt-get, macOS, or an unknown platform: one line, never an install', () => {
    expect(plan({ ...linuxRoot, aptGet: undefined })).toMatchObject({ kind: 'advise', line: expect.stringMatching(/install nginx with your package manager, or set NGINX_BIN/) });
    expect(plan({ platform: 'darwin', uid: 0, policyExists: false })).toMatchObject({ kind: 'advise', line: expect.stringContaining('`brew install nginx`') });
    expect(plan({ platform: 'win32', uid: undefined, policyExists: false })).toMatchObject({ kind: 'advise' });
    for (const f of [{ ...linuxRoot, uid: 1000 }, { ...linuxRoot, aptGet: undefined }, { platform: 'darwin', uid: 0, policyExists: false }]) {
      const p = plan(f);
      expect(p.kind === 'advise' && p.line.split('\n')).toHaveLength(1);
    }
  });
});

describe('findNginx', () => {
  const only = (...paths: string[]) => (p: string) => paths.includes(p);

  it('looks where test/helpers/nginx.ts looks: NGINX_BIN, then /usr/sbin/nginx (often not on PATH), then PATH', () => {
    expect(find({ NGINX_BIN: '/opt/nginx/sbin/nginx', PATH: '/usr/bin' }, only('/opt/nginx/sbin/nginx', '/usr/sbin/nginx'))).toBe('/opt/nginx/sbin/nginx');
    expect(find({ PATH: '/usr/local/bin:/usr/bin' }, only('/usr/sbin/nginx'))).toBe('/usr/sbin/nginx');
    expect(find({ PATH: '/usr/local/bin:/usr/bin' }, only('/usr/bin/nginx'))).toBe('/usr/bin/nginx');
    expect(find({ NGINX_BIN: '/nope', PATH: '/usr/bin' }, only())).toBeUndefined();
  });

  it('finds apt-get in the sbin/bin dirs even when PATH lacks them', () => {
    expect(onPath('apt-get', { PATH: '/home/u/bin' }, only('/usr/bin/apt-get'))).toBe('/usr/bin/apt-get');
    expect(onPath('apt-get', { PATH: '' }, only())).toBeUndefined();
  });
});
