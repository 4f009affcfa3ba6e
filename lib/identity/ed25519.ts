/**
 * Ed25519 (RFC 8032) with strict verification: one function for the CLI, the worker and
 * the workflow sandbox (pure JavaScript, no Node crypto, deterministic).
 *
 * Strict means every encoding has one meaning: S must be below the group order L (no
 * malleable second signature), R and A must be canonical point encodings (y < p, no
 * "negative zero" x), and neither may be of small order: with a small-order public key a
 * signature made without any private key verifies for every message, and a small-order R
 * never comes from an RFC 8032 signer (R = rB) but is accepted by the cofactored equation
 * and refused by the cofactorless one (libsodium refuses both as well).
 */
import { ed25519 } from '@noble/curves/ed25519';

export const PUBLIC_KEY_BYTES = 32;
export const SEED_BYTES = 32;
export const SIGNATURE_BYTES = 64;

/** Order of the prime subgroup: 2^252 + 27742317777372353535851937790883648493. */
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

/**
 * Verify with a 4-bit window on the base point instead of noble's default 8. The workflow
 * sandbox evaluates this module afresh for every workflow, so noble's base-point table is
 * rebuilt per incident: 8 bits cost 180–250 ms of CPU for the first verification on this 2-core
 * VM, 4 bits 17–26 ms, and a verification after that 9 ms either way (bench/RESULTS.md,
 * "Faster containment"). Call it where a process verifies few signatures per module life.
 */
export function preferQuickFirstVerify(): void {
  ed25519.Point.BASE.precompute(4);
}

/** Signs `message` with a 32-byte seed (RFC 8032 "private key"). Deterministic. */
export function signEd25519(message: Uint8Array, seed: Uint8Array): Uint8Array {
  if (seed.length !== SEED_BYTES) throw new TypeError(`an Ed25519 seed is ${SEED_BYTES} bytes`);
  return ed25519.sign(message, seed);
}

/** The public key of a 32-byte seed. */
export function publicKeyOf(seed: Uint8Array): Uint8Array {
  if (seed.length !== SEED_BYTES) throw new TypeError(`an Ed25519 seed is ${SEED_BYTES} bytes`);
  return ed25519.getPublicKey(seed);
}

/** A public key we accept: 32 bytes, a canonical encoding of a curve point that is not of small order. */
export function isStrictPublicKey(publicKey: Uint8Array): boolean {
  return publicKey.length === PUBLIC_KEY_BYTES && isStrictPoint(publicKey);
}

/** True only for a valid signature under the strict rules above; never throws. */
export function verifyEd25519(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_BYTES || publicKey.length !== PUBLIC_KEY_BYTES) return false;
  if (littleEndian(signature.subarray(32)) >= L) return false;
  if (!isStrictPoint(signature.subarray(0, 32)) || !isStrictPoint(publicKey)) return false;
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

function isStrictPoint(bytes: Uint8Array): boolean {
  try {
    const point = ed25519.Point.fromBytes(bytes, false);
    return !point.isSmallOrder();
  } catch {
    return false;
  }
}

function littleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] as number);
  return n;
}
