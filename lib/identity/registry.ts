/**
 * The responders registry of the worker's policy: who may decide, with which keys, and
 * which services may attest or act. Pure (runs in the workflow sandbox).
 *
 * A key's id is a fingerprint of its public key, so ids cannot be chosen: 64 bits are
 * enough because the id only finds the entry; the signature is checked against the full
 * public key stored there, and a registry with two keys of the same id is refused.
 * Keys are never deleted to revoke them: `revokedAt` keeps an old key known by id, so a
 * decision it signed before then can still be verified.
 */
import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex } from '@noble/hashes/utils';
import { decodeBase64, encodeBase64 } from './base64.js';
import { isStrictPublicKey } from './ed25519.js';
import { parseSshPublicKeyLine } from './sshsig.js';
import {
  KEY_ID,
  NAME,
  STATEMENT_KINDS,
  parseSlackId,
  plainObject,
  show,
  text,
  type Parsed,
  type SlackId,
  type StatementKind,
} from './statement.js';
import { parseInstant } from './time.js';

export const SERVICE_KINDS = ['slack', 'schedule', 'intake', 'sentinel', 'drill-robot'] as const;
export type ServiceKind = (typeof SERVICE_KINDS)[number];

export interface RegisteredKey {
  /** `keyIdOf(publicKey)`. */
  id: string;
  /** The raw 32-byte Ed25519 public key, standard base64. */
  publicKey: string;
  /** ISO instants bounding when the key may sign: notBefore ≤ t < notAfter, t < revokedAt. */
  notBefore?: string;
  notAfter?: string;
  revokedAt?: string;
}

export interface Responder {
  name: string;
  keys: RegisteredKey[];
  /** The Slack user this person is, for votes the Slack app attests. */
  slack?: SlackId;
}

export interface Service {
  name: string;
  kind: ServiceKind;
  keys: RegisteredKey[];
  /** Statement kinds it may attest for a person or make as itself. */
  may: StatementKind[];
}

export interface Registry {
  responders: Responder[];
  services: Service[];
}

export type KeyOwner = { type: 'responder'; responder: Responder } | { type: 'service'; service: Service };

export const REGISTRY_LIMITS = { identities: 2000, keysEach: 32 } as const;

/** `ed25519:` and the first 16 hex digits of the SHA-256 of the raw public key. */
export function keyIdOf(publicKey: Uint8Array): string {
  return `ed25519:${bytesToHex(sha256(publicKey)).slice(0, 16)}`;
}

/** The raw bytes of a registry public key, or undefined unless it is canonical base64 of a strict Ed25519 key. */
export function decodePublicKey(base64: string): Uint8Array | undefined {
  const bytes = decodeBase64(base64, 'standard');
  return bytes && isStrictPublicKey(bytes) ? bytes : undefined;
}

/** The key with this id and whom it belongs to. */
export function findKey(registry: Registry, keyId: string): { owner: KeyOwner; key: RegisteredKey } | undefined {
  for (const responder of registry.responders) {
    const key = responder.keys.find((k) => k.id === keyId);
    if (key) return { owner: { type: 'responder', responder }, key };
  }
  for (const service of registry.services) {
    const key = service.keys.find((k) => k.id === keyId);
    if (key) return { owner: { type: 'service', service }, key };
  }
  return undefined;
}

export function findResponder(registry: Registry, name: string): Responder | undefined {
  return registry.responders.find((r) => r.name === name);
}

export type KeyValidity = 'valid' | 'revoked' | 'outside-validity';

/** Whether `key` could sign at `ms` (milliseconds since the epoch). Unparseable bounds count as closed. */
export function keyValidityAt(key: RegisteredKey, ms: number): KeyValidity {
  if (key.revokedAt !== undefined && !(ms < (parseInstant(key.revokedAt) ?? -Infinity))) return 'revoked';
  if (key.notBefore !== undefined && !(ms >= (parseInstant(key.notBefore) ?? Infinity))) return 'outside-validity';
  if (key.notAfter !== undefined && !(ms < (parseInstant(key.notAfter) ?? -Infinity))) return 'outside-validity';
  return 'valid';
}

