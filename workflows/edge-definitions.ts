/**
 * The fan-out of bans to the nginx edge hosts: what the worker hands the workflow (the target's
 * whole ban set, packed), what an edge is asked to apply and what it answers. Free of I/O.
 */

/** The edge an edge set goes to, as the worker's config names it. */
export interface EdgeRef {
  name: string;
  taskQueue: string;
  /** The worker probes this edge's nginx after a sync. */
  probe: boolean;
}

/**
 * A target's ban set at one moment: every active ban, the deny file an edge renders from it,
 * and that file's SHA-256 as the worker computed it. `generation` orders snapshots (taken
 * atomically with the registry read, from Redis' clock), so an edge never goes back to an
 * older set than the one it has.
 */
export interface EdgeSet {
  target: string;
  generation: string;
  /** The canonical networks, one per line, gzip, base64. */
  networks: string;
  count: number;
  /** SHA-256 (hex) of the set's deny lines: what the deny file holds but its comments. */
  sha256: string;
  edges: EdgeRef[];
  /** Networks the probe asks as (their first address): `denied` must get 403, `allowed` must not. */
  probe: { denied?: string; allowed?: string };
}

export interface EdgeApplyInput {
  edge: string;
  target: string;
  generation: string;
  networks: string;
  count: number;
  sha256: string;
}

export interface EdgeApplyResult {
  edge: string;
  /** The generation the edge's deny file holds now. */
  generation: string;
  /** SHA-256 of the deny file read back from disk after the write, comments left out. */
  sha256: string;
  lines: number;
  changed: boolean;
  reloaded: boolean;
  /** The edge already holds a newer set than the one it was given: nothing written. */
  stale: boolean;
}

export interface EdgeProbeInput {
  edge: string;
  denied?: string;
  allowed?: string;
}

/** What the worker found on one edge after a sync. */
export interface EdgeReport {
  edge: string;
  sha256: string;
  lines: number;
  reloaded: boolean;
  probed: string[];
  /** Rounds until it agreed (1 when it agreed at once). */
  attempts: number;
  /** Set when the worker stopped waiting for it (no longer configured, or the incident is aborting). */
  gaveUp?: string;
}
