import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The workflows entry point, as source (tsx/vitest) or as built JavaScript. */
export function workflowsPath(): string {
  const ts = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
  return existsSync(ts) ? ts : fileURLToPath(new URL('../workflows/index.js', import.meta.url));
}
