/**
 * One schema per action's arguments: built from the catalog's ArgSpecs and the
 * action's rules, in the activities' own words, applied at every activity's
 * entry, and never bundled into the workflow sandbox.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { createActivities, TargetClients } from '../../activities/index.js';
import { ACTIONS, type ActionName } from '../../lib/actions.js';
import { argProblems } from '../../lib/args/checks.js';
import { actionArgsSchema, argIssues, refusalMessage, type ArgsOf } from '../../lib/args/schemas.js';
import { loadConfig, PROJECT_ROOT } from '../../lib/config.js';
import { createLogger } from '../../lib/logger.js';
import { FailureTypes, type ActionInput } from '../../workflows/definitions.js';

const SHA = 'a'.repeat(40);

/** Arguments each action accepts, as a runbook would give them. */
const VALID: { [A in ActionName]: ArgsOf<A> } = {
  'evidence.snapshot': { baseline: false },
  'lockdown.status': {},
  'lockdown.enable': { reason: 'token leak' },
  'lockdown.disable': { restore: '0' },
  'tokens.revoke': { scope: 'jti', jtis: ['abc.def-1'], reason: 'leaked' },
  'tokens.disable_users': { user_ids: ['42', 'alice@example.com'] },
  'tokens.enable_users': { user_ids: ['42'] },
  'network.ban_ips': { addresses: ['203.0.113.7', '2001:db8::/64'], ttl_seconds: 3600, reason: 'scanner' },
  'network.unban_ips': { addresses: [], from_record: 'INC-1/ban' },
  'network.expire_bans': {},
  'database.read_only': {},
  'database.read_write': { restore: { role: 'app' } },
  'secrets.rotate_db_password': { secret_name: 'DATABASE_URL', role: 'app_user', format: 'url' },
  'secrets.rotate_jwt_key': { secret_name: 'JWT_SECRET_KEY' },
  'secrets.manual': { items: ['STRIPE_SECRET'], remind_every_minutes: 30 },
  'deploy.verify_commit': { sha: 'ABCDEF1', before: '2026-03-01T12:00:00Z' },
  'deploy.redeploy': { sha: SHA, timeout_minutes: 120 },
  'deploy.probe': { url: 'https://app.example.com', routes: ['/', '/admin/'] },
  'report.postmortem': { personal_data: true, aware_at: '2026-03-14T02:47:12Z', subjects_approx: 0, data_categories: ['email'], open_issue: true },
  'report.timeline': {},
};

const problems = (action: string, args: Record<string, unknown>, deferred?: string[]) => argProblems(action, args, deferred ? { deferred } : {});

describe('the schemas', () => {
  it('exist for every action and accept what a runbook gives', () => {
    expect(Object.keys(VALID).sort()).toEqual(Object.keys(ACTIONS).sort());
    for (const [action, args] of Object.entries(VALID)) {
      expect(argIssues(action, args), action).toEqual([]);
      expect(actionArgsSchema(action as ActionName).safeParse(args).success, action).toBe(true);
    }
  });

  it('type what they accept (ArgsOf follows the catalog)', () => {
    const revoke: ArgsOf<'tokens.revoke'> = { scope: 'user', user_ids: ['1'] };
    // @ts-expect-error scope is required
    const noScope: ArgsOf<'tokens.revoke'> = { jtis: ['x'] };
    // @ts-expect-error scope is one of the catalog's values
    const badScope: ArgsOf<'tokens.revoke'> = { scope: 'everything' };
    expect([revoke, noScope, badScope]).toHaveLength(3);
  });

  it('check the catalog: known arguments, types, enums, required ones', () => {
    expect(problems('nope.nope', {})).toEqual(['unknown action nope.nope']);
    expect(problems('lockdown.enable', { reason: 'x', why: 1 })).toEqual(['unknown argument why']);
    expect(problems('lockdown.enable', { reason: 42 })).toEqual(['reason must be a string, got integer']);
    expect(problems('evidence.snapshot', { baseline: 'yes' })).toEqual(['baseline must be true or false, got "yes"']);
    expect(problems('secrets.manual', { items: ['A'], remind_every_minutes: '5' })).toEqual(['remind_every_minutes must be a number, got "5"']);
    expect(problems('database.read_write', { restore: [] })).toEqual(['restore must be a mapping, got list']);
    expect(problems('report.postmortem', { subjects_approx: 1.5 })).toEqual(['subjects_approx must be a whole number, got 1.5']);
    expect(problems('deploy.probe', { routes: ['/', 3] })).toEqual(['routes: 3 is not a path starting with a single /']);
    expect(problems('secrets.rotate_db_password', { secret_name: 'X', format: 'env' })).toEqual(['format must be one of password, url (got "env")']);
    expect(problems('tokens.revoke', { jtis: ['a'] })).toEqual(['scope must be one of jti, user, all (got nothing)']);
    expect(problems('network.unban_ips', {})).toEqual(['addresses is required']);
    expect(problems('secrets.manual', {})).toEqual(['items is required']);
  });

  it('leave arguments built from step outputs to the step', () => {
    expect(problems('deploy.redeploy', {}, ['sha'])).toEqual([]);
    expect(problems('deploy.redeploy', { timeout_minutes: 0 }, ['sha'])).toEqual(['timeout_minutes must be a whole number from 1 to 120']);
    expect(problems('tokens.revoke', { scope: 'jti' }, ['jtis'])).toEqual([]);
    expect(problems('network.ban_ips', {}, ['addresses'])).toEqual([]);
    expect(problems('tokens.revoke', {}, ['scope'])).toEqual([]);
  });
});

