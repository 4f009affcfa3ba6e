/**
 * `deploy.probe`: checks the live app against the guide's production checklist
 * ("Production Deployment Checklist", "Transport & Headers", the CSP layer) with
 * real requests. Read-only, so dry-run runs it too (and only reports).
 *
 * The plain-HTTP endpoint (`app.httpUrl`, default: the URL over http:// on the default
 * port) must redirect straight to HTTPS on the same host; headers are read on the HTTPS
 * URL after following its redirects ourselves (at most 5); `app.caFile` adds a CA to
 * trust besides the system ones (self-signed staging). CORS is probed per route from outside:
 * a simple GET with foreign Origins (arbitrary, `null`, look-alikes) and a preflight; only
 * `app.corsAllowedOrigins` may be admitted.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import type { ApplicationFailure } from '@temporalio/common';
import type { TargetConfig } from '../../lib/config.js';
import type { ArgsOf } from '../../lib/args/schemas.js';
import type { ActionInput, ActionResult } from '../../workflows/definitions.js';
import type { ActivityDeps } from '../deps.js';
import { assertModeAllowed } from '../support/mode.js';
import { badInput, targetUnavailable, verificationFailedFinal } from '../support/failures.js';
import { evaluate, rowLabel, summarize } from './probe-checks.js';
import { CONCURRENCY, follow, get, mapLimit, NoAnswer, probeCors, resolveLocation, type Agents } from './probe-http.js';
import { REDIRECT_STATUSES, type CorsProbe, type ProbeResponse, type ProbeRow, type RedirectProbe, type SeenCookie, type TlsInfo } from './probe-types.js';

function parseUrl(value: unknown, what: string): URL {
  if (typeof value !== 'string') throw badInput(`deploy.probe: ${what} must be a URL string`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw badInput(`deploy.probe: ${what} "${value}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw badInput(`deploy.probe: ${what} must be http:// or https:// (got ${url.protocol})`);
  if (url.username || url.password) throw badInput(`deploy.probe: ${what} must not contain credentials`);
  return url;
}

function parseRoutes(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || value.length === 0) throw badInput(`deploy.probe: ${what} must be a non-empty list of paths`);
  for (const r of value) {
    // `//host/x` would leave the app's origin.
    if (typeof r !== 'string' || !r.startsWith('/') || r.startsWith('//')) throw badInput(`deploy.probe: ${what}: "${String(r)}" is not a path starting with a single /`);
  }
  return value as string[];
}

interface Plan {
  base: URL;
  httpUrl: URL;
  routes: string[];
  sessionCookies: string[];
  corsAllowedOrigins: string[];
  /** System CAs plus app.caFile, when set. */
  secureContext?: SecureContext;
}

