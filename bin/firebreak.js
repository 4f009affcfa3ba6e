#!/usr/bin/env node
// The `firebreak` command: runs the compiled CLI in .build/ (scripts/build-cli.mjs), which
// is rebuilt here first when a source changed since the last build, so a clone needs no
// build step and an edited source never runs stale. If it cannot be built (say, a
// read-only checkout), the TypeScript runs through tsx instead, as before.
const argv = process.argv.slice(2);
// Stack traces (--verbose) point at the TypeScript sources.
if (argv.includes('--verbose')) process.setSourceMapsEnabled(true);

let entry;
try {
  entry = await (await import('../scripts/build-cli.mjs')).cliEntry();
} catch (err) {
  const { buildErrorLines } = await import('../scripts/build-cli.mjs');
  const errors = Array.isArray(err?.errors) && err.errors.length > 0;
  if (errors) {
    // A source error: tsx would fail the same way; say where.
    for (const line of buildErrorLines(err)) process.stderr.write(`firebreak: ${line}\n`);
    process.exit(1);
  }
  process.stderr.write(`firebreak: cannot build the compiled CLI (${buildErrorLines(err)[0]}); running the TypeScript through tsx\n`);
  (await import('tsx/esm/api')).register();
  entry = new URL('../cli/main.ts', import.meta.url).href;
}
const { main } = await import(entry);
process.exit(await main(argv));
