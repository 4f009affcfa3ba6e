/**
 * Custom search attributes Firebreak sets on every incident, so listing and
 * dedup go through Temporal visibility. Pure data (used in the workflow sandbox).
 */
export const SEARCH_ATTRIBUTES = {
  FirebreakPhase: 'Keyword',
  FirebreakSeverity: 'Keyword',
  FirebreakRunbook: 'Keyword',
  FirebreakMode: 'Keyword',
  FirebreakState: 'Keyword',
  FirebreakDedupKey: 'Keyword',
  FirebreakIncidentId: 'Keyword',
} as const;

export type SearchAttributeName = keyof typeof SEARCH_ATTRIBUTES;

/** `--search-attribute` flags for `temporal server start-dev`. */
export function devServerSearchAttributeArgs(): string[] {
  return Object.entries(SEARCH_ATTRIBUTES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]);
}
