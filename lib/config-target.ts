/**
 * The config's building blocks and the schema of one target: what Firebreak may touch on it
 * and how. `lib/config.ts` assembles them into the whole config.
 */
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { targetPolicySchema } from './config-identity.js';
import { tryParseNetwork } from './ip.js';

/** A file the worker reads or writes: absolute, so it never depends on the folder a process was started in. */
export const absolutePath = z.string().min(1).refine((p) => isAbsolute(p), 'must be an absolute path (it would otherwise depend on the folder the worker was started in)');

/** Names used as object keys: never one of Object.prototype's (`constructor`, `toString`, `__proto__`…). */
export const notReserved = (name: string): boolean => !(name in Object.prototype) && name !== '__proto__';

/** A connection URL with no password in it: passwords are secret references (`password: {env: …}`). */
export const urlWithoutPassword = (where: string) =>
  z.string().refine((v) => {
    try {
      return new URL(v).password === '';
    } catch {
      return true; // not a URL at all: the client reports that when it connects
    }
  }, `must not contain a password: put it in ${where} as {env: NAME} or {file: PATH}`);

/** A secret is never written in config: it names an env var or a file holding it. */
export const secretRef = z
  .union([
    z.object({ env: z.string().min(1).describe('Environment variable holding the secret') }).strict(),
    z.object({ file: absolutePath.describe('File holding the secret (trailing newline trimmed)') }).strict(),
  ])
  .describe('Reference to a secret: {env: NAME} or {file: PATH}');
export type SecretRef = z.infer<typeof secretRef>;

const identifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/, 'must be a plain SQL identifier (letters, digits, _ and $; max 63)');

export const TARGET_NAME = /^[a-z][a-z0-9-]{0,30}$/;

