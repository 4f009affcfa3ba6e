/**
 * The evidence bundle: one JSON file (sorted keys) in the incident's evidence
 * folder, its SHA-256 for the history, and the one-line summary. The target's
 * configured secrets are scrubbed from every string before it is written.
 */
import { join } from 'node:path';
import { ensurePrivateDir, writeFileAtomic } from '../../lib/atomic-file.js';
import { canonicalJson, sha256Hex } from '../../lib/canonical.js';
import { readSecret, type SecretRef, type TargetConfig } from '../../lib/config.js';
import { redactValues } from '../../lib/redact.js';
import type { ActionInput } from '../../workflows/definitions.js';
import type { SourceName } from './capture.js';
import type { RoleDiff } from './roles.js';

/** The target's configured secrets (those readable now). */
export function knownSecrets(target: TargetConfig): string[] {
  const refs: Array<SecretRef | undefined> = [target.redis.password, target.postgres?.password, target.postgres?.appPassword, target.github?.token];
  const found = new Set<string>();
  for (const ref of refs) {
    if (!ref) continue;
    try {
      const s = readSecret(ref);
      if (s.length >= 4) found.add(s);
    } catch {
      // not readable here: it cannot have been used either
    }
  }
  for (const url of [target.redis.url, target.postgres?.adminUrl, target.postgres?.appUrl]) {
    if (!url) continue;
    try {
      const pw = decodeURIComponent(new URL(url).password);
      if (pw.length >= 4) found.add(pw);
    } catch {
      // not a URL
    }
  }
  return [...found];
}

/** Every string in `value`, with the exact known secrets replaced (a last line of defence). */
export function scrubKnown<T>(value: T, secrets: string[]): T {
  if (!secrets.length) return value;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return redactValues(v, secrets);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}

/**
 * Write the bundle as `evidence-<step start>-<step>.json` in `dir`: named by the step's start
 * (the same on every retry, so a retry replaces its own file) and the step.
 */
export async function writeBundle(dir: string, input: ActionInput, bundle: object): Promise<{ file: string; sha256: string }> {
  const text = `${JSON.stringify(JSON.parse(canonicalJson(bundle)), null, 2)}\n`;
  const sha256 = sha256Hex(text);
  const stamp = input.requestedAt.replace(/:/g, '');
  const safeStep = input.stepId.replace(/[^A-Za-z0-9._-]/g, '_');
  const file = join(dir, `evidence-${stamp}-${safeStep}.json`);
  await ensurePrivateDir(dir);
  await writeFileAtomic(file, text);
  return { file, sha256 };
}

export function summarize(results: Partial<Record<SourceName, unknown>>, ok: Partial<Record<SourceName, boolean>>): string {
  const parts: string[] = [];
  const order: SourceName[] = ['sessions', 'roles', 'redis', 'github'];
  for (const name of order) {
    const r = results[name] as Record<string, unknown> | undefined;
    if (!r) continue;
    if (!ok[name]) {
      parts.push(`${name} FAILED`);
      continue;
    }
    if (name === 'sessions') parts.push(`sessions ${String(r.count)}`);
    if (name === 'roles') {
      const elevated = (r.elevated as unknown[]).length;
      if (!r.added) parts.push(`roles: ${elevated} elevated, no baseline yet`);
      else {
        const d = r as unknown as RoleDiff;
        const bits = [
          d.added.length ? `${d.added.length} added` : '',
          d.changed.length ? `${d.changed.length} changed` : '',
          d.removed.length ? `${d.removed.length} removed` : '',
        ].filter(Boolean);
        parts.push(bits.length ? `roles: ${bits.join(', ')} since baseline` : `roles: ${elevated} elevated, unchanged since baseline`);
      }
    }
    if (name === 'redis') parts.push((r.lockdown as { on: boolean }).on ? 'redis (lockdown ON)' : 'redis');
    if (name === 'github') {
      const head = r.head as { verified: boolean };
      const deployed = r.deployed as { sha: string; error?: string };
      const rel = deployed.error ? 'deployed unreadable' : deployed.sha === 'unknown' ? 'deployed unknown' : r.deployedIsHead ? 'deployed=head' : 'deployed≠head';
      parts.push(`github ${rel}${head.verified ? '' : ', head NOT verified'}`);
    }
  }
  const total = Object.keys(ok).length;
  const good = Object.values(ok).filter(Boolean).length;
  return `evidence: ${good}/${total} sources (${parts.join(', ')})`;
}
