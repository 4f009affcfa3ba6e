/** `npm run build` step: dist/workflow-bundle.js for `firebreak worker --bundle`. */
import { join } from 'node:path';
import { PROJECT_ROOT } from '../lib/config.js';
import { writeWorkflowBundle } from '../worker/bundle.js';

const out = process.argv[2] ?? join(PROJECT_ROOT, 'dist', 'workflow-bundle.js');
const t0 = performance.now();
await writeWorkflowBundle(out);
process.stdout.write(`workflow bundle written to ${out} (${Math.round(performance.now() - t0)} ms)\n`);
