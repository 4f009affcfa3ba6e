/**
 * Signing statements with the user's SSH ed25519 key through ssh-agent (SSH_AUTH_SOCK),
 * as SSHSIG in the `firebreak` namespace, the way `ssh-keygen -Y sign` does. Node side
 * only. The agent holds the private key; this client only asks it to sign.
 *
 * Agent protocol (draft-miller-ssh-agent): each message is a uint32 length, a type byte
 * and its fields; we send REQUEST_IDENTITIES (11) and SIGN_REQUEST (13) only.
 */
import { connect } from 'node:net';
import { OperationError } from '../errors.js';
import { encodeBase64 } from './base64.js';
import { keyIdOf } from './registry.js';
import { Reader, concat, encodeSshSig, sshString, parseSshPublicKeyBlob, sshPublicKeyBlob, sshsigSignedData, SSHSIG_NAMESPACE } from './sshsig.js';
import { parseStatement, statementBytes, type Statement } from './statement.js';
import type { SignedStatement } from './verify.js';

const REQUEST_IDENTITIES = 11;
const IDENTITIES_ANSWER = 12;
const SIGN_REQUEST = 13;
const SIGN_RESPONSE = 14;
const FAILURE = 5;
const MAX_REPLY = 256 * 1024;

export class SshAgentError extends OperationError {
  override name = 'SshAgentError';
}

export interface AgentKey {
  publicKey: Uint8Array;
  keyId: string;
  comment: string;
}

export interface AgentSigner extends AgentKey {
  /** Signs after checking the statement as a verifier will; the result has `format: 'sshsig'`. */
  signStatement(st: Statement): Promise<SignedStatement>;
}

/** The ssh-ed25519 keys the agent holds (other key types are left out). */
export async function agentKeys(socket: string | undefined = process.env.SSH_AUTH_SOCK, timeoutMs = 5_000): Promise<AgentKey[]> {
  const reply = new Reader(await request(socketOf(socket), new Uint8Array([REQUEST_IDENTITIES]), timeoutMs));
  if (reply.byte() !== IDENTITIES_ANSWER) throw new SshAgentError('ssh-agent refused to list its keys');
  const count = reply.uint32() ?? 0;
  const keys: AgentKey[] = [];
  for (let i = 0; i < count; i++) {
    const blob = reply.string();
    const comment = reply.string();
    if (!blob || !comment) throw new SshAgentError('ssh-agent sent a malformed key list');
    const publicKey = parseSshPublicKeyBlob(blob);
    if (publicKey) keys.push({ publicKey, keyId: keyIdOf(publicKey), comment: new TextDecoder().decode(comment) });
  }
  return keys;
}

/** The raw Ed25519 signature the agent makes over `data` with `publicKey`. */
export async function agentSign(publicKey: Uint8Array, data: Uint8Array, socket: string | undefined = process.env.SSH_AUTH_SOCK, timeoutMs = 30_000): Promise<Uint8Array> {
  const msg = concat(new Uint8Array([SIGN_REQUEST]), sshString(sshPublicKeyBlob(publicKey)), sshString(data), new Uint8Array(4));
  const reply = new Reader(await request(socketOf(socket), msg, timeoutMs));
  const type = reply.byte();
  if (type === FAILURE) throw new SshAgentError(`ssh-agent refused to sign with ${keyIdOf(publicKey)} (not loaded, or confirmation declined)`);
  const sigBlob = type === SIGN_RESPONSE ? reply.string() : undefined;
  const sig = sigBlob && new Reader(sigBlob);
  const alg = sig?.text();
  const raw = sig?.string();
  if (!sig || alg !== 'ssh-ed25519' || raw?.length !== 64 || !sig.done()) throw new SshAgentError('ssh-agent sent a malformed signature');
  return raw.slice();
}

/**
 * A signer for the agent's ed25519 key: the one with `keyId`, or the only ed25519 key it
 * holds (several without a choice is an error, so nobody signs with an unexpected key).
 */
export async function agentSigner(opts: { keyId?: string; socket?: string } = {}): Promise<AgentSigner> {
  const socket = opts.socket ?? process.env.SSH_AUTH_SOCK;
  const keys = await agentKeys(socket);
  const chosen = opts.keyId ? keys.filter((k) => k.keyId === opts.keyId) : keys;
  if (chosen.length === 0) throw new SshAgentError(opts.keyId ? `ssh-agent holds no ed25519 key ${opts.keyId}` : 'ssh-agent holds no ed25519 key (ssh-add one)');
  if (chosen.length > 1) throw new SshAgentError(`ssh-agent holds ${chosen.length} ed25519 keys (${chosen.map((k) => k.keyId).join(', ')}): choose one by key id`);
  const key = chosen[0] as AgentKey;
  return {
    ...key,
    async signStatement(st: Statement): Promise<SignedStatement> {
      const parsed = parseStatement(st);
      if (!parsed.ok) throw new TypeError(`refusing to sign a malformed statement: ${parsed.problems.join('; ')}`);
      if (parsed.value.keyId !== key.keyId) throw new TypeError(`statement names key ${parsed.value.keyId}, but the agent key is ${key.keyId}`);
      const signature = await agentSign(key.publicKey, sshsigSignedData(statementBytes(parsed.value)), socket);
      const blob = encodeSshSig({ publicKey: key.publicKey, namespace: SSHSIG_NAMESPACE, hash: 'sha512', signature });
      return { statement: parsed.value, signature: encodeBase64(blob, 'url'), format: 'sshsig' };
    },
  };
}

function socketOf(socket: string | undefined): string {
  if (!socket) throw new SshAgentError('no ssh-agent: SSH_AUTH_SOCK is not set');
  return socket;
}

/** One request, one framed reply, then the connection is closed. */
function request(socket: string, body: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const conn = connect(socket);
    const chunks: Buffer[] = [];
    let received = 0;
    const fail = (message: string) => {
      conn.destroy();
      reject(new SshAgentError(message));
    };
    conn.setTimeout(timeoutMs, () => fail(`ssh-agent at ${socket} did not answer within ${timeoutMs} ms`));
    conn.on('error', (err: NodeJS.ErrnoException) => fail(`cannot reach ssh-agent at ${socket}: ${err.code ?? err.message}`));
    conn.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received < 4) return;
      const all = Buffer.concat(chunks);
      const length = all.readUInt32BE(0);
      if (length > MAX_REPLY) return fail('ssh-agent reply too long');
      if (all.length < 4 + length) return;
      conn.end();
      resolve(new Uint8Array(all.subarray(4, 4 + length)));
    });
    conn.on('close', () => fail('ssh-agent closed the connection without answering'));
    conn.write(sshString(body));
  });
}

