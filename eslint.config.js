// ESLint 9 flat config. Type-aware rules for TypeScript, plus the workflow sandbox
// rule: code that runs inside Temporal's deterministic workflow isolate may not
// reach Node built-ins, client/IO libraries or activity implementations.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';
import { importX, createNodeResolver } from 'eslint-plugin-import-x';

/** Workflow code and the pure modules it imports (everything webpack bundles into the sandbox). */
const SANDBOX_FILES = [
  'workflows/**/*.ts',
  'lib/runbook/refs.ts',
  'lib/runbook/expr.ts',
  'lib/runbook/types.ts',
  'lib/actions.ts',
  'lib/canonical.ts',
  'lib/search-attributes.ts',
  'lib/ids.ts',
  'lib/gdpr.ts',
  'lib/drills.ts',
  'lib/runbook/plan.ts',
  'lib/runbook/gdpr.ts',
  'lib/identity/{statement,ed25519,registry,verify,sshsig,base64,time}.ts',
  'lib/refuse-plaintext.ts',
];

const nodeBuiltins = builtinModules.filter((m) => !m.startsWith('_'));
const SANDBOX_MESSAGE = 'Workflow sandbox: no Node built-ins, clients or I/O here; do side effects in an activity.';

/** Node's runtime globals, for the few plain JavaScript files (no `globals` package needed). */
const NODE_GLOBALS = Object.fromEntries(
  [
    'process', 'console', 'Buffer', 'URL', 'URLSearchParams', 'TextEncoder', 'TextDecoder', 'AbortController',
    'AbortSignal', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'clearImmediate',
    'queueMicrotask', 'structuredClone', 'fetch', 'performance', 'globalThis',
  ].map((name) => [name, 'readonly']),
);

export default defineConfig(
  globalIgnores(['**/node_modules/', 'dist/', '.build/', '.tools/', '.data/', 'coverage/']),
  {
    linterOptions: { reportUnusedDisableDirectives: 'warn' },
  },

  // Plain JavaScript (config files, bin/, scripts/*.mjs): syntax-level checks only.
  {
    files: ['**/*.{js,mjs,cjs}'],
    ...js.configs.recommended,
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: NODE_GLOBALS },
  },
  // CommonJS (lib/data-converters.cjs, which the SDK require()s by path).
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { ...NODE_GLOBALS, require: 'readonly', module: 'writable', exports: 'writable' } },
  },

  // TypeScript: type-aware through the project service (reuses tsconfig.json).
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    plugins: { 'import-x': importX },
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    settings: {
      'import-x/extensions': ['.ts', '.js', '.mjs', '.cjs'],
      // Local imports are written `./x.js` but the sources are `./x.ts`.
      'import-x/resolver-next': [
        createNodeResolver({
          extensions: ['.ts', '.js', '.mjs', '.cjs', '.json', '.node'],
          extensionAlias: { '.js': ['.ts', '.js'] },
        }),
      ],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
      // `async` without `await` is deliberate where an interface wants a Promise (PayloadCodec,
      // CLI runners): a throw becomes a rejection instead of escaping synchronously.
      '@typescript-eslint/require-await': 'off',
      // Only our own modules: walking node_modules for cycles is slow and not ours to fix.
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      // TypeScript already reports undefined names, with types.
      'no-undef': 'off',
    },
  },

  // The workflow sandbox.
  {
    files: SANDBOX_FILES,
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({ name, message: SANDBOX_MESSAGE })),
            ...['ioredis', 'pg', 'pino', 'pino-pretty', '@temporalio/client', '@temporalio/worker', '@temporalio/activity', '@temporalio/testing'].map(
              (name) => ({ name, message: SANDBOX_MESSAGE }),
            ),
          ],
          patterns: [
            { group: ['node:*'], message: SANDBOX_MESSAGE },
            { group: ['@slack/*', '@octokit/*', 'pg-*', 'ioredis/*', 'pino/*', '@temporalio/client/*', '@temporalio/worker/*', '@temporalio/activity/*'], message: SANDBOX_MESSAGE },
            {
              regex: '(^|/)activities(/|$)',
              allowTypeImports: true,
              message: 'Workflows import activities type-only (proxyActivities<ReturnType<typeof createActivities>>).',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'Use wf.sleep() (a durable timer) in workflows.' },
        { name: 'setInterval', message: 'Use a loop with wf.sleep() in workflows.' },
        { name: 'setImmediate', message: 'Not deterministic in workflows.' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'Not deterministic in workflows: use wf.uuid4() or derive from input.' },
        { object: 'globalThis', property: 'setTimeout', message: 'Use wf.sleep() (a durable timer) in workflows.' },
        { object: 'globalThis', property: 'setInterval', message: 'Use a loop with wf.sleep() in workflows.' },
      ],
    },
  },

  // Vitest's asymmetric matchers (expect.any, expect.stringMatching, …) are typed `any` by design.
  {
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off' },
  },

  // Front doors and scripts talk to a terminal.
  {
    files: ['cli/**', 'scripts/**', 'bin/**', 'bench/**'],
    rules: { 'no-console': 'off' },
  },
);
