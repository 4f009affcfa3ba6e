/** A runbook too big or with too many steps is refused first, with a clear line, before any parsing work. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunbookError } from '../../lib/runbook/errors.js';
import { loadRunbook, parseRunbook } from '../../lib/runbook/loader.js';
import { MAX_RUNBOOK_BYTES, MAX_RUNBOOK_STEPS } from '../../lib/runbook/validate.js';

const head = ['name: big', 'title: Too big', 'severity: low', 'phases:', '  containment:'];
const steps = (n: number) => Array.from({ length: n }, (_, i) => `    - { id: s${i}, action: lockdown.status }`);

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof RunbookError) return err.problems.map((p) => `${p.file}:${p.line}: ${p.path}: ${p.message}`);
    throw err;
  }
  return [];
}

describe('runbook limits', () => {
  it(`accepts ${MAX_RUNBOOK_STEPS} steps and refuses one more, naming the count and the limit at phases`, () => {
    expect(problems(() => parseRunbook([...head, ...steps(MAX_RUNBOOK_STEPS)].join('\n'), 'big.yaml'))).toEqual([]);
    expect(problems(() => parseRunbook([...head, ...steps(MAX_RUNBOOK_STEPS + 1)].join('\n'), 'big.yaml'))).toEqual([
      `big.yaml:4: phases: ${MAX_RUNBOOK_STEPS + 1} steps; a runbook has at most ${MAX_RUNBOOK_STEPS} (split it, or loop over a list argument inside one step)`,
    ]);
  });

  it('refuses 5,000 bad steps with one problem: the step-by-step validation never runs', () => {
    const bad = Array.from({ length: 5_000 }, (_, i) => `    - { id: s${i}, action: no.such }`);
    const found = problems(() => parseRunbook([...head, ...bad].join('\n'), 'huge.yaml'));
    expect(found).toEqual([`huge.yaml:4: phases: 5000 steps; a runbook has at most ${MAX_RUNBOOK_STEPS} (split it, or loop over a list argument inside one step)`]);
  });

  it('refuses a file over the size limit before reading it, and the same content given directly', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fbt-runbook-limits-'));
    const content = `${head.join('\n')}\n    - { id: a, action: lockdown.status }\n# ${'x'.repeat(MAX_RUNBOOK_BYTES)}\n`;
    writeFileSync(join(dir, 'big.yaml'), content);
    const message = new RegExp(`big\\.yaml:1: : ${Buffer.byteLength(content)} bytes; a runbook has at most ${MAX_RUNBOOK_BYTES} \\(256 KiB\\)`);
    expect(problems(() => loadRunbook(dir, 'big')).join('\n')).toMatch(message);
    expect(problems(() => parseRunbook(content, 'big.yaml')).join('\n')).toMatch(message);
  });
});
