/**
 * The drill's outside look at HTTP: one GET, its status code or why there was none. The
 * app's `caFile` is trusted besides the system CAs (a drill target's app often has a private
 * CA), so the drill sees what a client of that app sees.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { errorLine } from '../support/failures.js';

const TIMEOUT_MS = 5_000;

export interface HttpOptions {
  headers?: Record<string, string>;
  /** Extra CA (PEM file) to trust for an https URL. */
  caFile?: string;
}

const cas = new Map<string, string[]>();
function trusting(caFile: string): string[] {
  let ca = cas.get(caFile);
  if (!ca) {
    ca = [...rootCertificates, readFileSync(caFile, 'utf8')];
    cas.set(caFile, ca);
  }
  return ca;
}

/** The status a GET answers with (redirects not followed), or the reason there was none (e.g. ECONNREFUSED). */
export function httpStatus(url: string, opts: HttpOptions = {}): Promise<number | string> {
  return new Promise((resolve) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch (err) {
      resolve(errorLine(err));
      return;
    }
    const secure = u.protocol === 'https:';
    let ca: string[] | undefined;
    try {
      ca = secure && opts.caFile ? trusting(opts.caFile) : undefined;
    } catch (err) {
      resolve(`cannot read app.caFile: ${(err as NodeJS.ErrnoException).code ?? errorLine(err)}`);
      return;
    }
    const req = (secure ? https : http).request(u, { method: 'GET', headers: opts.headers, agent: false, timeout: TIMEOUT_MS, ...(ca && { ca }) }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 'no status');
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${TIMEOUT_MS} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? errorLine(err)));
    req.end();
  });
}
