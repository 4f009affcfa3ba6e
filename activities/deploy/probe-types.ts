/** What the probe observed and the rows it reports: the shapes both halves of `deploy.probe` share. */

export interface ProbeRow {
  check: string;
  route?: string;
  passed: boolean;
  detail: string;
}

/** One response after the redirects were followed; header names lower-case, every value kept. */
export interface ProbeResponse {
  url: string;
  finalUrl: string;
  status: number;
  headers: Record<string, string[]>;
  body: string;
  /** Redirects followed (at most `MAX_REDIRECTS`); `truncated` when the chain went on. */
  redirects: number;
  truncated: boolean;
}

/** The single, unfollowed request to the plain-HTTP endpoint. */
export interface RedirectProbe {
  url: string;
  /** Host the redirect must stay on. */
  expectHost: string;
  status?: number;
  location?: string;
  error?: string;
}

export interface TlsInfo {
  url: string;
  trusted: boolean;
  error?: string;
  protocol?: string;
  validTo?: string;
}

export interface SeenCookie {
  url: string;
  header: string;
}

export interface Observations {
  redirect: RedirectProbe;
  /** Absent when no HTTPS URL was reached (plain HTTP without a redirect). */
  tls?: TlsInfo;
  /** Absent when the certificate was refused: nothing else could be checked. */
  base?: ProbeResponse;
  routes: Array<{ route: string; response: ProbeResponse }>;
  notFound?: ProbeResponse;
  cookies: SeenCookie[];
  sessionCookies: string[];
  /** Per route, what the app answered to cross-origin requests. */
  cors: CorsProbe[];
  /** app.corsAllowedOrigins: the only origins the app may admit. */
  corsAllowedOrigins: string[];
}

/** One cross-origin request and the CORS headers of its answer. */
export interface CorsAnswer {
  method: 'GET' | 'preflight';
  /** The Origin header sent. */
  origin: string;
  /** Access-Control-Allow-Origin values (several = browsers refuse). */
  allowOrigin: string[];
  allowCredentials: boolean;
}

export interface CorsProbe {
  route: string;
  /** Origins that must not be admitted, with what each one stands for. */
  foreign: Record<string, string>;
  answers: CorsAnswer[];
}

export const MAX_REDIRECTS = 5;
export const HSTS_MIN_MAX_AGE = 31_536_000;
/** The guide wants the CSRF cookie readable by JS (CSRF_COOKIE_HTTPONLY = False). */
export const CSRF_COOKIE = 'csrftoken';
export const REDIRECT_STATUSES = [301, 302, 307, 308];

/** Every value of one header (names are lower-case). */
export const first = (headers: Record<string, string[]>, name: string): string[] => headers[name] ?? [];

/** " (at <final URL> after n redirects)" when the response is not the URL asked for. */
export function via(res: ProbeResponse): string {
  if (res.finalUrl === res.url) return '';
  return ` (at ${res.finalUrl} after ${res.redirects} redirect${res.redirects === 1 ? '' : 's'}${res.truncated ? ', stopped there' : ''})`;
}

export function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
