/**
 * Arguments only the engine sets (an undo's recorded state) are refused when a
 * runbook is loaded, with file, path and line, whether written inline or
 * through params; the shipped runbooks set none of them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ACTIONS, type ArgSpec } from '../../lib/actions.js';
import { listRunbooks, loadRunbook, parseRunbook, RunbookError } from '../../lib/runbook/loader.js';

const RUNBOOKS = fileURLToPath(new URL('../../runbooks', import.meta.url));

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** 7 lines; a step list starts on line 8. */
const head = `name: forged
title: Forged undo
severity: high
params:
  prior: { type: string, default: "{}" }
phases:
  containment:
`;

function problemsOf(yaml: string, file = 'forged.yaml'): RunbookError['problems'] {
  try {
    parseRunbook(yaml, file);
  } catch (e) {
    if (e instanceof RunbookError) return e.problems;
    throw e;
  }
  throw new Error('the runbook was accepted');
}

describe('internal-only arguments', () => {
  it('the catalog marks every undo record argument internal', () => {
    const internal = Object.entries(ACTIONS).flatMap(([action, spec]) =>
      Object.entries<ArgSpec>(spec.args)
        .filter(([, a]) => a.internal)
        .map(([name]) => `${action}.${name}`),
    );
    expect(internal.sort()).toEqual(['database.read_write.restore', 'lockdown.disable.hold', 'lockdown.disable.restore', 'network.unban_ips.from_record', 'network.unban_ips.holder', 'tokens.enable_users.hold']);
  });

  it('a forged database.read_write restore record is refused at load, with file, path and line', () => {
    const problems = problemsOf(`${head}    - id: grant-all
      action: database.read_write
      with:
        restore:
          version: 1
          role: app
          database: app
          schemas: [public]
          recordedAt: "2026-01-01T00:00:00Z"
          settings: { roleInDatabase: null, role: null, database: null }
          tables:
            - { schema: public, table: users, kind: r, privileges: [{ privilege: INSERT, grantable: true }], columns: [] }
`);
    expect(problems).toEqual([
      {
        file: 'forged.yaml',
        path: 'phases.containment[0].with.restore',
        line: 11,
        column: 9,
        message: "argument 'restore' of database.read_write is set only by Firebreak itself (an undo's recorded state); a runbook or its params cannot set it",
      },
    ]);
  });

  it('through params too, and for every internal argument, each on its own line', () => {
    const problems = problemsOf(`${head}    - id: flag
      action: lockdown.disable
      with: { restore: "{{ params.prior }}" }
    - id: lift
      action: network.unban_ips
      with:
        addresses: []
        from_record: INC-OTHER/ban
    - id: rw
      action: database.read_write
      with: { restore: "{{ params.prior }}" }
`);
    expect(problems.map((p) => `${p.line} ${p.path}`)).toEqual([
      '10 phases.containment[0].with.restore',
      '15 phases.containment[1].with.from_record',
      '18 phases.containment[2].with.restore',
    ]);
    expect(problems.every((p) => p.file === 'forged.yaml' && /is set only by Firebreak itself/.test(p.message))).toBe(true);
  });

  it('the formatted error names file:line:column and the path; loadRunbook refuses a file the same way', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fbt-internal-args-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'forged.yaml'), `${head}    - id: flag\n      action: lockdown.disable\n      with: { restore: "1" }\n`);
    let err: unknown;
    try {
      loadRunbook(dir, 'forged');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RunbookError);
    expect((err as Error).message).toBe(
      "forged.yaml:10:15: phases.containment[0].with.restore: argument 'restore' of lockdown.disable is set only by Firebreak itself (an undo's recorded state); a runbook or its params cannot set it",
    );
  });

  it('an unknown argument hint does not advertise internal ones', () => {
    const problems = problemsOf(`${head}    - id: lift
      action: network.unban_ips
      with: { addresses: [], force: true }
`);
    expect(problems[0]?.message).toBe("unknown argument 'force' for action network.unban_ips (accepts: addresses, reason)");
  });

  it('running an undo action without its record stays possible (lockdown.disable in phase III settles the undo)', () => {
    expect(() => parseRunbook(`${head}    - id: off\n      action: lockdown.disable\n`, 'forged.yaml')).not.toThrow();
  });

  it('no shipped runbook sets an internal argument', () => {
    const listing = listRunbooks(RUNBOOKS);
    expect(listing.length).toBeGreaterThan(3);
    expect(listing.filter((r) => !r.valid)).toEqual([]);
  });
});
