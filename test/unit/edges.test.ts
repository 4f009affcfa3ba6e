/**
 * Edges without Temporal: the `edges:` config (its refusals at load), and the edge's own
 * activity on a real deny file — it converges to the set it is given, never goes back to an
 * older generation, refuses what is not a canonical network, and puts the previous file back
 * when nginx's test fails.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createEdgeActivities, packNetworks, readEdgeDenyFile } from '../../activities/edge/index.js';
import { setChecksum } from '../../activities/edge/deny-set.js';
import { loadConfig, type EdgeConfig } from '../../lib/config.js';
import { ConfigError } from '../../lib/errors.js';
import { createLogger } from '../../lib/logger.js';
import type { EdgeApplyInput } from '../../workflows/edge-definitions.js';

const dir = mkdtempSync(join(tmpdir(), 'fbt-edges-'));
let n = 0;
function problems(yaml: string): string[] {
  const file = join(dir, `c${(n += 1)}.yaml`);
  writeFileSync(file, yaml);
  try {
    loadConfig({ file, env: {} });
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}
const TARGETS = 'targets:\n  prod: {}\n  staging: {}\ndefaultTarget: prod\n';

describe('edges: in config', () => {
  it('resolves each edge: its target (default the default target) and its own task queue', () => {
    const file = join(dir, 'ok.yaml');
    writeFileSync(file, `${TARGETS}edges:\n  - { name: edge-a, denyFile: /etc/nginx/fb.conf }\n  - { name: edge-b, target: staging, taskQueue: q-b, denyFile: /etc/nginx/fb.conf, probe: { url: "http://10.0.0.2/" } }\n`);
    const c = loadConfig({ file, env: {} });
    expect(c.edges.map((e) => [e.name, e.target, e.taskQueue, e.reloadCommand, e.probe?.header])).toEqual([
      ['edge-a', 'prod', 'firebreak-edge-edge-a', ['nginx', '-s', 'reload'], undefined],
      ['edge-b', 'staging', 'q-b', ['nginx', '-s', 'reload'], 'X-Real-IP'],
    ]);
    expect(loadConfig({ env: {}, cwd: dir }).edges).toEqual([]);
  });

  it('refuses, naming the key and the file: a relative deny file, a repeated name or queue, an unknown target, a bad name', () => {
    const found = problems(
      `${TARGETS}edges:\n  - { name: edge-a, denyFile: fb.conf }\n  - { name: edge-a, denyFile: /x.conf }\n  - { name: edge-c, taskQueue: firebreak-edge-edge-a, target: nope, denyFile: /y.conf }\n  - { name: Edge_D, denyFile: /z.conf }\n`,
    );
    expect(found.join('\n')).toMatch(/edges\.0\.denyFile: must be an absolute path/);
    expect(found.join('\n')).toMatch(/edges\.3\.name: edge names are lower-case words/);
    // Shape problems come first; the cross-checks once the shapes are right.
    const cross = problems(`${TARGETS}edges:\n  - { name: edge-a, denyFile: /w.conf }\n  - { name: edge-a, denyFile: /x.conf }\n  - { name: edge-c, taskQueue: firebreak-edge-edge-a, target: nope, denyFile: /y.conf }\n`);
    expect(cross).toEqual([
      expect.stringMatching(/^config: edges\[1\]\.name: "edge-a" is also edges\[0\]; each edge host has its own name \(.*\.yaml\)$/),
      expect.stringMatching(/^config: edges\[2\]\.taskQueue: "firebreak-edge-edge-a" is also the queue of edges\[0\]/),
      expect.stringMatching(/^config: edges\[2\]\.target: no target named "nope" \(known: prod, staging\)/),
    ]);
  });
});

describe("the edge's deny file", () => {
  const logger = createLogger({ level: 'silent', pretty: false });
  const edgeFor = (name: string, testCommand = ['true']): EdgeConfig => ({ name, target: 'prod', taskQueue: `q-${name}`, denyFile: join(dir, `${name}.conf`), testCommand, reloadCommand: ['true'] });
  const input = (edge: string, networks: string[], generation: string): EdgeApplyInput => ({ edge, target: 'prod', generation, networks: packNetworks(networks), count: networks.length, sha256: setChecksum(networks) });

  it('converges to the set it is given (never appends), idempotently, and answers with the checksum on disk', async () => {
    const edge = edgeFor('conv');
    writeFileSync(edge.denyFile, 'deny 192.0.2.1/32;\nallow all;\n');
    const { edgeApplyDenySet } = createEdgeActivities({ edge, logger });
    const set = ['198.51.100.0/24', '203.0.113.7/32', '2001:db8::/48'];
    const r = await edgeApplyDenySet(input('conv', set, '100'));
    expect(r).toEqual({ edge: 'conv', generation: '100', sha256: setChecksum(set), lines: 3, changed: true, reloaded: true, stale: false });
    const file = readFileSync(edge.denyFile, 'utf8');
    expect(file.split('\n').filter((l) => !l.startsWith('#'))).toEqual(['deny 198.51.100.0/24;', 'deny 203.0.113.7/32;', 'deny 2001:db8::/48;', '']);
    expect(readEdgeDenyFile(file)).toMatchObject({ generation: 100n, lines: 3, claimed: 3 });
    // Again: nothing to write or reload.
    expect(await edgeApplyDenySet(input('conv', set, '100'))).toMatchObject({ changed: false, reloaded: false, sha256: setChecksum(set) });
    // A newer, smaller set replaces it whole.
    expect(await edgeApplyDenySet(input('conv', ['203.0.113.7/32'], '101'))).toMatchObject({ changed: true, lines: 1, sha256: setChecksum(['203.0.113.7/32']) });
  });

  it('never goes back to an older generation: it answers stale with what it holds', async () => {
    const edge = edgeFor('stale');
    const { edgeApplyDenySet } = createEdgeActivities({ edge, logger });
    await edgeApplyDenySet(input('stale', ['203.0.113.7/32', '203.0.113.8/32'], '200'));
    const before = readFileSync(edge.denyFile, 'utf8');
    expect(await edgeApplyDenySet(input('stale', ['203.0.113.7/32'], '199'))).toMatchObject({ stale: true, generation: '200', lines: 2, changed: false });
    expect(readFileSync(edge.denyFile, 'utf8')).toBe(before);
  });

  it('refuses what is not a canonical network, a set sent to another edge, and a checksum that does not match', async () => {
    const edge = edgeFor('refuse');
    writeFileSync(edge.denyFile, '# before\n');
    const { edgeApplyDenySet } = createEdgeActivities({ edge, logger });
    const evil = ['203.0.113.7/32;\n include /etc/passwd'];
    await expect(edgeApplyDenySet({ ...input('refuse', evil, '1'), count: 2 })).rejects.toThrow(/refused the deny set, nothing was changed: 2 entries are not canonical networks, e\.g\. "203\.0\.113\.7\/32;", " include \/etc\/passwd"/);
    await expect(edgeApplyDenySet(input('refuse', ['203.0.113.7'], '1'))).rejects.toThrow(/not canonical networks, e\.g\. "203\.0\.113\.7"/);
    await expect(edgeApplyDenySet(input('refuse', ['0.0.0.0/0'], '1'))).rejects.toThrow(/1 entries may never be banned, e\.g\. entry \[0\]: 0\.0\.0\.0\/0 overlaps 127\.0\.0\.0\/8 \(loopback\), which is never banned/);
    await expect(edgeApplyDenySet(input('other', ['203.0.113.7/32'], '1'))).rejects.toThrow(/edge refuse was sent the deny set of edge other/);
    await expect(edgeApplyDenySet({ ...input('refuse', ['203.0.113.7/32'], '1'), sha256: setChecksum(['203.0.113.8/32']) })).rejects.toThrow(/does not match the checksum/);
    expect(readFileSync(edge.denyFile, 'utf8')).toBe('# before\n');
  });

  it("puts the previous file back when nginx's test fails", async () => {
    const edge = edgeFor('broken', ['false']);
    writeFileSync(edge.denyFile, '# previous\n');
    const { edgeApplyDenySet } = createEdgeActivities({ edge, logger });
    await expect(edgeApplyDenySet(input('broken', ['203.0.113.7/32'], '5'))).rejects.toThrow(/edge broken: nginx configuration test failed \(false\); the previous deny file was put back: exit 1/);
    expect(readFileSync(edge.denyFile, 'utf8')).toBe('# previous\n');
  });
});