describe('the actions’ rules, in the activities’ words', () => {
  it('tokens', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ scope: 'jti', jtis: [] }, /no jtis given/],
      [{ scope: 'jti', jtis: ['a', 'b', 'c', 'white space'] }, /^jtis: 1 invalid entry .* at jtis\[3\] "white space"$/],
      [{ scope: 'jti', jtis: ['a', 'x'.repeat(256)] }, /invalid/],
      [{ scope: 'jti', jtis: ['a', 12] }, /invalid/],
      [{ scope: 'jti', jtis: 'not-a-list' }, /list of strings/],
      [{ scope: 'jti', jtis: Array.from({ length: 10_001 }, (_, i) => `j${i}`) }, /at most 10000 inline/],
      [{ scope: 'jti', jtis_file: 'inputs/../../etc/passwd' }, /^jtis_file must name a file in the worker's inputs folder, without "\.\." \(got a path that climbs out of it\)$/],
      [{ scope: 'jti', jtis_file: 'a\0b' }, /^jtis_file must not contain a NUL character$/],
      [{ scope: 'jti', jtis_file: '' }, /^jtis_file must name a file in the worker's inputs folder$/],
      [{ scope: 'jti' }, /needs jtis or jtis_file/],
      [{ scope: 'everything', jtis: ['a'] }, /scope must be one of jti, user, all/],
      [{ jtis: ['a'] }, /scope must be one of/],
      [{ scope: 'jti', jtis: ['a'], user_ids: ['1'] }, /does not take user_ids/],
      [{ scope: 'user' }, /user_ids is required/],
      [{ scope: 'user', user_ids: [] }, /user_ids is required/],
      [{ scope: 'user', user_ids: ['1', 'a b'] }, /at user_ids\[1\]/],
      [{ scope: 'all', jtis: ['a'] }, /does not take jtis/],
      [{ scope: 'jti', jtis: ['a'], reason: 42 }, /reason must be a string/],
      [{ scope: 'all', reason: 'x'.repeat(501) }, /reason must be a string of at most 500 characters/],
    ];
    for (const [args, message] of cases) {
      const found = problems('tokens.revoke', args);
      expect(found, JSON.stringify(args).slice(0, 80)).toHaveLength(1);
      expect(found[0], JSON.stringify(args).slice(0, 80)).toMatch(message);
    }
    expect(problems('tokens.disable_users', { user_ids: ['1', '1; DROP TABLE auth_user'] })).toEqual([
      'user_ids: 1 invalid entry (1–128 characters of A-Z a-z 0-9 _ . @ : -) at user_ids[1] "1; DROP TABLE auth_user"',
    ]);
    expect(problems('tokens.enable_users', { user_ids: [] })).toEqual(['user_ids is required and must not be empty']);
    expect(argIssues('tokens.revoke', { scope: 'jti', jtis: ['a', 'b c'] })[0]?.path).toEqual(['jtis', 1]);
  });

  it('network', () => {
    const ban = (args: Record<string, unknown>) => problems('network.ban_ips', args);
    expect(ban({ addresses: '203.0.113.1' })).toEqual(['addresses must be a list of strings']);
    // A name in the inputs folder (relative, or absolute inside it) is the worker's to resolve; `..` never is.
    expect(ban({ addresses_file: 'bans.txt' })).toEqual([]);
    expect(ban({ addresses_file: '/srv/firebreak/inputs/bans.txt' })).toEqual([]);
    expect(ban({ addresses_file: '../../etc/shadow' })).toEqual(['addresses_file must name a file in the worker\'s inputs folder, without ".." (got a path that climbs out of it)']);
    expect(ban({ addresses: ['203.0.113.1'], ttl_seconds: 59 })[0]).toMatch(/^ttl_seconds must be a whole number of seconds from 60 to 2592000 \(30 days\), got 59$/);
    expect(ban({ addresses: ['203.0.113.1'], ttl_seconds: '3600' })[0]).toMatch(/got "3600"$/);
    expect(ban({ addresses: ['203.0.113.1'], reason: 42 })[0]).toMatch(/reason must be a string/);
    expect(ban({})).toEqual(['no addresses to ban (give addresses or addresses_file)']);
    expect(ban({ addresses: ['203.0.113.1', '203.0.113.300', '::1'] })).toEqual([
      'addresses[1]: "203.0.113.300" is not an IPv4 address (part 300 is over 255)',
      'addresses[2]: ::1/128 overlaps ::1/128 (loopback), which is never banned',
    ]);
    const policy = { targetName: 'prod', minPrefixV4: 16, minPrefixV6: 48, neverBan: ['198.51.100.0/24'], banTtlSeconds: 3600 };
    const issues = argIssues('network.ban_ips', { addresses: ['10.0.0.0/8', '198.51.100.9'] }, { banPolicy: policy });
    expect(issues.map((i) => i.path)).toEqual([['addresses', 0], ['addresses', 1]]);
    expect(issues[0]?.message).toMatch(/10\.0\.0\.0\/8 is broader than \/16, the broadest IPv4 ban allowed on target "prod"/);
    expect(issues[1]?.message).toMatch(/overlaps 198\.51\.100\.0\/24 \(target network\.neverBan\)/);
    expect(argProblems('network.ban_ips', { addresses: ['203.0.113.1'] }, { banPolicy: { ...policy, banTtlSeconds: 10 } })[0]).toMatch(/^ttl_seconds must be .* got 10$/);

    expect(problems('network.unban_ips', { addresses: [], from_record: 'INC-1/Bad Step' })).toEqual(['from_record must be "<incident>/<step>", got "INC-1/Bad Step"']);
    expect(problems('network.unban_ips', { addresses: [] })).toEqual(['no addresses to unban']);
    expect(problems('network.unban_ips', { addresses: ['127.0.0.1'] })).toEqual([]);
  });

  it('secrets, deploy, probe, reports, lockdown', () => {
    expect(problems('secrets.rotate_db_password', {})).toEqual(['secret_name must be a variable name (letters, digits and _, not starting with a digit, at most 128), got null']);
    expect(problems('secrets.rotate_db_password', { secret_name: 'DB', role: 'a b' })).toEqual(['role must be a plain role name (letters, digits, _ and $; at most 63), got "a b"']);
    expect(problems('secrets.rotate_jwt_key', { secret_name: '1X' })[0]).toMatch(/^secret_name must be a variable name/);
    expect(problems('secrets.manual', { items: [] })).toEqual(['items: at least one item to rotate by hand']);
    expect(problems('deploy.verify_commit', { sha: 'not-a-sha' })).toEqual(['sha must be a commit sha (7 to 64 hex digits)']);
    expect(problems('deploy.verify_commit', { sha: '', before: '' })).toEqual([]);
    expect(problems('deploy.verify_commit', { before: 'last tuesday' })).toEqual(['before must be an ISO date or time, e.g. 2026-03-01T12:00:00Z']);
    expect(problems('deploy.redeploy', { sha: SHA.slice(0, 12) })).toEqual(['sha must be a full commit sha (40 hex digits)']);
    expect(problems('deploy.redeploy', { sha: SHA, timeout_minutes: 1.5 })).toEqual(['timeout_minutes must be a whole number from 1 to 120']);
    expect(problems('deploy.probe', { url: 'ftp://example.com/' })).toEqual(['url must be http:// or https:// (got ftp:)']);
    expect(problems('deploy.probe', { url: 'https://u:p@example.com/' })).toEqual(['url must not contain credentials']);
    expect(problems('deploy.probe', { url: 'example' })).toEqual(['url "example" is not a URL']);
    expect(problems('deploy.probe', { routes: [] })).toEqual(['routes must be a non-empty list of paths']);
    expect(problems('deploy.probe', { routes: ['//evil.example/x'] })).toEqual(['routes: "//evil.example/x" is not a path starting with a single /']);
    expect(problems('report.postmortem', { high_risk: 'yes' })[0]).toMatch(/high_risk must be true or false/);
    expect(problems('report.postmortem', { aware_at: 'yesterday', subjects_approx: -1 })).toEqual([
      'aware_at must be an ISO 8601 time (e.g. 2026-03-14T02:47:12Z), got "yesterday"',
      'subjects_approx must be a whole number ≥ 0',
    ]);
    expect(problems('lockdown.disable', { restore: 'x'.repeat(1025) })).toEqual(['restore must be the value recorded before enable (a string of at most 1024 characters)']);
  });

  it('list every problem once, unknown arguments too', () => {
    expect(problems('tokens.revoke', { scope: 'jti', jtis: 'x', reason: 42, jti: ['a'] })).toEqual([
      'jtis must be a list of strings',
      'reason must be a string of at most 500 characters',
      'unknown argument jti',
    ]);
    expect(problems('deploy.probe', { routes: ['/', 1, 2] })).toEqual(['routes: 1 is not a path starting with a single /', 'routes: 2 is not a path starting with a single /']);
    expect(problems('deploy.probe', { routes: 'x' })).toEqual(['routes must be a non-empty list of paths']);
  });

  it('refuse in the activities’ style', () => {
    const issues = Array.from({ length: 7 }, (_, i) => ({ path: ['addresses', i], message: `addresses[${i}]: bad` }));
    expect(refusalMessage('network.ban_ips', issues.slice(0, 1))).toBe('network.ban_ips refused, nothing was changed: 1 problem: addresses[0]: bad');
    expect(refusalMessage('network.ban_ips', issues)).toMatch(/^network\.ban_ips refused, nothing was changed: 7 problems: addresses\[0\]: bad; .*addresses\[4\]: bad; and 2 more$/);
  });
});

