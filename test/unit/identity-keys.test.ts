import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, symlinkSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createKeyPair,
  defaultConfigDir,
  keyFilePath,
  KeyFileError,
  loadKeyFile,
  loadKeyPair,
  newNonce,
  newStatement,
  publicLine,
  signStatement,
} from '../../lib/identity/keys.js';
import { signEd25519, verifyEd25519 } from '../../lib/identity/ed25519.js';
import { parsePublicLine, type Registry } from '../../lib/identity/registry.js';
import { verifyDecision } from '../../lib/identity/verify.js';
import { aliceApproves, INCIDENT, HASH } from '../fixtures/identity-people.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'firebreak-keys-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const modeOf = (path: string): number => statSync(path).mode & 0o777;

async function refusal(p: Promise<unknown>): Promise<KeyFileError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KeyFileError);
  return err as KeyFileError;
}

describe('the config folder', () => {
  it('is $XDG_CONFIG_HOME when absolute, else ~/.config', () => {
    expect(defaultConfigDir({ XDG_CONFIG_HOME: '/srv/cfg' })).toBe('/srv/cfg');
    expect(defaultConfigDir({ XDG_CONFIG_HOME: 'relative/cfg' })).toBe(join(homedir(), '.config'));
    expect(defaultConfigDir({ XDG_CONFIG_HOME: '' })).toBe(join(homedir(), '.config'));
    expect(defaultConfigDir({})).toBe(join(homedir(), '.config'));
    expect(keyFilePath('/srv/cfg')).toBe('/srv/cfg/firebreak/ed25519.key');
  });
});

