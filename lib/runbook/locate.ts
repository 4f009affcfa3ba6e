/** Maps a document path (`phases.containment[1].with.reason`) to a 1-based line and column. */
import { isAlias, isMap, isScalar, isSeq } from 'yaml';
import type { Document, LineCounter, Node as YamlNode } from 'yaml';
import type { DocPath } from './schema.js';

/** `['phases', 'containment', 1, 'with']` → `phases.containment[1].with`. */
export function formatPath(path: DocPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out;
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}

/**
 * Where `path` is in the document. A missing key points at its parent mapping
 * (at the parent's own key when it has one, e.g. the `with:` line).
 */
export function locate(doc: Document, lc: LineCounter, path: DocPath, at?: 'key'): { line: number; column: number } {
  let node: unknown = doc.contents;
  // The key node `node` was reached by, if any.
  let via: unknown;
  let found = true;
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(doc);
    let next: unknown;
    let key: unknown;
    if (isMap(node)) {
      const pair = node.items.find((p) => keyText(p.key) === String(seg));
      key = pair?.key;
      next = pair ? (pair.value ?? pair.key) : undefined;
    } else if (isSeq(node) && typeof seg === 'number') {
      next = node.items[seg];
    }
    if (next === undefined || next === null) {
      found = false;
      break;
    }
    node = next;
    via = key;
  }
  // A collection reached by a key is reported at the key's line (`with:`), not its first entry.
  const preferKey = !found || at === 'key' || isMap(node) || isSeq(node);
  const target = preferKey ? (via ?? node) : node;
  const range = (target as YamlNode | null)?.range;
  if (!range) return { line: 1, column: 1 };
  const { line, col } = lc.linePos(range[0]);
  return { line: Math.max(line, 1), column: col };
}
