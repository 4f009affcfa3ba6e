/**
 * secrets.rotate_db_password's `role` is judged against the target's app role
 * wherever the target is known (front door, worker pre-flight, activity entry);
 * file argument names that climb out of the inputs folder are refused up front.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { argProblems, targetArgContext } from '../../lib/args/checks.js';
import { loadConfig } from '../../lib/config.js';
import { targetSchema } from '../../lib/config-target.js';
import { prepareDeclaration } from '../../lib/incidents/declare.js';

const target = targetSchema.parse({ redis: { url: 'redis://127.0.0.1:6379/0' }, postgres: { database: 'app', appRole: 'app_rw' } });
const ctx = targetArgContext('prod', target);

describe('secrets.rotate_db_password role', () => {
  it('the app role, or no role (the default is the app role), passes', () => {
    expect(ctx.appRole).toBe('app_rw');
    expect(argProblems('secrets.rotate_db_password', { secret_name: 'DATABASE_PASSWORD' }, ctx)).toEqual([]);
    expect(argProblems('secrets.rotate_db_password', { secret_name: 'DATABASE_PASSWORD', role: 'app_rw' }, ctx)).toEqual([]);
  });

  it.each(['postgres', 'app_owner', 'App_rw'])('%s is refused at declaration', (role) => {
    expect(argProblems('secrets.rotate_db_password', { secret_name: 'DATABASE_PASSWORD', role }, ctx)).toEqual([
      `role must be the target's app role "app_rw" (postgres.appRole), got "${role}": Firebreak rotates no other role's password`,
    ]);
  });

  it('a role from params is judged like one written inline; one from a step output waits for the step', () => {
    expect(argProblems('secrets.rotate_db_password', { secret_name: 'X', role: 'postgres' }, { ...ctx, deferred: [] })).toHaveLength(1);
    expect(argProblems('secrets.rotate_db_password', { secret_name: 'X' }, { ...ctx, deferred: ['role'] })).toEqual([]);
  });

  it('a target without postgres has no app role to compare with (the worker then refuses the missing section)', () => {
    const bare = targetArgContext('dev', targetSchema.parse({ redis: { url: 'redis://127.0.0.1:6379/0' } }));
    expect(bare.appRole).toBeUndefined();
    expect(argProblems('secrets.rotate_db_password', { secret_name: 'X', role: 'postgres' }, bare)).toEqual([]);
  });
});

describe('file argument names', () => {
  it.each([
    ['addresses_file', 'network.ban_ips', { ttl_seconds: 3600 }],
    ['jtis_file', 'tokens.revoke', { scope: 'jti' }],
  ] as const)('%s: a name in the folder passes, .. and NUL never do', (arg, action, rest) => {
    expect(argProblems(action, { ...rest, [arg]: 'bans/today.txt' }, ctx)).toEqual([]);
    expect(argProblems(action, { ...rest, [arg]: 'today/../../../etc/shadow' }, ctx)).toEqual([`${arg} must name a file in the worker's inputs folder, without ".." (got a path that climbs out of it)`]);
    expect(argProblems(action, { ...rest, [arg]: '..\\secret' }, ctx)).toHaveLength(1);
    expect(argProblems(action, { ...rest, [arg]: 'x\0y' }, ctx)).toEqual([`${arg} must not contain a NUL character`]);
  });
});

describe('at the front door', () => {
  it('declare refuses a runbook rotating the owner’s password, before anything starts (exit 2)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fbt-role-'));
    mkdirSync(join(dir, 'runbooks'));
    writeFileSync(
      join(dir, 'runbooks', 'rotate-owner.yaml'),
      ['name: rotate-owner', 'title: Rotate the owner', 'severity: high', 'phases:', '  recovery:', '    - id: rotate', '      action: secrets.rotate_db_password', '      with: { secret_name: DATABASE_PASSWORD, role: postgres }'].join('\n'),
    );
    writeFileSync(join(dir, 'firebreak.yaml'), ['runbooksDir: runbooks', 'targets:', '  prod:', '    development: true', '    postgres: { database: app, appRole: app_rw }'].join('\n'));
    const config = loadConfig({ file: join(dir, 'firebreak.yaml'), env: {} });
    expect(() => prepareDeclaration(config, { runbook: 'rotate-owner', actor: { user: 'olga', host: 'h', via: 'cli' } })).toThrow(/role must be the target's app role "app_rw"/);
  });
});