describe('every activity’s entry', () => {
  const config = loadConfig({ env: {}, cwd: '/' });
  const clients = new TargetClients(config);
  const acts = createActivities({ config, logger: createLogger({ level: 'silent', pretty: false }), clients });
  const input = (action: string, args: Record<string, unknown>): ActionInput => ({
    incidentId: 'INC-T-1',
    stepId: 's',
    action,
    target: 'local',
    mode: 'live',
    args,
    requestedAt: '2026-03-14T02:47:12.000Z',
  });
  const failure = async (p: Promise<unknown>): Promise<ApplicationFailure> => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApplicationFailure);
    return err as ApplicationFailure;
  };

  it('refuses what the schema rejects before the activity runs: BadInput, every problem with its path', async () => {
    // No Redis, PostgreSQL or GitHub is configured for these calls: the refusal comes first.
    const f = await failure(acts.tokensRevoke(input('tokens.revoke', { scope: 'jti', jtis: ['ok', 'bad jti'], reason: 42, jti: 'x' })));
    expect(f).toMatchObject({ type: FailureTypes.BadInput, nonRetryable: true });
    expect(f.message).toBe(
      'tokens.revoke refused, nothing was changed: 3 problems: jtis: 1 invalid entry (1–255 printable ASCII characters, no whitespace) at jtis[1] "bad jti"; reason must be a string of at most 500 characters; unknown argument jti',
    );
    expect(f.details).toEqual([
      {
        count: 3,
        problems: [
          { path: ['jtis', 1], message: expect.stringMatching(/^jtis: 1 invalid entry/) as unknown },
          { path: ['reason'], message: 'reason must be a string of at most 500 characters' },
          { path: ['jti'], message: 'unknown argument jti' },
        ],
      },
    ]);
    expect((await failure(acts.deployRedeploy(input('deploy.redeploy', { sha: 'abc' })))).message).toBe('deploy.redeploy refused, nothing was changed: 1 problem: sha must be a full commit sha (40 hex digits)');
    expect((await failure(acts.lockdownEnable(input('lockdown.enable', { reason: 1 })))).type).toBe(FailureTypes.BadInput);
  });

  it('judges a ban with the worker’s own policy for the target', async () => {
    const f = await failure(acts.networkBanIps(input('network.ban_ips', { addresses: ['10.0.0.0/8', '203.0.113.300'] })));
    expect(f.message).toMatch(/^network\.ban_ips refused, nothing was changed: 2 problems: addresses\[0\]: 10\.0\.0\.0\/8 is broader than \/16, the broadest IPv4 ban allowed on target "local" .*; addresses\[1\]: "203\.0\.113\.300" is not an IPv4 address/);
    expect((await failure(acts.networkBanIps({ ...input('network.ban_ips', { addresses: ['203.0.113.1'] }), target: 'nowhere' }))).message).toMatch(/^unknown target "nowhere"/);
  });

  // The activities no longer re-check these by hand: the entry's schema is what refuses them.
  it('refuses, for the activities that no longer check by hand, what their schema rejects', async () => {
    const refusals: Array<[() => Promise<unknown>, string]> = [
      [() => acts.secretsRotateDbPassword(input('secrets.rotate_db_password', { secret_name: '1X', role: 'a b', format: 'env' })),
        'secrets.rotate_db_password refused, nothing was changed: 3 problems: secret_name must be a variable name (letters, digits and _, not starting with a digit, at most 128), got "1X"; role must be a plain role name (letters, digits, _ and $; at most 63), got "a b"; format must be one of password, url (got "env")'],
      [() => acts.secretsRotateJwtKey(input('secrets.rotate_jwt_key', { secret_name: 'A-B' })),
        'secrets.rotate_jwt_key refused, nothing was changed: 1 problem: secret_name must be a variable name (letters, digits and _, not starting with a digit, at most 128), got "A-B"'],
      [() => acts.evidenceSnapshot(input('evidence.snapshot', { baseline: 'yes' })), 'evidence.snapshot refused, nothing was changed: 1 problem: baseline must be true or false, got "yes"'],
      [() => acts.reportPostmortem(input('report.postmortem', { open_issue: 'yes' })), 'report.postmortem refused, nothing was changed: 1 problem: open_issue must be true or false, got "yes"'],
      [() => acts.lockdownDisable(input('lockdown.disable', { restore: 12 })), 'lockdown.disable refused, nothing was changed: 1 problem: restore must be the value recorded before enable (a string of at most 1024 characters)'],
      [() => acts.deployVerifyCommit(input('deploy.verify_commit', { sha: 'xyz', before: 'soon' })),
        'deploy.verify_commit refused, nothing was changed: 2 problems: sha must be a commit sha (7 to 64 hex digits); before must be an ISO date or time, e.g. 2026-03-01T12:00:00Z'],
      [() => acts.deployProbe(input('deploy.probe', { url: 'ftp://example.com/', routes: [] })),
        'deploy.probe refused, nothing was changed: 2 problems: url must be http:// or https:// (got ftp:); routes must be a non-empty list of paths'],
      [() => acts.networkUnbanIps(input('network.unban_ips', { addresses: ['1.2.3'], from_record: 'nope' })),
        'network.unban_ips refused, nothing was changed: 2 problems: from_record must be "<incident>/<step>", got "nope"; addresses[0]: "1.2.3" is not an IPv4 address (needs 4 dot-separated parts, has 3)'],
      [() => acts.tokensDisableUsers(input('tokens.disable_users', { user_ids: 'x' })), 'tokens.disable_users refused, nothing was changed: 1 problem: user_ids must be a list of strings'],
    ];
    for (const [call, message] of refusals) {
      const f = await failure(call());
      expect(f, message).toMatchObject({ type: FailureTypes.BadInput, nonRetryable: true, message });
    }
  });
});

describe('the workflow sandbox', () => {
  /** Files webpack would bundle from workflows/index.ts: value imports only (`import type` is erased). */
  function bundled(): string[] {
    const seen = new Set<string>();
    const walk = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const source = readFileSync(file, 'utf8');
      for (const m of source.matchAll(/^(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm)) {
        const [, typeOnly, spec] = m;
        if (typeOnly || !spec) continue;
        if (!spec.startsWith('.')) {
          seen.add(spec);
          continue;
        }
        const ts = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
        if (existsSync(ts)) walk(ts);
      }
    };
    walk(join(PROJECT_ROOT, 'workflows/index.ts'));
    return [...seen].map((f) => (f.startsWith('/') ? relative(PROJECT_ROOT, f) : f));
  }

  it('bundles the catalog but neither zod nor the schemas', () => {
    const files = bundled();
    expect(files).toContain('lib/actions.ts');
    expect(files.filter((f) => f === 'zod' || f.startsWith('zod/') || f.startsWith('lib/args/') || f.startsWith('activities/'))).toEqual([]);
  });
});
