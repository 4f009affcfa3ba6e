/**
 * `npm run chaos [-- --quick] [--seed N] [--only a,b] [--stacks N] [--keep] [--verbose]`: the fault campaign
 * (bench/chaos/). Starts its own Redis, PostgreSQL, Temporal dev server and nginx on spare
 * ports, never the shared ones; prints a markdown table per scenario on stdout, progress on
 * stderr; exits 1 when a run lost or doubled an effect or did not complete.
 */
import { parseArgs } from 'node:util';
import { markdownTable, runChaos } from '../bench/chaos/run.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    seed: { type: 'string' },
    only: { type: 'string' },
    stacks: { type: 'string' },
    keep: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  process.stdout.write('usage: npm run chaos -- [--quick] [--seed N] [--only worker-kills,two-workers,...] [--stacks N] [--keep] [--verbose]\n');
  process.exit(0);
}

const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
if (!Number.isInteger(seed) || seed < 0) {
  process.stderr.write(`--seed takes a non-negative integer, not ${values.seed}\n`);
  process.exit(2);
}

const stacks = values.stacks !== undefined ? Number(values.stacks) : undefined;
if (stacks !== undefined && !(Number.isInteger(stacks) && stacks >= 1 && stacks <= 8)) {
  process.stderr.write(`--stacks takes 1 to 8, not ${values.stacks}\n`);
  process.exit(2);
}

const t0 = performance.now();
const { rows, ok, dir } = await runChaos({ quick: values.quick, seed, keep: values.keep, verbose: values.verbose, ...(values.only && { only: values.only.split(',') }), ...(stacks && { stacks }) });
const mode = values.quick ? 'quick' : 'full';
process.stdout.write(`\nChaos campaign (${mode}), seed ${seed}, ${new Date().toISOString()}, ${((performance.now() - t0) / 1000).toFixed(0)} s in all\n\n${markdownTable(rows)}\n`);
for (const r of rows) for (const f of r.failures) process.stdout.write(`\n${r.name} ${f}\n`);
if (!ok || values.keep) process.stdout.write(`\nlogs and data kept in ${dir}\n`);
process.exit(ok ? 0 : 1);
