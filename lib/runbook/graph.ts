/** Step ordering: `needs` edges (same phase only), cycles, and "finished before" for references. */
import { PHASES } from './types.js';
import type { PhaseName, StepSpec } from './types.js';
import type { DocPath, RawProblem } from './schema.js';
import { formatPath } from './locate.js';

/** One step as found in the document; `spec` is absent when its structure is invalid. */
export interface StepEntry {
  phase: PhaseName;
  path: DocPath;
  /** The id as written, when it is a string (kept even if the step is otherwise broken). */
  id?: string;
  spec?: StepSpec;
}

export class StepGraph {
  /** First entry per id. */
  private readonly byId = new Map<string, StepEntry>();

  constructor(readonly steps: StepEntry[]) {
    for (const s of steps) if (s.id !== undefined && !this.byId.has(s.id)) this.byId.set(s.id, s);
  }

  get(id: string): StepEntry | undefined {
    return this.byId.get(id);
  }

  /** Step ids, sorted, for messages. */
  ids(): string[] {
    return [...this.byId.keys()].sort();
  }

  /** Same-phase steps `id` waits for, transitively. */
  ancestors(id: string): Set<string> {
    const seen = new Set<string>();
    const stack = [...(this.byId.get(id)?.spec?.needs ?? [])];
    while (stack.length > 0) {
      const n = stack.pop() as string;
      const dep = this.byId.get(n);
      if (seen.has(n) || !dep || dep.phase !== this.byId.get(id)?.phase) continue;
      seen.add(n);
      stack.push(...(dep.spec?.needs ?? []));
    }
    return seen;
  }

  /** Why `target`'s output may not exist when `from` runs, or undefined if it surely finished. */
  orderProblem(from: StepEntry, target: string): string | undefined {
    const t = this.byId.get(target);
    if (!t) return `unknown step '${target}'`;
    if (target === from.id) return `step '${target}' cannot reference its own output`;
    const diff = PHASES.indexOf(t.phase) - PHASES.indexOf(from.phase);
    if (diff < 0) return undefined;
    if (diff > 0) return `step '${target}' runs later (phase ${t.phase})`;
    if (from.id !== undefined && this.ancestors(from.id).has(target)) return undefined;
    return `step '${target}' is not guaranteed to have finished: add it to needs`;
  }
}

/** Duplicate ids, unknown / cross-phase `needs`, and `needs` cycles. */
export function checkGraph(graph: StepGraph, problems: RawProblem[]): void {
  const firstAt = new Map<string, DocPath>();
  for (const s of graph.steps) {
    if (s.id === undefined) continue;
    const first = firstAt.get(s.id);
    if (first) problems.push({ path: [...s.path, 'id'], message: `duplicate step id '${s.id}' (first used at ${formatPath(first)})` });
    else firstAt.set(s.id, s.path);
  }

  for (const s of graph.steps) {
    s.spec?.needs.forEach((n, j) => {
      const path = [...s.path, 'needs', j];
      const dep = graph.get(n);
      if (!dep) problems.push({ path, message: `unknown step '${n}' (known: ${graph.ids().join(', ') || 'none'})` });
      else if (n === s.id) problems.push({ path, message: `step '${n}' cannot need itself` });
      else if (dep.phase !== s.phase) {
        problems.push({ path, message: `step '${n}' is in phase ${dep.phase}; needs may only name steps of the same phase (${s.phase})` });
      }
    });
  }
  findCycles(graph, problems);
}

function findCycles(graph: StepGraph, problems: RawProblem[]): void {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string): void => {
    state.set(id, 'open');
    stack.push(id);
    const entry = graph.get(id) as StepEntry;
    entry.spec?.needs.forEach((n, j) => {
      const dep = graph.get(n);
      if (!dep || n === id || dep.phase !== entry.phase) return;
      if (state.get(n) === 'open') {
        const cycle = [...stack.slice(stack.indexOf(n)), n];
        problems.push({ path: [...entry.path, 'needs', j], message: `needs cycle: ${cycle.join(' -> ')}` });
      } else if (!state.has(n)) {
        visit(n);
      }
    });
    stack.pop();
    state.set(id, 'done');
  };
  for (const s of graph.steps) {
    if (s.id !== undefined && graph.get(s.id) === s && !state.has(s.id)) visit(s.id);
  }
}
