/** Every benchmark `npm run bench` knows, in the order they run. Add new ones here. */
import { declareToComplete } from './declare-to-complete.js';
import type { Benchmark } from './types.js';

export const BENCHMARKS: readonly Benchmark[] = [declareToComplete];
