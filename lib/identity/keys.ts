/**
 * A person's signing key on disk, and signing statements with it. Node side only (CLI,
 * demo): workflow code never imports this file.
 *
 * The private key is a PKCS#8 PEM file (what `openssl pkey` reads) at
 * `<config folder>/firebreak/ed25519.key`, mode 0600 in a 0700 folder. The secret never
 * leaves this module: a KeyPair holds it only inside its `sign` closure, and no message
 * here quotes the file.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign as nodeSign, type KeyObject } from 'node:crypto';
import { chmod, link, lstat, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { writeFileAtomic } from '../atomic-file.js';
import { OperationError } from '../errors.js';
import { encodeBase64 } from './base64.js';
import { PUBLIC_KEY_BYTES } from './ed25519.js';
import { keyIdOf, publicLine as registryLine } from './registry.js';
import { parseStatement, statementBytes, type Statement } from './statement.js';
import type { SignedStatement } from './verify.js';

export type KeyFileProblem = 'exists' | 'missing' | 'unsafe-permissions' | 'invalid';

export class KeyFileError extends OperationError {
  override name = 'KeyFileError';
  constructor(
    readonly problem: KeyFileProblem,
    message: string,
  ) {
    super(message);
  }
}

export interface KeyPair {
  readonly path: string;
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  readonly keyId: string;
  sign(message: Uint8Array): Uint8Array;
  /** `Ed25519 key <id>`: safe to print. */
  toString(): string;
}

/** `$XDG_CONFIG_HOME` when set to an absolute path (as the XDG spec says), else `~/.config`. */
export function defaultConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  return xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.config');
}

export function keyFilePath(configDir: string = defaultConfigDir()): string {
  return join(configDir, 'firebreak', 'ed25519.key');
}

/**
 * A new key pair written to `<configDir>/firebreak/ed25519.key`. Refuses to replace an
 * existing key unless `force` (replacing one orphans every registry entry made for it).
 */
export async function createKeyPair(configDir: string = defaultConfigDir(), opts: { force?: boolean } = {}): Promise<KeyPair> {
  const path = keyFilePath(configDir);
  const folder = dirname(path);
  await mkdir(configDir, { recursive: true, mode: 0o700 });
  await mkdir(folder, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  const info = await lstat(folder);
  if (!info.isDirectory()) throw new KeyFileError('unsafe-permissions', `${folder} is not a folder`);
  if (!ownedByMe(info.uid)) throw new KeyFileError('unsafe-permissions', `${folder} belongs to another user`);
  await chmod(folder, 0o700);

  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  if (opts.force) await writeFileAtomic(path, pem, { mode: 0o600 });
  else await writeNew(path, pem);
  return keyPairOf(path, privateKey);
}

/** A key pair held only in memory (tests, a demo's throwaway people): nothing is written. */
export function ephemeralKeyPair(): KeyPair {
  return keyPairOf('(memory)', generateKeyPairSync('ed25519').privateKey);
}

/** The key pair at `<configDir>/firebreak/ed25519.key`; refuses a file others can read. */
export async function loadKeyPair(configDir: string = defaultConfigDir()): Promise<KeyPair> {
  return loadKeyFile(keyFilePath(configDir));
}

/** The key pair in the PKCS#8 PEM file at `path` (a service's key, e.g. the Slack app's); same checks as a person's. */
export async function loadKeyFile(path: string): Promise<KeyPair> {
  const info = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new KeyFileError('missing', `no signing key at ${path}: create one with \`firebreak keys init\``);
    throw err;
  });
  if (!info.isFile()) throw new KeyFileError('invalid', `${path} is not a regular file`);
  if (!ownedByMe(info.uid)) throw new KeyFileError('unsafe-permissions', `${path} belongs to another user`);
  if ((info.mode & 0o077) !== 0) {
    throw new KeyFileError('unsafe-permissions', `${path} can be read by others (mode ${(info.mode & 0o777).toString(8)}): run \`chmod 600 ${path}\`, and replace the key if anyone may have copied it`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(await readFile(path));
  } catch {
    throw new KeyFileError('invalid', `${path} is not a PKCS#8 PEM private key`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new KeyFileError('invalid', `${path} is not an Ed25519 key`);
  return keyPairOf(path, key);
}

/** The line to paste into the worker's responders registry for `name`. */
export function publicLine(key: KeyPair, name: string): string {
  return registryLine(key.publicKey, name);
}

/** 128 random bits, base64url: a statement's nonce. */
export function newNonce(): string {
  return encodeBase64(randomBytes(16), 'url');
}

/** A statement signed by `key` now: fills in `v`, `keyId`, `at` and a fresh nonce. */
export function newStatement(fields: Omit<Statement, 'v' | 'keyId' | 'at' | 'nonce'>, key: KeyPair, now: Date = new Date()): SignedStatement {
  return signStatement({ ...fields, v: 1, keyId: key.keyId, at: now.toISOString(), nonce: newNonce() }, key);
}

/** Signs `st` after checking it as a verifier will; refuses a statement naming another key. */
export function signStatement(st: Statement, key: KeyPair): SignedStatement {
  const parsed = parseStatement(st);
  if (!parsed.ok) throw new TypeError(`refusing to sign a malformed statement: ${parsed.problems.join('; ')}`);
  if (parsed.value.keyId !== key.keyId) throw new TypeError(`statement names key ${parsed.value.keyId}, but the signing key is ${key.keyId}`);
  return { statement: parsed.value, signature: encodeBase64(key.sign(statementBytes(parsed.value)), 'url') };
}

/**
 * Signs with node:crypto (OpenSSL), not the pure-JS signer of ed25519.ts: Ed25519 is
 * deterministic, so the signature is the same bytes, at about a tenth of the CPU — which a
 * front door answering 50 requests at once on one event loop needs. The workflow sandbox,
 * which has no node:crypto, only verifies.
 */
function keyPairOf(path: string, key: KeyObject): KeyPair {
  if (key.asymmetricKeyType !== 'ed25519' || key.type !== 'private') throw new KeyFileError('invalid', `${path} does not hold an Ed25519 private key`);
  const x = createPublicKey(key).export({ format: 'jwk' }).x;
  const publicKey = typeof x === 'string' ? new Uint8Array(Buffer.from(x, 'base64url')) : undefined;
  if (!publicKey || publicKey.length !== PUBLIC_KEY_BYTES) throw new KeyFileError('invalid', `${path} does not hold an Ed25519 private key`);
  const keyId = keyIdOf(publicKey);
  return Object.freeze({
    path,
    publicKey,
    keyId,
    sign: (message: Uint8Array) => new Uint8Array(nodeSign(null, message, key)),
    toString: () => `Ed25519 key ${keyId}`,
  });
}

/** Write `content` at `path` only if nothing is there: a linked temporary file, so the check and the write are one step. */
async function writeNew(path: string, content: string): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await open(tmp, 'wx', 0o600);
  try {
    try {
      await fh.chmod(0o600);
      await fh.writeFile(content);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await link(tmp, path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') throw new KeyFileError('exists', `${path} already exists: keeping it (pass --force to replace it and re-register the new public key)`);
      throw err;
    });
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  const dir = await open(dirname(path), 'r');
  await dir.sync().finally(() => dir.close());
}

function ownedByMe(uid: number): boolean {
  const me = process.getuid?.();
  return me === undefined || uid === me;
}
