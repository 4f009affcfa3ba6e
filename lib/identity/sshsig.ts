/**
 * SSHSIG (OpenSSH's PROTOCOL.sshsig, what `ssh-keygen -Y sign` and git's SSH signing
 * write), for ssh-ed25519 keys only, parsed strictly. Pure: runs in the workflow sandbox.
 *
 * The key signs `"SSHSIG" ‖ string namespace ‖ string reserved ‖ string hash ‖ string H(message)`:
 * the namespace (`firebreak`) keeps a git commit signature or any other SSHSIG from
 * counting as a statement, and the magic keeps SSHSIG apart from raw statement signatures
 * (which start with STATEMENT_DOMAIN), so one key may safely sign both ways.
 */
import { sha256, sha512 } from '@noble/hashes/sha2';
import { utf8ToBytes } from '@noble/hashes/utils';
import { decodeBase64, encodeBase64 } from './base64.js';
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES, verifyEd25519 } from './ed25519.js';

export const SSHSIG_NAMESPACE = 'firebreak';
export const SSHSIG_HASHES = ['sha512', 'sha256'] as const;
export type SshSigHash = (typeof SSHSIG_HASHES)[number];

const MAGIC = utf8ToBytes('SSHSIG');
const KEY_TYPE = 'ssh-ed25519';
const ARMOR_BEGIN = '-----BEGIN SSH SIGNATURE-----';
const ARMOR_END = '-----END SSH SIGNATURE-----';

export interface SshSig {
  publicKey: Uint8Array;
  namespace: string;
  hash: SshSigHash;
  /** The raw 64-byte Ed25519 signature. */
  signature: Uint8Array;
}

/** What the key actually signs for `message` (give this to ssh-agent). */
export function sshsigSignedData(message: Uint8Array, namespace: string = SSHSIG_NAMESPACE, hash: SshSigHash = 'sha512'): Uint8Array {
  const digest = hash === 'sha512' ? sha512(message) : sha256(message);
  return concat(MAGIC, sshString(utf8ToBytes(namespace)), sshString(new Uint8Array(0)), sshString(utf8ToBytes(hash)), sshString(digest));
}

/** The SSHSIG blob (what the armor wraps). */
export function encodeSshSig(sig: SshSig): Uint8Array {
  const version = new Uint8Array([0, 0, 0, 1]);
  return concat(
    MAGIC,
    version,
    sshString(sshPublicKeyBlob(sig.publicKey)),
    sshString(utf8ToBytes(sig.namespace)),
    sshString(new Uint8Array(0)),
    sshString(utf8ToBytes(sig.hash)),
    sshString(concat(sshString(utf8ToBytes(KEY_TYPE)), sshString(sig.signature))),
  );
}

/** An SSHSIG blob, or undefined unless it is version 1, ssh-ed25519, exact lengths and nothing after. */
export function parseSshSig(blob: Uint8Array): SshSig | undefined {
  const r = new Reader(blob);
  if (!equal(r.bytes(MAGIC.length), MAGIC)) return undefined;
  const version = r.uint32();
  const keyBlob = r.string();
  const namespace = r.text();
  const reserved = r.string();
  const hash = r.text();
  const sigBlob = r.string();
  if (!r.done() || version !== 1 || !keyBlob || namespace === undefined || !reserved || reserved.length !== 0 || !sigBlob) return undefined;
  const algorithm = SSHSIG_HASHES.find((h) => h === hash);
  const publicKey = parseSshPublicKeyBlob(keyBlob);
  const s = new Reader(sigBlob);
  const sigType = s.text();
  const signature = s.string();
  if (!algorithm || !publicKey || !s.done() || sigType !== KEY_TYPE || signature?.length !== SIGNATURE_BYTES) return undefined;
  return { publicKey, namespace, hash: algorithm, signature };
}

/**
 * True only for an SSHSIG blob by exactly `publicKey`, in `namespace`, over `message`,
 * whose Ed25519 signature passes the strict checks of verifyEd25519.
 */