/** The line `keys init` prints for the registry: `ed25519 <base64 public key> <name> <key id>`. */
export function publicLine(publicKey: Uint8Array, name: string): string {
  return `ed25519 ${encodeBase64(publicKey)} ${name} ${keyIdOf(publicKey)}`;
}

/**
 * A public line back into a name and key (the key id, when given, must match the key).
 * Also takes an OpenSSH line whose comment is the name (`ssh-ed25519 AAAA… alice`), for a
 * person signing through ssh-agent.
 */
export function parsePublicLine(line: string): Parsed<{ name: string; key: RegisteredKey }> {
  const parts = line.trim().split(/\s+/);
  if (parts.length < 3 || parts.length > 4 || (parts[0] !== 'ed25519' && parts[0] !== 'ssh-ed25519')) {
    return { ok: false, problems: ['expected "ed25519 <base64 public key> <name> [<key id>]" or "ssh-ed25519 <base64 key blob> <name>"'] };
  }
  const [format, text, name, id] = parts as [string, string, string, string | undefined];
  const ssh = format === 'ssh-ed25519' ? parseSshPublicKeyLine(`${format} ${text}`)?.publicKey : undefined;
  const b64 = ssh ? encodeBase64(ssh) : text;
  const bytes = format === 'ssh-ed25519' && !ssh ? undefined : decodePublicKey(b64);
  const problems: string[] = [];
  if (!bytes) problems.push('public key: not the canonical base64 of a valid Ed25519 public key');
  if (!NAME.test(name)) problems.push(`name: ${show(name)} does not match ${String(NAME)}`);
  if (bytes && id !== undefined && id !== keyIdOf(bytes)) problems.push(`key id: ${show(id)} is not this key's (${keyIdOf(bytes)})`);
  if (problems.length || !bytes) return { ok: false, problems };
  return { ok: true, value: { name, key: { id: keyIdOf(bytes), publicKey: encodeBase64(bytes) } } };
}

/**
 * A registry from untrusted data (the policy as an activity returned it), strictly: each
 * key's id must be its fingerprint, and names, key ids and Slack ids must each be unique.
 */
export function parseRegistry(value: unknown): Parsed<Registry> {
  const problems: string[] = [];
  const obj = plainObject(value, 'registry', problems, 16);
  if (!obj) return { ok: false, problems };
  for (const key of Object.keys(obj)) if (key !== 'responders' && key !== 'services') problems.push(`registry: unknown field ${show(key)}`);
  const responders = list(obj.responders, 'responders', problems).map((r, i) => responder(r, `responders[${i}]`, problems));
  const services = list(obj.services, 'services', problems).map((s, i) => service(s, `services[${i}]`, problems));
  if (responders.length + services.length > REGISTRY_LIMITS.identities) problems.push(`registry: more than ${REGISTRY_LIMITS.identities} identities`);

  const names = new Set<string>();
  const keyIds = new Set<string>();
  const slackIds = new Set<string>();
  for (const who of [...responders, ...services]) {
    if (!who) continue;
    if (names.has(who.name)) problems.push(`name ${show(who.name)} is registered twice`);
    names.add(who.name);
    for (const k of who.keys) {
      if (keyIds.has(k.id)) problems.push(`key ${k.id} is registered twice`);
      keyIds.add(k.id);
    }
  }
  for (const r of responders) {
    if (!r?.slack) continue;
    const id = `${r.slack.team}/${r.slack.user}`;
    if (slackIds.has(id)) problems.push(`Slack user ${id} is mapped to two responders`);
    slackIds.add(id);
  }
  if (problems.length) return { ok: false, problems };
  return { ok: true, value: { responders: responders as Responder[], services: services as Service[] } };
}

