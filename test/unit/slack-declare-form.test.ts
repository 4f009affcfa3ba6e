import { copyFileSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, PROJECT_ROOT, type Config } from '../../lib/config.js';
import { UsageError } from '../../lib/errors.js';
import { declareFormInput, declareRunbook } from '../../slack/declare-form.js';

let dir: string;
let config: Readonly<Config>;
const product = (name: string) => join(PROJECT_ROOT, 'runbooks', `${name}.yaml`);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'firebreak-declare-form-'));
  copyFileSync(product('lockdown'), join(dir, 'lockdown.yaml'));
  config = { ...loadConfig({ env: {}, cwd: '/' }), runbooksDir: dir };
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Rewrite a runbook's title (a different size, so the folder's stamp moves even within one mtime tick). */
function retitle(file: string, title: string): void {
  const text = readFileSync(file, 'utf8');
  writeFileSync(file, text.replace(/^title: .*$/m, `title: ${title}`));
}

describe('the declare form reads the runbooks folder once per version of it', () => {
  it('the same folder gives the same parsed listing and runbook, without parsing again', () => {
    const first = declareFormInput(config).runbooks;
    expect(first.map((r) => r.name)).toEqual(['lockdown']);
    expect(declareFormInput(config).runbooks).toBe(first);
    expect(declareRunbook(config, 'lockdown')).toBe(declareRunbook(config, 'lockdown'));
  });

  it('an edited, added or removed runbook shows at once', () => {
    const before = declareRunbook(config, 'lockdown');
    expect(declareFormInput(config).runbooks.map((r) => r.name)).toEqual(['lockdown']);

    retitle(join(dir, 'lockdown.yaml'), 'Kill switch, edited just now');
    expect(declareFormInput(config).runbooks).toEqual([{ name: 'lockdown', title: 'Kill switch, edited just now' }]);
    const after = declareRunbook(config, 'lockdown');
    expect(after).not.toBe(before);
    expect(after.title).toBe('Kill switch, edited just now');

    copyFileSync(product('ban-lift'), join(dir, 'ban-lift.yaml'));
    expect(declareFormInput(config).runbooks.map((r) => r.name)).toEqual(['ban-lift', 'lockdown']);
    expect(declareRunbook(config, 'ban-lift').name).toBe('ban-lift');

    unlinkSync(join(dir, 'ban-lift.yaml'));
    expect(declareFormInput(config).runbooks.map((r) => r.name)).toEqual(['lockdown']);
    expect(() => declareRunbook(config, 'ban-lift')).toThrow(UsageError);
  });

  it('an unknown or invalid runbook is refused each time, and found once it is fixed', () => {
    expect(() => declareRunbook(config, 'token-leak')).toThrow(/token-leak/);
    expect(() => declareRunbook(config, 'token-leak')).toThrow(UsageError);
    writeFileSync(join(dir, 'token-leak.yaml'), 'name: token-leak\ntitle: broken\n');
    expect(() => declareRunbook(config, 'token-leak')).toThrow(UsageError);
    expect(declareFormInput(config).runbooks.map((r) => r.name)).toEqual(['lockdown']);
    copyFileSync(product('token-leak'), join(dir, 'token-leak.yaml'));
    expect(declareRunbook(config, 'token-leak').name).toBe('token-leak');
    expect(declareFormInput(config).runbooks.map((r) => r.name)).toEqual(['lockdown', 'token-leak']);
  });
});
