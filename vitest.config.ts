import { defineConfig } from 'vitest/config';

// One run for unit and integration tests: global setup starts a single Temporal
// dev server (and checks Redis/PostgreSQL) that every test file shares.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 60_000,
    // Starting workers and dev servers in hooks can take a while on a loaded 2-core machine.
    hookTimeout: 120_000,
    // Forks, not threads: the Temporal worker's native bridge and child processes behave best in their own process.
    pool: 'forks',
    // 2 cores, and the shared dev server needs CPU too.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
