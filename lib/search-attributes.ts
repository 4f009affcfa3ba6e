/**
 * Custom search attributes Firebreak sets on every incident, so listing and dedup go
 * through Temporal visibility. One table: the workflow's typed keys (`SA`) and the dev
 * server's `--search-attribute` flags are both derived from it. Pure (workflow sandbox).
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

const TABLE = {
  phase: 'FirebreakPhase',
  severity: 'FirebreakSeverity',
  runbook: 'FirebreakRunbook',
  mode: 'FirebreakMode',
  state: 'FirebreakState',
  dedupKey: 'FirebreakDedupKey',
  incidentId: 'FirebreakIncidentId',
} as const;

type Field = keyof typeof TABLE;

/** Every attribute is a Keyword: exact-match filters, no tokenisation. */
export const SA = Object.fromEntries(
  Object.entries(TABLE).map(([field, name]) => [field, defineSearchAttributeKey(name, SearchAttributeType.KEYWORD)]),
) as { [F in Field]: ReturnType<typeof defineSearchAttributeKey<typeof SearchAttributeType.KEYWORD>> };

/** Name → Temporal CLI type, for registering them. */
export const SEARCH_ATTRIBUTES: Readonly<Record<(typeof TABLE)[Field], 'Keyword'>> = Object.fromEntries(
  Object.values(TABLE).map((name) => [name, 'Keyword']),
) as Record<(typeof TABLE)[Field], 'Keyword'>;

export type SearchAttributeName = keyof typeof SEARCH_ATTRIBUTES;

/** `--search-attribute` flags for `temporal server start-dev`. */
export function devServerSearchAttributeArgs(): string[] {
  return Object.entries(SEARCH_ATTRIBUTES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]);
}
