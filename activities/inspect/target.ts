/**
 * `firebreak target check`: what the worker can reach and read on a target,
 * checked from the worker (its network, its environment, its files). Every
 * check is reported, none throws: a failure is a row, not an exception.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import pg from 'pg';
import { checkSecretRefs } from '../../lib/secret-refs.js';
import type { ActivityDeps } from '../deps.js';
import { errorLine } from '../support/failures.js';
import { githubClients } from '../github-client.js';
import { appRoleConnection } from '../support/pg.js';
import { runCommand } from '../support/command.js';
import { collectHolds } from './holds.js';
import { otherReaderNamespaces, readersOf } from './readers.js';
import type { CheckRow, CheckState, TargetCheckResult } from '../../lib/incidents/types.js';

export type { CheckRow, CheckState, TargetCheckResult } from '../../lib/incidents/types.js';

const CHECK_TIMEOUT_MS = 10_000;

function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export function createTargetInspection(deps: ActivityDeps) {
  const { clients } = deps;

  async function check(rows: CheckRow[], name: string, fn: () => Promise<{ state?: CheckState; detail: string }>): Promise<void> {
    try {
      const r = await within(CHECK_TIMEOUT_MS, name, fn());
      rows.push({ check: name, state: r.state ?? 'ok', detail: r.detail });
    } catch (err) {
      rows.push({ check: name, state: 'fail', detail: errorLine(err) });
    }
  }

  return {
    /** Run every check of a target from this worker. Reads only (the nginx test command is nginx's own read-only check). */
    async inspectTarget(input: { target: string }): Promise<TargetCheckResult> {
      const t = clients.target(input.target);
      const rows: CheckRow[] = [];
      let readers: TargetCheckResult['readers'];
      const space = t.redis;

      let redisOk = false;
      await check(rows, 'redis reachable', async () => {
        const redis = clients.redis(input.target);
        const pong = await redis.ping();
        redisOk = pong === 'PONG';
        return { state: redisOk ? 'ok' : 'fail', detail: `${new URL(t.redis.url).host}: ${pong}` };
      });
      if (redisOk) {
        await check(rows, 'namespace readers', async () => {
          const redis = clients.redis(input.target);
          readers = await readersOf(redis, space);
          if (readers.count > 0) {
            return { detail: `${readers.count} app process${readers.count === 1 ? '' : 'es'} read ${readers.namespace}; last seen ${readers.newest}, oldest ${readers.oldest}` };
          }
          const others = await otherReaderNamespaces(redis, space);
          const hint = others.length ? `; app processes do read ${others.slice(0, 3).map((o) => `${o.namespace} (${o.count})`).join(', ')}` : '';
          return { state: 'warn', detail: `${readers.warning ?? ''}${hint}` };
        });
      } else {
        rows.push({ check: 'namespace readers', state: 'fail', detail: 'redis unreachable' });
      }

      const pgc = t.postgres;
      if (!pgc) {
        rows.push({ check: 'postgres admin', state: 'skip', detail: 'no postgres configured' });
      } else {
        await check(rows, 'postgres admin', async () => {
          const { rows: r } = await clients.pg(input.target).query<{ who: string; db: string; v: string }>("SELECT current_user AS who, current_database() AS db, current_setting('server_version') AS v");
          return { detail: `connected as ${r[0]?.who} to ${r[0]?.db} (PostgreSQL ${r[0]?.v})` };
        });
        await check(rows, 'postgres app', async () => {
          const c = new pg.Client(appRoleConnection(pgc, { application_name: 'firebreak-check', connectionTimeoutMillis: 5_000, query_timeout: 5_000 }));
          c.on('error', () => undefined);
          try {
            await c.connect();
            const { rows: r } = await c.query<{ who: string; db: string }>('SELECT session_user AS who, current_database() AS db');
            const me = r[0];
            if (me?.who !== pgc.appRole || me?.db !== pgc.database) {
              return { state: 'fail', detail: `logs in as ${me?.who} on ${me?.db}, expected ${pgc.appRole} on ${pgc.database} (check postgres.appUrl)` };
            }
            return { detail: `connected as ${me.who} to ${me.db}` };
          } finally {
            await c.end().catch(() => undefined);
          }
        });
      }

      const secrets = checkSecretRefs(t);
      if (!secrets.length) rows.push({ check: 'secrets', state: 'skip', detail: 'no secret references' });
      for (const s of secrets) {
        rows.push({ check: `secret ${s.path}`, state: s.ok ? 'ok' : 'fail', detail: s.ok ? `${s.ref} readable` : (s.problem ?? `${s.ref} unreadable`) });
      }

      const nginx = t.nginx;
      if (!nginx) {
        rows.push({ check: 'nginx deny file', state: 'skip', detail: 'no nginx configured' });
      } else {
        await check(rows, 'nginx deny file', async () => {
          const dir = dirname(nginx.denyFile);
          await access(dir, constants.W_OK).catch((err: NodeJS.ErrnoException) => {
            throw new Error(`directory ${dir} is not writable by the worker (${err.code ?? 'error'})`);
          });
          const present = await stat(nginx.denyFile).then(() => true, () => false);
          return { detail: `${dir} writable; ${nginx.denyFile} ${present ? 'present' : 'not yet written'}` };
        });
        await check(rows, 'nginx test', async () => {
          const r = await runCommand(nginx.testCommand, { timeoutMs: CHECK_TIMEOUT_MS, lines: 2, chars: 300 });
          return { state: r.ok ? 'ok' : 'fail', detail: `${nginx.testCommand.join(' ')}${r.ok ? ' passes' : `: ${r.detail}`}` };
        });
      }

      const gh = t.github;
      if (!gh) {
        rows.push({ check: 'github', state: 'skip', detail: 'no github configured' });
      } else {
        await check(rows, 'github', async () => {
          const repo = await githubClients(deps).for(input.target).call('GET /repos/{owner}/{repo}', {}, { ignoreCancellation: true });
          return { detail: `${gh.repo} reachable (default branch ${repo.data.default_branch}; protected branch ${gh.branch})` };
        });
      }

      // Who holds the containment in force; the front door judges the holders (lib/incidents/holds.ts).
      const { holds, problems } = await within(CHECK_TIMEOUT_MS, 'containment holds', collectHolds(deps, input.target)).catch((err: unknown) => ({ holds: [], problems: [errorLine(err)] }));
      if (problems.length) rows.push({ check: 'containment holds', state: 'fail', detail: `could not read ${problems.join('; ')}` });

      const ok = rows.every((r) => r.state === 'ok' || r.state === 'skip');
      deps.logger.info({ target: input.target, ok, failed: rows.filter((r) => r.state === 'fail').map((r) => r.check) }, 'target checked');
      return { target: input.target, worker: deps.config.host, at: new Date().toISOString(), ok, checks: rows, holds, ...(readers ? { readers } : {}) };
    },
  };
}
