import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The workflows entry point, as source (tsx/vitest) or as built JavaScript. */
export function workflowsPath(): string {
  const ts = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
  return existsSync(ts) ? ts : fileURLToPath(new URL('../workflows/index.js', import.meta.url));
}

/** The workflow interceptors that end a refused (unencrypted) start, query or signal cleanly. */
export function refusePlaintextPath(): string {
  const ts = fileURLToPath(new URL('../lib/refuse-plaintext.ts', import.meta.url));
  return existsSync(ts) ? ts : fileURLToPath(new URL('../lib/refuse-plaintext.js', import.meta.url));
}
