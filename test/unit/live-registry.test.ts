/** The registry re-read from firebreak.yaml: revocations apply without a restart; a broken file keeps the last good one. */
import { mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { ephemeralKeyPair, publicLine } from '../../lib/identity/keys.js';
import { liveRegistry } from '../../lib/policy/live-registry.js';

it('re-reads identity when the file changes, and keeps the last good registry when it no longer parses', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fbt-live-'));
  const file = join(dir, 'firebreak.yaml');
  const line = publicLine(ephemeralKeyPair(), 'alice');
  const write = (identity: string, at: number) => {
    writeFileSync(file, `identity:\n  responders:\n${identity}\n`);
    utimesSync(file, at, at);
  };
  write(`    - { name: alice, keys: ["${line}"] }`, 1_000);
  const config = loadConfig({ file, env: {} });
  const problems: string[] = [];
  const registry = liveRegistry(config, (p) => problems.push(p));
  expect(registry().responders[0]?.keys[0]?.revokedAt).toBeUndefined();

  write(`    - { name: alice, keys: [{ key: "${line}", revokedAt: "2026-01-01T00:00:00Z" }] }`, 2_000);
  expect(registry().responders[0]?.keys[0]?.revokedAt).toBe('2026-01-01T00:00:00.000Z');

  write('    - { name: alice, keys: ["not a key"] }', 3_000);
  expect(registry().responders[0]?.keys[0]?.revokedAt).toBe('2026-01-01T00:00:00.000Z');
  expect(problems).toHaveLength(1);
  expect(problems[0]).toMatch(/identity.responders\[0\].keys\[0\].*keeping the registry read before/);
  registry();
  expect(problems).toHaveLength(1);
});