export function verifySshSig(blob: Uint8Array, message: Uint8Array, publicKey: Uint8Array, namespace: string = SSHSIG_NAMESPACE): boolean {
  const sig = parseSshSig(blob);
  if (!sig || sig.namespace !== namespace || !equal(sig.publicKey, publicKey)) return false;
  return verifyEd25519(sig.signature, sshsigSignedData(message, namespace, sig.hash), publicKey);
}

/** `string "ssh-ed25519" ‖ string key`: the wire form of a public key (base64 in `authorized_keys`). */
export function sshPublicKeyBlob(publicKey: Uint8Array): Uint8Array {
  return concat(sshString(utf8ToBytes(KEY_TYPE)), sshString(publicKey));
}

export function parseSshPublicKeyBlob(blob: Uint8Array): Uint8Array | undefined {
  const r = new Reader(blob);
  const type = r.text();
  const key = r.string();
  return r.done() && type === KEY_TYPE && key?.length === PUBLIC_KEY_BYTES ? key : undefined;
}

/** The raw key of an OpenSSH public key line (`ssh-ed25519 AAAA… comment`). */
export function parseSshPublicKeyLine(line: string): { publicKey: Uint8Array; comment: string } | undefined {
  const [type, b64, ...comment] = line.trim().split(/\s+/);
  if (type !== KEY_TYPE || b64 === undefined) return undefined;
  const blob = decodeBase64(b64);
  const publicKey = blob && parseSshPublicKeyBlob(blob);
  return publicKey ? { publicKey, comment: comment.join(' ') } : undefined;
}

/** The armored text `ssh-keygen -Y sign` writes (base64 in lines of 70). */
export function armorSshSig(blob: Uint8Array): string {
  const b64 = encodeBase64(blob);
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 70) lines.push(b64.slice(i, i + 70));
  return `${ARMOR_BEGIN}\n${lines.join('\n')}\n${ARMOR_END}\n`;
}

export function dearmorSshSig(text: string): Uint8Array | undefined {
  const trimmed = text.trim();
  if (!trimmed.startsWith(ARMOR_BEGIN) || !trimmed.endsWith(ARMOR_END) || trimmed.length > 16_384) return undefined;
  const body = trimmed.slice(ARMOR_BEGIN.length, -ARMOR_END.length).replace(/\r?\n/g, '');
  return decodeBase64(body);
}

/** SSH wire `string`: a big-endian uint32 length, then the bytes. */
export function sshString(bytes: Uint8Array): Uint8Array {
  const n = bytes.length;
  return concat(new Uint8Array([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]), bytes);
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function equal(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Reads SSH wire fields; any overrun poisons the reader (every later read is undefined). */
export class Reader {
  private at = 0;
  private bad = false;
  constructor(private readonly buf: Uint8Array) {}

  bytes(n: number): Uint8Array | undefined {
    if (this.bad || n < 0 || this.at + n > this.buf.length) {
      this.bad = true;
      return undefined;
    }
    const out = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  byte(): number | undefined {
    return this.bytes(1)?.[0];
  }

  uint32(): number | undefined {
    const b = this.bytes(4);
    return b && (((b[0] as number) << 24) >>> 0) + ((b[1] as number) << 16) + ((b[2] as number) << 8) + (b[3] as number);
  }

  string(): Uint8Array | undefined {
    const n = this.uint32();
    return n === undefined ? undefined : this.bytes(n);
  }

  /** A string field that must be short printable ASCII (names, namespaces). */
  text(): string | undefined {
    const b = this.string();
    if (!b || b.length > 256 || b.some((c) => c < 0x20 || c > 0x7e)) {
      this.bad = true;
      return undefined;
    }
    return String.fromCharCode(...b);
  }

  /** Everything read, nothing left, nothing overrun. */
  done(): boolean {
    return !this.bad && this.at === this.buf.length;
  }
}