export const targetSchema = z
  .object({
    description: z.string().optional(),
    production: z.boolean().default(false).describe('Drills refuse production targets unless allowDrills is set'),
    allowDrills: z.boolean().optional(),
    development: z
      .boolean()
      .default(false)
      .describe('Local development only: decisions need no signature and any runbook file may be declared; its incidents are marked unauthenticated'),
    drillTarget: z.boolean().default(false).describe('An isolated copy of the stack: drill robots may act on it in drill mode (never on a production target)'),
    policy: targetPolicySchema,
    redis: z
      .object({
        url: z.string().url().pipe(urlWithoutPassword('redis.password')).default('redis://127.0.0.1:6379/0').describe('Redis the protected app reads (its Django cache)'),
        password: secretRef.optional(),
        keyPrefix: z
          .string()
          // Firebreak SCANs its own keys under the prefix: a glob character would match other apps' keys.
          .regex(/^[^*?[\]\\\s\p{Cc}]*$/u, 'must not contain glob characters (* ? [ ] \\), spaces or control characters')
          .default('')
          .describe("Django CACHES KEY_PREFIX ('' by default)"),
        keyVersion: z.number().int().min(1).default(1).describe('Django cache VERSION (1 by default)'),
      })
      .strict()
      .default({ url: 'redis://127.0.0.1:6379/0', keyPrefix: '', keyVersion: 1 }),
    postgres: z
      .object({
        adminUrl: urlWithoutPassword('postgres.password').default('postgres://postgres@127.0.0.1:5432/postgres').describe('Admin connection (no password in it: use password)'),
        password: secretRef.optional(),
        database: identifier.default('app').describe('The protected app database'),
        appRole: identifier.default('app').describe('The role the app connects as'),
        schemas: z.array(identifier).min(1).default(['public']),
        appUrl: urlWithoutPassword('postgres.appPassword')
          .optional()
          .describe('How the app role connects, for the read-only proof (default: adminUrl with appRole as the user and database)'),
        appPassword: secretRef.optional().describe("The app role's password, for the read-only proof"),
        userTable: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/).default('auth_user').describe('Table with the app users (Django: auth_user)'),
        simplejwtBlacklist: z.boolean().default(true).describe('Also blacklist refresh tokens in djangorestframework-simplejwt tables when they exist'),
      })
      .strict()
      .optional(),
    tokens: z
      .object({
        maxLifetimeSeconds: z.number().int().min(60).default(7 * 24 * 3600).describe('Longest token lifetime (refresh tokens): TTL of deny-list entries and epochs'),
      })
      .strict()
      .default({ maxLifetimeSeconds: 7 * 24 * 3600 }),
    network: z
      .object({
        banTtlSeconds: z.number().int().min(60).default(72 * 3600).describe('Default ban length (the guide: 72 h)'),
        minPrefixV4: z.number().int().min(0).max(32).default(16).describe('Broadest IPv4 ban allowed'),
        minPrefixV6: z.number().int().min(0).max(128).default(48).describe('Broadest IPv6 ban allowed'),
        neverBan: z
          .array(
            z.string().superRefine((v, ctx) => {
              const parsed = tryParseNetwork(v.trim());
              if ('error' in parsed) ctx.addIssue({ code: 'custom', message: `not an IP address or CIDR network: ${parsed.error}` });
            }),
          )
          .default([])
          .describe('Admin/VPN ranges and addresses no ban may touch (loopback is always protected)'),
      })
      .strict()
      .default({ banTtlSeconds: 72 * 3600, minPrefixV4: 16, minPrefixV6: 48, neverBan: [] }),
    github: z
      .object({
        repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'must be owner/name'),
        branch: z.string().default('main').describe('The protected branch'),
        token: secretRef.optional(),
        baseUrl: z.string().url().optional().describe('GitHub API base (Enterprise, or a stand-in in tests)'),
        deployWorkflow: z.string().optional().describe('Workflow file dispatched by deploy.redeploy (e.g. deploy.yml); it takes an input `sha`'),
        requiredChecks: z.array(z.string()).default([]).describe('Check run names that must have succeeded (besides every reported status and check being green)'),
      })
      .strict()
      .optional(),
    slack: z
      .object({
        webhook: secretRef.describe('Slack incoming-webhook URL (a secret): the post-mortem notice is posted there'),
      })
      .strict()
      .optional(),
    secrets: z
      .object({
        sinks: z
          .array(
            z.discriminatedUnion('type', [
              z.object({ type: z.literal('dotenv'), path: absolutePath.describe('The .env file (docker-compose)') }).strict(),
              z.object({ type: z.literal('github'), environment: z.string().optional().describe('Environment secrets instead of repository secrets') }).strict(),
            ]),
          )
          .min(1),
      })
      .strict()
      .optional()
      .describe('Where rotated secrets are published'),
    app: z
      .object({
        url: z.string().url().describe('The live app, for deploy.probe'),
        routes: z.array(z.string().startsWith('/')).default(['/']).describe('Paths whose Content-Security-Policy must be enforcing'),
        sessionCookies: z.array(z.string()).default(['sessionid', 'csrftoken']).describe('Cookies that must be Secure (and HttpOnly unless csrftoken) and SameSite'),
        httpUrl: z.string().url().optional().describe('Plain-HTTP URL probed for the redirect to HTTPS (default: url with http:// and the default port)'),
        caFile: z.string().optional().describe('Extra CA to trust for the probe (self-signed staging), PEM; system CAs stay trusted'),
        corsAllowedOrigins: z
          .array(
            z.string().refine((v) => {
              try {
                return new URL(v).origin === v;
              } catch {
                return false;
              }
            }, 'must be an origin: scheme://host[:port], no path, no trailing slash, no default port, not * or null'),
          )
          .default([])
          .describe(
            'The CORS allowlist: the only origins the app may echo in Access-Control-Allow-Origin (e.g. its front end). deploy.probe fails a route that answers *, reflects a foreign or null Origin, or admits a look-alike. Empty: no cross-origin access at all',
          ),
      })
      .strict()
      .optional(),
    drill: z
      .object({
        nginxUrl: z.string().url().optional().describe('The nginx in front of the drill app: after containment a banned client must get 403 there'),
        clientIpHeader: z.string().regex(/^[A-Za-z0-9-]{1,64}$/).default('X-Real-IP').describe('The header that nginx takes the client address from (realip), for the banned-client check'),
        healthUrl: z.string().url().optional().describe('Checked during a drill besides Redis and PostgreSQL (default app.url): failing, the drill is aborted'),
        token: z
          .object({
            signingKey: secretRef.describe("The drill app's JWT signing key (HS256): the drill signs a fresh token of the drill user with it before acting"),
            user: z.string().min(1).max(200).describe("The drill user (the token's sub and user_id claims): the drill's runbook revokes its tokens (user_ids, or revoke_all)"),
          })
          .strict()
          .optional()
          .describe('After containment, and again after the all-clear, a token the drill revoked must be refused by the app (app.url)'),
      })
      .strict()
      .optional()
      .describe('How a drill checks this drill target from the outside'),
    nginx: z
      .object({
        denyFile: absolutePath.describe('File nginx includes with deny rules'),
        reloadCommand: z.array(z.string()).min(1).default(['nginx', '-s', 'reload']),
        testCommand: z.array(z.string()).min(1).default(['nginx', '-t']),
      })
      .strict()
      .optional(),
  })
  .strict();
export type TargetConfig = z.infer<typeof targetSchema>;
