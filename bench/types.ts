/** What a benchmark is and what the harness (bench/run.ts) hands it. */
import type { Client } from '@temporalio/client';
import type { Redis } from 'ioredis';
import type { Config } from '../lib/config.js';
import type { Principal } from '../lib/incidents/types.js';

export interface BenchContext {
  /** Config of the throwaway setup: temp runbooks and data dirs, the bench target. */
  config: Readonly<Config>;
  /** Client of the shared dev server (the worker polls the same server). */
  client: Client;
  /** A connected ioredis client to the bench target's Redis (for floors and checks). */
  redis: Redis;
  /** Name of the bench target in `config.targets`. */
  target: string;
  /** The target's unique key prefix (`fbbench-<random>`); every key under it is deleted at the end. */
  keyPrefix: string;
  /** Identities: the declarer, and approvers in group `responders` (never the declarer). */
  users: { declarer: string; responders: string[] };
  /** A bench person with their key's signer (every decision is signed, as on any real target). */
  actor(user: string): Principal;
  /** The XDG_CONFIG_HOME holding `user`'s key file, for CLI runs as that person. */
  keyHome(user: string): string;
  /** The `identity:` section registering the bench people, for a benchmark that writes a config of its own. */
  identityYaml: string[];
  /** Recorded runs wanted (after the warm-up). */
  runs: number;
  /** Unrecorded runs to do first. */
  warmup: number;
  /** `--sizes 1,10`: the sizes (e.g. concurrent incidents) a scaling benchmark runs; undefined = its own. Others ignore it. */
  sizes?: readonly number[];
  /** Report progress after each recorded run (harness prints "name: i/n" on stderr). */
  progress(done: number): void;
  /** One informational line on stderr. */
  note(line: string): void;
}

export interface BenchResult {
  /** One sample per recorded run, in `unit`. */
  samples: number[];
  /** The floor: the least work the measured thing must do, per recorded run, in `unit`. */
  floorSamples: number[];
  /** Optional extra lines (e.g. a breakdown) printed on stderr; not written to results.json. */
  notes?: string[];
  /** More measurements of the same run, each its own entry named `<benchmark>.<name>` (any number of samples). */
  extra?: ExtraResult[];
}

export interface ExtraResult {
  name: string;
  /** Default: the benchmark's unit. */
  unit?: string;
  samples: number[];
  floorSamples: number[];
}

export interface Benchmark {
  name: string;
  unit: string;
  description: string;
  /** Recorded runs when --runs is not given (default 30). */
  defaultRuns?: number;
  /** The sizes it runs when --sizes is not given (a scaling benchmark; --sizes applies to it). */
  sizes?: readonly number[];
  /** Runbook files (file name → YAML) the harness writes into the bench runbooks dir before starting. */
  runbooks?: Record<string, string>;
  run(ctx: BenchContext): Promise<BenchResult>;
}

/** One entry of bench/results.json. */
export interface ResultEntry {
  name: string;
  unit: string;
  p50: number;
  p95: number;
  /** 99th percentile (nearest rank); entries recorded before it was added have none. */
  p99?: number;
  runs: number;
  floor: number;
  ratio: number;
  command: string;
  machine: string;
  date: string;
}
