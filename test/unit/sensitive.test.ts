/** Sensitive parameter values shown as fingerprints (lib/runbook/sensitive.ts). */
import { describe, expect, it } from 'vitest';
import { fingerprint, maskSensitive } from '../../lib/runbook/sensitive.js';

describe('maskSensitive', () => {
  it('replaces every occurrence, in nested values, keeping the text around it', () => {
    const v = { a: 'tok-1 and tok-1', b: ['x', { c: 'pre tok-2 post' }], n: 3, t: true, z: null };
    expect(maskSensitive(v, ['tok-1', 'tok-2'])).toEqual({ a: `${fingerprint('tok-1')} and ${fingerprint('tok-1')}`, b: ['x', { c: `pre ${fingerprint('tok-2')} post` }], n: 3, t: true, z: null });
  });
  it('replaces a value that contains another one whole', () => {
    expect(maskSensitive('id abc-123', ['abc', 'abc-123'])).toBe(`id ${fingerprint('abc-123')}`);
  });
  it('leaves everything as it is without sensitive values', () => {
    const v = { a: 'x' };
    expect(maskSensitive(v, [])).toBe(v);
  });
});
