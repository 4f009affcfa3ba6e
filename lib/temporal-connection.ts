/** Connection options for Temporal Cloud, a self-hosted cluster or the dev server, from config. */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TLSConfig } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { codecFromConfig, type RefusalOptions } from './codec.js';
import { readSecret, type Config } from './config.js';

/** Options both `Connection.connect` (client) and `NativeConnection.connect` (worker) accept. */
export interface TemporalConnectionOptions {
  address: string;
  apiKey?: string;
  tls?: TLSConfig;
}

export function connectionOptions(config: Readonly<Config>): TemporalConnectionOptions {
  const t = config.temporal;
  const opts: TemporalConnectionOptions = { address: t.address };
  if (t.apiKey) opts.apiKey = readSecret(t.apiKey);
  if (t.tls || t.apiKey) {
    opts.tls = {
      serverNameOverride: t.tls?.serverName,
      serverRootCACertificate: t.tls?.caFile ? readFileSync(t.tls.caFile) : undefined,
      clientCertPair:
        t.tls?.certFile && t.tls.keyFile ? { crt: readFileSync(t.tls.certFile), key: readFileSync(t.tls.keyFile) } : undefined,
    };
  }
  return opts;
}

/**
 * lib/data-converters.cjs, from the sources or from the compiled CLI in .build/ (both one
 * level below the repository), or from dist/lib/.
 */
export function convertersPath(): string {
  const candidates = ['../lib/data-converters.cjs', '../../lib/data-converters.cjs'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  return candidates.find((p) => existsSync(p)) ?? (candidates[0] as string);
}

/**
 * The one data converter of the worker and every client: the payload converter that refuses
 * refusal markers, the failure converter that encodes messages and stack traces, and — when a
 * key is configured — the payload codec, which then refuses whatever is not encrypted with
 * this deployment's keys. The workflow bundle (worker/bundle.ts) is built with the same paths.
 */
export function dataConverter(config: Readonly<Config>, refusal: Omit<RefusalOptions, 'refuse'> = {}): DataConverter {
  const path = convertersPath();
  const codec = codecFromConfig(config, process.env, { ...refusal, refuse: true });
  return { payloadConverterPath: path, failureConverterPath: path, ...(codec && { payloadCodecs: [codec] }) };
}