function plan(input: ActionInput, app: TargetConfig['app'], targetName: string): Plan {
  // The arguments were judged by the schema at the activity's entry; the config's app.url and app.routes are judged here.
  const { url, routes } = input.args as ArgsOf<'deploy.probe'>;
  if (url === undefined && !app) throw badInput(`deploy.probe: no url argument and target "${targetName}" has no app.url in config`);
  const base = url === undefined ? parseUrl(app?.url, `target "${targetName}" app.url`) : new URL(url);
  let httpUrl: URL;
  // app.httpUrl belongs to app.url: it is used when probing that app, not another URL given as argument.
  if (base.protocol === 'http:') httpUrl = base;
  else if (app?.httpUrl && new URL(app.url).origin === base.origin) httpUrl = parseUrl(app.httpUrl, `target "${targetName}" app.httpUrl`);
  else httpUrl = new URL(`http://${base.hostname}/`);
  let secureContext: SecureContext | undefined;
  if (app?.caFile) {
    let ca: string;
    try {
      ca = readFileSync(app.caFile, 'utf8');
    } catch (err) {
      throw badInput(`deploy.probe: cannot read app.caFile ${app.caFile}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    // Node silently ignores what is not a certificate: check, or the probe would fail on "untrusted" instead.
    const blocks = ca.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    try {
      if (!blocks.length) throw new Error('no BEGIN CERTIFICATE block');
      for (const block of blocks) new X509Certificate(block);
      secureContext = trusting(ca);
    } catch (err) {
      throw badInput(`deploy.probe: app.caFile ${app.caFile} is not a PEM certificate: ${(err as Error).message}`);
    }
  }
  return {
    base,
    httpUrl,
    routes: routes ?? parseRoutes(app?.routes ?? ['/'], `target "${targetName}" app.routes`),
    sessionCookies: app?.sessionCookies ?? ['sessionid', 'csrftoken'],
    corsAllowedOrigins: app?.corsAllowedOrigins ?? [],
    secureContext,
  };
}

// Building a context from ~150 system roots costs ~70 ms per connection: once per CA is enough.
const contexts = new Map<string, SecureContext>();
/** The system CAs plus `ca` (app.caFile). */
function trusting(ca: string): SecureContext {
  let ctx = contexts.get(ca);
  if (!ctx) {
    ctx = createSecureContext({ ca: [...rootCertificates, ca] });
    contexts.set(ca, ctx);
  }
  return ctx;
}

function unavailable(err: unknown): ApplicationFailure {
  if (err instanceof NoAnswer) return targetUnavailable(`app (GET ${err.url})`, { code: err.code });
  return targetUnavailable('app', err);
}

export function createProbeActivities(deps: ActivityDeps) {
  const { clients } = deps;

  return {
    async deployProbe(input: ActionInput): Promise<ActionResult> {
      const target = clients.target(input.target);
      assertModeAllowed(target, input.target, input.mode);
      const p = plan(input, target.app, input.target);
      const agents: Agents = {
        http: new http.Agent({ keepAlive: false }),
        https: new https.Agent({ keepAlive: false, secureContext: p.secureContext }),
      };
      const cookies: SeenCookie[] = [];
      const redirect: RedirectProbe = { url: p.httpUrl.href, expectHost: p.base.hostname };
      let tls: TlsInfo | undefined;
      let checked: URL | undefined = p.base;
      let base: ProbeResponse | undefined;

      const probeRedirect = async (): Promise<void> => {
        const hop = await get(p.httpUrl, agents);
        for (const header of hop.headers['set-cookie'] ?? []) cookies.push({ url: p.httpUrl.href, header });
        redirect.status = hop.status;
        redirect.location = hop.location;
      };
      const fetchBase = async (url: URL): Promise<void> => {
        try {
          const { response, first } = await follow(url, agents, cookies);
          base = response;
          if (url.protocol === 'https:') tls = { url: url.href, trusted: true, ...first.tls };
        } catch (err) {
          if (!(err instanceof NoAnswer && err.untrustedCertificate)) throw err;
          tls = { url: url.href, trusted: false, error: err.code };
          checked = undefined;
        }
      };

      let rows: ProbeRow[];
      try {
        if (p.base.protocol === 'https:') {
          await fetchBase(p.base);
          // The HTTPS side answered, so silence on plain HTTP is a finding, not an outage.
          await probeRedirect().catch((err: unknown) => {
            if (!(err instanceof NoAnswer)) throw err;
            redirect.error = err.code;
          });
        } else {
          await probeRedirect();
          const to = resolveLocation(redirect.location, p.base);
          const redirected = REDIRECT_STATUSES.includes(redirect.status ?? 0) && to?.protocol === 'https:' && to.hostname === p.base.hostname;
          checked = redirected && to ? to : p.base;
          await fetchBase(checked);
        }

        const routes: Array<{ route: string; response: ProbeResponse }> = [];
        const cors: CorsProbe[] = [];
        let notFound: ProbeResponse | undefined;
        const origin = checked;
        if (origin && base) {
          const known = new Map<string, ProbeResponse>([[origin.href, base]]);
          const notFoundPath = `/firebreak-probe-${randomBytes(8).toString('hex')}`;
          const jobs = [...p.routes.map((route) => ({ route })), { route: notFoundPath, notFound: true }];
          const responses = await mapLimit(jobs, CONCURRENCY, async (job) => {
            const url = new URL(job.route, origin);
            return known.get(url.href) ?? (await follow(url, agents, cookies)).response;
          });
          jobs.forEach((job, i) => {
            const response = responses[i] as ProbeResponse;
            if ('notFound' in job) notFound = response;
            else routes.push({ route: job.route, response });
          });
          // Sequential per route (each route already runs its requests concurrently).
          for (const route of p.routes) cors.push({ ...(await probeCors(new URL(route, origin), agents, p.corsAllowedOrigins)), route });
        }
        rows = evaluate({ redirect, tls, base, routes, notFound, cookies, sessionCookies: p.sessionCookies, cors, corsAllowedOrigins: p.corsAllowedOrigins });
      } catch (err) {
        throw unavailable(err);
      } finally {
        agents.http.destroy();
        agents.https.destroy();
      }

      const { passed, failed, summary } = summarize(rows);
      const url = (checked ?? p.base).href;
      deps.logger.info({ incidentId: input.incidentId, step: input.stepId, url, passed, failed }, 'deploy probe done');
      if (!passed && input.mode !== 'dry-run') {
        const reasons = rows.filter((r) => !r.passed).map((r) => `${rowLabel(r)}: ${r.detail}`);
        throw verificationFailedFinal(`${summary} at ${url} — ${reasons.join('; ')}`, rows);
      }
      return {
        summary,
        changed: false,
        // The table is the proof: it lands in the history, the status and the post-mortem.
        proof: { url, httpUrl: p.httpUrl.href, passed, failed, table: rows.map((r) => ({ check: rowLabel(r), passed: r.passed, detail: r.detail })) },
        output: { url, passed, failed, table: rows },
        ...(input.mode === 'dry-run' ? { plan: [`read-only probe of ${url} (runs in dry-run too): ${summary}`] } : {}),
      };
    },
  };
}