describe('createKeyPair', () => {
  it('writes the private key 0600 in a 0700 folder, creating the config folder', async () => {
    const config = join(dir, 'home', '.config');
    const key = await createKeyPair(config);
    expect(key.path).toBe(join(config, 'firebreak', 'ed25519.key'));
    expect(modeOf(key.path)).toBe(0o600);
    expect(modeOf(join(config, 'firebreak'))).toBe(0o700);
    expect(modeOf(config)).toBe(0o700);
    expect(readFileSync(key.path, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n$/);
    expect(readdirSync(join(config, 'firebreak'))).toEqual(['ed25519.key']);
  });

  it('tightens an existing firebreak folder to 0700', async () => {
    mkdirSync(join(dir, 'firebreak'), { mode: 0o755 });
    chmodSync(join(dir, 'firebreak'), 0o755);
    await createKeyPair(dir);
    expect(modeOf(join(dir, 'firebreak'))).toBe(0o700);
  });

  it('refuses to overwrite an existing key, leaving it and no temporary file behind', async () => {
    const first = await createKeyPair(dir);
    const before = readFileSync(first.path, 'utf8');
    const err = await refusal(createKeyPair(dir));
    expect(err.problem).toBe('exists');
    expect(err.message).toMatch(/already exists: keeping it \(pass --force/);
    expect(readFileSync(first.path, 'utf8')).toBe(before);
    expect(readdirSync(join(dir, 'firebreak'))).toEqual(['ed25519.key']);
    expect((await loadKeyPair(dir)).keyId).toBe(first.keyId);
  });

  it('replaces the key with force, still 0600', async () => {
    const first = await createKeyPair(dir);
    const second = await createKeyPair(dir, { force: true });
    expect(second.keyId).not.toBe(first.keyId);
    expect(modeOf(second.path)).toBe(0o600);
    expect((await loadKeyPair(dir)).keyId).toBe(second.keyId);
    expect(readdirSync(join(dir, 'firebreak'))).toEqual(['ed25519.key']);
  });

  it('writes a standard PKCS#8 Ed25519 key (OpenSSL reads it and derives the same public key)', async () => {
    const key = await createKeyPair(dir);
    const spki = execFileSync('openssl', ['pkey', '-in', key.path, '-pubout', '-outform', 'DER']);
    expect(new Uint8Array(spki.subarray(-32))).toEqual(key.publicKey);
  });
});

describe('loadKeyPair', () => {
  it('round trip: the loaded key signs statements the registry line verifies', async () => {
    const created = await createKeyPair(dir);
    const key = await loadKeyPair(dir);
    expect(key.keyId).toBe(created.keyId);
    expect(key.publicKey).toEqual(created.publicKey);

    const line = parsePublicLine(publicLine(key, 'alice'));
    expect(line.ok).toBe(true);
    if (!line.ok) return;
    const registry: Registry = { responders: [{ name: 'alice', keys: [line.value.key] }], services: [] };
    const now = new Date('2025-03-04T10:00:00.000Z');
    const signed = newStatement({ kind: 'approve', incidentId: INCIDENT, gate: 'lockdown', argsHash: HASH, responder: 'alice', frontDoor: 'cli' }, key, now);
    const verdict = verifyDecision(signed, {
      registry,
      expect: { kind: 'approve', incidentId: INCIDENT, gate: 'lockdown', argsHash: HASH },
      now: now.toISOString(),
      seenNonces: new Set(),
      mode: 'live',
      drillTarget: false,
    });
    expect(verdict).toMatchObject({ ok: true, responder: 'alice', keyId: key.keyId, via: 'personal' });
  });

  it('refuses a missing key, naming the command that makes one', async () => {
    const err = await refusal(loadKeyPair(dir));
    expect(err.problem).toBe('missing');
    expect(err.message).toContain('firebreak keys init');
  });

  it('refuses a key file others can read', async () => {
    const key = await createKeyPair(dir);
    for (const mode of [0o644, 0o640, 0o604]) {
      chmodSync(key.path, mode);
      const err = await refusal(loadKeyPair(dir));
      expect(err.problem).toBe('unsafe-permissions');
      expect(err.message).toContain('chmod 600');
    }
  });

  it("refuses a key file or folder that is another user's", async () => {
    await createKeyPair(dir);
    const uid = statSync(keyFilePath(dir)).uid;
    const spy = vi.spyOn(process as { getuid: () => number }, 'getuid').mockReturnValue(uid + 1);
    try {
      expect((await refusal(loadKeyPair(dir))).message).toMatch(/ed25519\.key belongs to another user$/);
      expect((await refusal(createKeyPair(dir, { force: true }))).message).toMatch(/firebreak belongs to another user$/);
    } finally {
      spy.mockRestore();
    }
  });

  it('refuses a key file that is a symbolic link', async () => {
    const real = await createKeyPair(join(dir, 'elsewhere'));
    mkdirSync(join(dir, 'firebreak'), { mode: 0o700 });
    symlinkSync(real.path, keyFilePath(dir));
    expect((await refusal(loadKeyPair(dir))).problem).toBe('invalid');
  });

  it('refuses a file that is not an Ed25519 private key, without quoting it', async () => {
    mkdirSync(join(dir, 'firebreak'), { mode: 0o700 });
    const path = keyFilePath(dir);
    writeFileSync(path, 'SECRET-CONTENT-THAT-MUST-NOT-LEAK\n', { mode: 0o600 });
    const garbage = await refusal(loadKeyPair(dir));
    expect(garbage.problem).toBe('invalid');
    expect(garbage.message).not.toContain('SECRET-CONTENT');

    const { privateKey } = generateKeyPairSync('x25519');
    writeFileSync(path, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    expect((await refusal(loadKeyPair(dir))).message).toMatch(/is not an Ed25519 key$/);
  });
});

describe('the private key stays private', () => {
  it('a key pair holds no secret a log line could print', async () => {
    const key = await createKeyPair(dir);
    const pem = readFileSync(key.path, 'utf8');
    const body = pem.split('\n').slice(1, -2).join('');
    const seed = Buffer.from(body, 'base64').subarray(-32);
    const printed = [JSON.stringify(key), String(key), inspect(key, { showHidden: true, depth: 5 }), publicLine(key, 'alice'), Object.keys(key).join(',')];
    for (const text of printed) {
      expect(text).not.toContain(body);
      expect(text).not.toContain(seed.toString('base64'));
      expect(text).not.toContain(seed.toString('base64url'));
      expect(text).not.toContain(seed.toString('hex'));
    }
    expect(String(key)).toBe(`Ed25519 key ${key.keyId}`);
  });
});

describe('signing (node:crypto)', () => {
  // RFC 8032 section 7.1, TEST 1 (empty message).
  const RFC_SEED = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
  const RFC_PUBLIC = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
  const RFC_SIGNATURE = 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';

  /** A PKCS#8 PEM key file holding `seed` (the DER prefix of an Ed25519 private key, then the 32 bytes). */
  function keyFileOf(seed: Buffer): string {
    const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
    const path = join(dir, 'rfc.key');
    writeFileSync(path, `-----BEGIN PRIVATE KEY-----\n${der.toString('base64')}\n-----END PRIVATE KEY-----\n`, { mode: 0o600 });
    return path;
  }

  it('signs the RFC 8032 test vector exactly, and derives its public key', async () => {
    const key = await loadKeyFile(keyFileOf(Buffer.from(RFC_SEED, 'hex')));
    expect(Buffer.from(key.publicKey).toString('hex')).toBe(RFC_PUBLIC);
    expect(Buffer.from(key.sign(new Uint8Array(0))).toString('hex')).toBe(RFC_SIGNATURE);
  });

  it('gives byte for byte the signature of the pure-JS signer, which strict verification accepts', async () => {
    const seed = randomBytes(32);
    const key = await loadKeyFile(keyFileOf(seed));
    for (const size of [0, 1, 64, 333, 4096]) {
      const message = randomBytes(size);
      const signature = key.sign(message);
      expect(signature).toBeInstanceOf(Uint8Array);
      expect(Buffer.from(signature).toString('hex')).toBe(Buffer.from(signEd25519(message, seed)).toString('hex'));
      expect(verifyEd25519(signature, message, key.publicKey)).toBe(true);
      expect(verifyEd25519(signature, randomBytes(size + 1), key.publicKey)).toBe(false);
    }
  });
});

describe('signStatement', () => {
  it('refuses a malformed statement and one naming another key', async () => {
    const key = await createKeyPair(dir);
    expect(() => signStatement({ ...aliceApproves({ keyId: key.keyId }), responder: 'alice smith' }, key)).toThrow(/refusing to sign a malformed statement: responder/);
    expect(() => signStatement(aliceApproves(), key)).toThrow(/statement names key ed25519:fcf4b546e4ffd226, but the signing key is/);
  });

  it('nonces: 128 random bits, base64url, never repeated', () => {
    const nonces = new Set(Array.from({ length: 100 }, () => newNonce()));
    expect(nonces.size).toBe(100);
    for (const n of nonces) expect(n).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });
});
