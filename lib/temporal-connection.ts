/** Connection options for Temporal Cloud, a self-hosted cluster or the dev server, from config. */
import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { codecFromConfig } from './codec.js';
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

/** The payload codec (encryption) every client and worker uses when a key is configured. */
export function dataConverter(config: Readonly<Config>): DataConverter {
  const codec = codecFromConfig(config);
  return codec ? { payloadCodecs: [codec] } : {};
}