function responder(value: unknown, where: string, problems: string[]): Responder | undefined {
  const obj = plainObject(value, where, problems, 16);
  if (!obj) return undefined;
  for (const key of Object.keys(obj)) if (!['name', 'keys', 'slack'].includes(key)) problems.push(`${where}: unknown field ${show(key)}`);
  const name = text(obj.name, NAME, `${where}.name`, problems);
  const keys = list(obj.keys, `${where}.keys`, problems, REGISTRY_LIMITS.keysEach).map((k, i) => registeredKey(k, `${where}.keys[${i}]`, problems));
  const slack = parseSlackId(obj.slack, `${where}.slack`, problems);
  if (name === undefined || keys.some((k) => !k) || (obj.slack !== undefined && !slack)) return undefined;
  return { name, keys: keys as RegisteredKey[], ...(slack && { slack }) };
}

function service(value: unknown, where: string, problems: string[]): Service | undefined {
  const obj = plainObject(value, where, problems, 16);
  if (!obj) return undefined;
  for (const key of Object.keys(obj)) if (!['name', 'kind', 'keys', 'may'].includes(key)) problems.push(`${where}: unknown field ${show(key)}`);
  const name = text(obj.name, NAME, `${where}.name`, problems);
  const kind = SERVICE_KINDS.find((k) => k === obj.kind);
  if (!kind) problems.push(`${where}.kind: must be one of ${SERVICE_KINDS.join(', ')}`);
  const keys = list(obj.keys, `${where}.keys`, problems, REGISTRY_LIMITS.keysEach).map((k, i) => registeredKey(k, `${where}.keys[${i}]`, problems));
  const may = list(obj.may, `${where}.may`, problems, STATEMENT_KINDS.length).map((m) => {
    const found = STATEMENT_KINDS.find((k) => k === m);
    if (!found) problems.push(`${where}.may: ${typeof m === 'string' ? show(m) : 'a non-string'} is not a statement kind`);
    return found;
  });
  if (name === undefined || !kind || keys.some((k) => !k) || may.some((m) => !m)) return undefined;
  return { name, kind, keys: keys as RegisteredKey[], may: [...new Set(may as StatementKind[])] };
}

function registeredKey(value: unknown, where: string, problems: string[]): RegisteredKey | undefined {
  const before = problems.length;
  const obj = plainObject(value, where, problems, 16);
  if (!obj) return undefined;
  for (const key of Object.keys(obj)) if (!['id', 'publicKey', 'notBefore', 'notAfter', 'revokedAt'].includes(key)) problems.push(`${where}: unknown field ${show(key)}`);
  const id = text(obj.id, KEY_ID, `${where}.id`, problems);
  const b64 = text(obj.publicKey, /^[A-Za-z0-9+/]{43}=$/, `${where}.publicKey`, problems);
  const bytes = b64 === undefined ? undefined : decodePublicKey(b64);
  if (b64 !== undefined && !bytes) problems.push(`${where}.publicKey: not a valid Ed25519 public key (canonical, not of small order)`);
  if (bytes && id !== undefined && id !== keyIdOf(bytes)) problems.push(`${where}.id: ${id} is not this key's fingerprint (${keyIdOf(bytes)})`);
  const key: RegisteredKey = { id: id ?? '', publicKey: b64 ?? '' };
  for (const bound of ['notBefore', 'notAfter', 'revokedAt'] as const) {
    const v = obj[bound];
    if (v === undefined) continue;
    if (typeof v === 'string' && v.length <= 64 && parseInstant(v) !== undefined) key[bound] = v;
    else problems.push(`${where}.${bound}: must be an ISO-8601 date-time with a zone (e.g. 2025-01-31T12:00:00Z)`);
  }
  return problems.length === before ? key : undefined;
}

function list(value: unknown, where: string, problems: string[], max: number = REGISTRY_LIMITS.identities): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    problems.push(`${where}: must be a list`);
    return [];
  }
  if (value.length > max) {
    problems.push(`${where}: more than ${max} entries`);
    return [];
  }
  return value as unknown[];
}
