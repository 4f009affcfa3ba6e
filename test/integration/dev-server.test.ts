import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import proto from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureSearchAttributes, freePort, startDevServer } from '../../lib/dev-server.js';
import { SEARCH_ATTRIBUTES } from '../../lib/search-attributes.js';
import { TemporalBinaryNotFound, findTemporalCli, findTestServer } from '../../lib/temporal-bin.js';

const { IndexedValueType } = proto.temporal.api.enums.v1;

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

describe('shared dev server (global setup)', () => {
  const address = inject('temporalAddress');
  let connection: Connection;

  beforeAll(async () => {
    connection = await Connection.connect({ address });
  });
  afterAll(async () => {
    await connection?.close();
  });

  it('is exposed to tests and to child processes', () => {
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(process.env.FIREBREAK_TEST_TEMPORAL_ADDRESS).toBe(address);
  });

  it('answers getSystemInfo', async () => {
    const info = await connection.workflowService.getSystemInfo({});
    expect(info.serverVersion).toBeTruthy();
  });

  it('has every Firebreak search attribute registered with its type', async () => {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
    for (const name of Object.keys(SEARCH_ATTRIBUTES)) {
      expect(customAttributes[name], name).toBe(IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD);
    }
    // Idempotent: nothing left to add.
    expect(await ensureSearchAttributes(connection, 'default')).toEqual([]);
  });
});

describe('startDevServer', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fbt-dev-server-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts on a free port with a db file, stops, frees the port, and restarts from the same file', async () => {
    const dbFile = join(dir, 'temporal.db');
    const port = await freePort();
    const logFile = join(dir, 'temporal.log');
    const server = await startDevServer({ port, uiPort: false, dbFile, logFile, logLevel: 'error' });
    let stopped = false;
    try {
      expect(server.address).toBe(`127.0.0.1:${port}`);
      expect(server.uiUrl).toBeUndefined();
      expect(server.pid).toBeGreaterThan(0);
      expect(existsSync(dbFile)).toBe(true);
      // Incident histories and the server log are the owner's only, journal files included.
      const modes = readdirSync(dir).map((f) => [f, (statSync(join(dir, f)).mode & 0o777).toString(8)]);
      expect(modes.filter(([f]) => f?.startsWith('temporal.'))).toContainEqual(['temporal.db', '600']);
      expect(modes.filter(([, m]) => m !== '600')).toEqual([]);

      // A namespace registered at run time gets no custom search attributes
      // from the start-dev flags: ensureSearchAttributes must add them.
      const connection = await Connection.connect({ address: server.address });
      try {
        await connection.workflowService.registerNamespace({
          namespace: 'fbt-added',
          workflowExecutionRetentionPeriod: msToTs('1 day'),
        });
        let added: string[] | undefined;
        for (let i = 0; added === undefined; i++) {
          try {
            added = await ensureSearchAttributes(connection, 'fbt-added');
          } catch (err) {
            if (i > 100) throw err; // ~10 s for the namespace cache to see it
            await sleep(100);
          }
        }
        expect(added.sort()).toEqual(Object.keys(SEARCH_ATTRIBUTES).sort());
        expect(await ensureSearchAttributes(connection, 'fbt-added')).toEqual([]);
      } finally {
        await connection.close();
      }

      await server.stop();
      stopped = true;
      expect(server.process.exitCode !== null || server.process.signalCode !== null).toBe(true);
      expect(await portIsFree(port)).toBe(true);
      await server.stop(); // second call is a no-op
    } finally {
      if (!stopped) await server.stop();
    }

    // Same db file again: the --search-attribute flags must not clash with
    // what is already stored, and the run-time namespace must have survived.
    const again = await startDevServer({ uiPort: false, dbFile, namespace: 'fbt-added', logLevel: 'error' });
    try {
      const connection = await Connection.connect({ address: again.address });
      try {
        const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'fbt-added' });
        expect(Object.keys(customAttributes)).toEqual(expect.arrayContaining(Object.keys(SEARCH_ATTRIBUTES)));
      } finally {
        await connection.close();
      }
    } finally {
      await again.stop();
    }
  });

  it('rejects with the server stderr when it exits before it is ready', async () => {
    await expect(startDevServer({ uiPort: false, dbFile: join(dir, 'missing', 'sub', 'x.db') })).rejects.toThrow(
      /exited with code \d+ before it was ready:[\s\S]*no such file or directory/,
    );
  });

  it('refuses a port that is already taken instead of talking to its owner', async () => {
    const [, port] = inject('temporalAddress').split(':');
    await expect(startDevServer({ port: Number(port), uiPort: false })).rejects.toThrow(/already in use/);
  });
});

describe('findTemporalCli / findTestServer', () => {
  let dir: string;
  let fakeCli: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fbt-temporal-bin-'));
    fakeCli = join(dir, 'temporal');
    writeFileSync(fakeCli, '#!/bin/sh\nexit 0\n');
    chmodSync(fakeCli, 0o755);
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('honours TEMPORAL_CLI_PATH in process.env', () => {
    const saved = process.env.TEMPORAL_CLI_PATH;
    process.env.TEMPORAL_CLI_PATH = fakeCli;
    try {
      expect(findTemporalCli()).toBe(fakeCli);
    } finally {
      if (saved === undefined) delete process.env.TEMPORAL_CLI_PATH;
      else process.env.TEMPORAL_CLI_PATH = saved;
    }
  });

  it('looks on PATH next, then in .tools/temporal/bin', () => {
    expect(findTemporalCli({ env: { PATH: dir } })).toBe(fakeCli);
    const local = findTemporalCli({ env: { PATH: '' } });
    expect(local).toMatch(/\.tools\/temporal\/bin\/temporal$/);
    expect(findTestServer({ env: { PATH: '' } })).toMatch(/\.tools\/temporal\/bin\/temporal-test-server$/);
  });

  it('says how to fix it when nothing is found', () => {
    const opts = { env: { PATH: '' }, projectRoot: dir };
    expect(() => findTemporalCli(opts)).toThrow(TemporalBinaryNotFound);
    expect(() => findTemporalCli(opts)).toThrow(/run `npm run setup`, or set TEMPORAL_CLI_PATH/);
    expect(() => findTestServer(opts)).toThrow(/run `npm run setup`, or set TEMPORAL_TEST_SERVER_PATH/);
    try {
      findTemporalCli(opts);
    } catch (err) {
      expect((err as TemporalBinaryNotFound).exitCode).toBe(2);
    }
  });

  it('reports a TEMPORAL_CLI_PATH that is not executable instead of ignoring it', () => {
    expect(() => findTemporalCli({ env: { TEMPORAL_CLI_PATH: join(dir, 'nope'), PATH: dir } })).toThrow(
      /TEMPORAL_CLI_PATH=.*nope is not an executable file/,
    );
  });
});
