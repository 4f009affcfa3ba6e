/**
 * The audit log's hashes and checkpoint signatures (worker, CLI and tests share them; the
 * workflow sandbox imports only types).
 *
 * One chain per incident: record n carries hash(n-1). A global chain links incident heads
 * (one entry per checkpoint), so a deleted incident is missed by the global chain. Each
 * hash is SHA-256 over a domain prefix and the record's canonical JSON (lib/canonical.ts:
 * keys sorted by UTF-16 code unit, ECMAScript number text — RFC 8785 for JSON values).
 */
import { createPrivateKey, sign as nodeSign } from 'node:crypto';
import { canonicalJson, sha256Hex } from '../canonical.js';
import { decodeBase64, encodeBase64 } from '../identity/base64.js';
import { publicKeyOf, verifyEd25519 } from '../identity/ed25519.js';
import { keyIdOf } from '../identity/registry.js';
import { utf8ToBytes } from '@noble/hashes/utils';

export const GENESIS = '0'.repeat(64);
const RECORD_DOMAIN = 'firebreak-audit-record-v1\n';
const GLOBAL_DOMAIN = 'firebreak-audit-global-v1\n';
const CHECKPOINT_DOMAIN = 'firebreak-audit-checkpoint-v1\n';
/** PKCS#8 DER of an Ed25519 private key, up to its 32-byte seed (RFC 8410). */
const PKCS8_ED25519_SEED = Buffer.from('302e020100300506032b657004220420', 'hex');

export type AuditKind = 'declared' | 'timeline' | 'decision' | 'closed' | 'archived';

/** What the workflow sends: the sequence number is its own (deterministic), so a retried append is recognised. */
export interface AuditEntry {
  seq: number;
  at: string;
  kind: AuditKind;
  actor?: string;
  data: Record<string, unknown>;
}

/** A stored record: the entry, its canonical payload text, and the chain. */
export interface AuditRecord extends AuditEntry {
  incidentId: string;
  prevHash: string;
  hash: string;
}

export interface GlobalEntry {
  gseq: number;
  incidentId: string;
  size: number;
  head: string;
  at: string;
  prevHash: string;
  hash: string;
}

/** A signed `{size, head}` of one incident's chain, with the global chain's entry it was linked into. */
export interface Checkpoint {
  incidentId: string;
  size: number;
  head: string;
  gseq: number;
  globalHash: string;
  at: string;
  keyId: string | null;
  signature: string | null;
}

export function payloadText(data: Record<string, unknown>): string {
  return canonicalJson(data);
}

export function recordHash(incidentId: string, e: AuditEntry, prevHash: string): string {
  return sha256Hex(RECORD_DOMAIN + prevHash + '\n' + canonicalJson({ incidentId, seq: e.seq, at: e.at, kind: e.kind, actor: e.actor ?? null, data: e.data }));
}

export function globalHash(g: Omit<GlobalEntry, 'hash' | 'prevHash'>, prevHash: string): string {
  return sha256Hex(GLOBAL_DOMAIN + prevHash + '\n' + canonicalJson({ gseq: g.gseq, incidentId: g.incidentId, size: g.size, head: g.head, at: g.at }));
}

function checkpointBytes(c: Omit<Checkpoint, 'keyId' | 'signature'>, keyId: string): Uint8Array {
  return utf8ToBytes(CHECKPOINT_DOMAIN + canonicalJson({ incidentId: c.incidentId, size: c.size, head: c.head, gseq: c.gseq, globalHash: c.globalHash, at: c.at, keyId }));
}

export interface AuditSigner {
  keyId: string;
  sign(message: Uint8Array): Uint8Array;
}

export function auditSigner(seed: Uint8Array): AuditSigner {
  const keyId = keyIdOf(publicKeyOf(seed));
  // node:crypto, not the pure-JS signer: the same Ed25519 bytes at a tenth of the worker's CPU.
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_SEED, seed]), format: 'der', type: 'pkcs8' });
  return { keyId, sign: (m) => new Uint8Array(nodeSign(null, m, key)) };
}

export function signCheckpoint(c: Omit<Checkpoint, 'keyId' | 'signature'>, signer: AuditSigner | undefined): Checkpoint {
  if (!signer) return { ...c, keyId: null, signature: null };
  return { ...c, keyId: signer.keyId, signature: encodeBase64(signer.sign(checkpointBytes(c, signer.keyId)), 'url') };
}

/** 'ok', 'unsigned', 'unknown-key' or 'bad-signature' against the audit public keys (keyed by key id). */
export function checkCheckpoint(c: Checkpoint, publicKeys: ReadonlyMap<string, Uint8Array>): 'ok' | 'unsigned' | 'unknown-key' | 'bad-signature' {
  if (!c.keyId || !c.signature) return 'unsigned';
  const key = publicKeys.get(c.keyId);
  if (!key) return 'unknown-key';
  const sig = decodeBase64(c.signature, 'url');
  return sig && verifyEd25519(sig, checkpointBytes(c, c.keyId), key) ? 'ok' : 'bad-signature';
}

/** Audit public keys from base64 lines, keyed by key id; a bad one is named. */
export function publicKeyMap(keys: readonly string[]): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const k of keys) {
    const bytes = decodeBase64(k.trim());
    if (!bytes || bytes.length !== 32) throw new Error(`audit.publicKeys: "${k.slice(0, 16)}…" is not a base64 Ed25519 public key (32 bytes)`);
    out.set(keyIdOf(bytes), bytes);
  }
  return out;
}
