import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBase64, encodeBase64 } from '../../lib/identity/base64.js';
import { parsePublicLine, type Registry } from '../../lib/identity/registry.js';
import { agentKeys, agentSign, agentSigner, SshAgentError } from '../../lib/identity/ssh-agent.js';
import { armorSshSig, dearmorSshSig, encodeSshSig, parseSshPublicKeyLine, parseSshSig, sshsigSignedData, verifySshSig } from '../../lib/identity/sshsig.js';
import { statementBytes, type Statement } from '../../lib/identity/statement.js';
import { verifyDecision, type SignedStatement, type VerifyContext } from '../../lib/identity/verify.js';
import { startAgent, type TestAgent } from '../helpers/ssh-agent.js';
import { HASH, INCIDENT, NOW, aliceApproves, keys, signWith } from '../fixtures/identity-people.js';

let dir: string;
let agent: TestAgent;
let socket: string;
let alicePub: string;
let otherPub: string;

beforeAll(async () => {
  agent = await startAgent();
  ({ dir, socket } = agent);
  alicePub = agent.keygen('alice');
  otherPub = agent.keygen('other');
  agent.keygen('ecdsa', 'ecdsa');
  agent.add('alice');
  agent.add('ecdsa');
});

afterAll(() => agent?.stop());

function aliceRegistry(): Registry {
  const line = parsePublicLine(`ssh-ed25519 ${alicePub.split(' ')[1]} alice`);
  if (!line.ok) throw new Error(line.problems.join('; '));
  return { responders: [{ name: 'alice', keys: [line.value.key] }], services: [] };
}

function aliceKeyId(): string {
  return aliceRegistry().responders[0]!.keys[0]!.id;
}

function ctx(): VerifyContext {
  return { registry: aliceRegistry(), expect: { kind: 'approve', incidentId: INCIDENT, gate: 'lockdown', argsHash: HASH }, now: NOW, seenNonces: new Set(), mode: 'live', drillTarget: false };
}

/** ssh-keygen -Y verify: exit status 0 when OpenSSH accepts the signature. */
function opensshVerifies(message: Uint8Array, armored: string, namespace = 'firebreak'): boolean {
  writeFileSync(join(dir, 'allowed_signers'), `alice ${alicePub.split(' ').slice(0, 2).join(' ')}\n`);
  writeFileSync(join(dir, 'statement.sig'), armored);
  try {
    execFileSync('ssh-keygen', ['-Y', 'verify', '-f', join(dir, 'allowed_signers'), '-I', 'alice', '-n', namespace, '-s', join(dir, 'statement.sig')], { input: message, stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

function opensshSigns(message: Uint8Array, namespace: string, key = 'alice'): Uint8Array {
  writeFileSync(join(dir, 'message'), message);
  rmSync(join(dir, 'message.sig'), { force: true });
  execFileSync('ssh-keygen', ['-Y', 'sign', '-n', namespace, '-f', join(dir, key), join(dir, 'message')], { stdio: 'pipe' });
  return dearmorSshSig(readFileSync(join(dir, 'message.sig'), 'utf8')) as Uint8Array;
}

describe('ssh-agent client', () => {
  it('lists the ed25519 keys the agent holds (not the others), with their key ids', async () => {
    const listed = await agentKeys(socket);
    expect(listed).toEqual([{ publicKey: parseSshPublicKeyLine(alicePub)!.publicKey, keyId: aliceKeyId(), comment: 'alice@laptop' }]);
  });

  it('signs a statement that verifyDecision accepts and `ssh-keygen -Y verify -n firebreak` accepts', async () => {
    const signer = await agentSigner({ socket });
    expect(signer.keyId).toBe(aliceKeyId());
    const signed = await signer.signStatement(aliceApproves({ keyId: signer.keyId }));
    expect(signed.format).toBe('sshsig');
    expect(verifyDecision(signed, ctx())).toMatchObject({ ok: true, responder: 'alice', via: 'personal', keyId: signer.keyId });

    const blob = decodeBase64(signed.signature, 'url') as Uint8Array;
    const message = statementBytes(signed.statement);
    expect(opensshVerifies(message, armorSshSig(blob))).toBe(true);
    expect(opensshVerifies(message, armorSshSig(blob), 'git')).toBe(false);
    expect(opensshVerifies(new Uint8Array([...message, 0x20]), armorSshSig(blob))).toBe(false);
  });

  it('refuses a malformed statement or one naming another key, before asking the agent', async () => {
    const signer = await agentSigner({ socket });
    await expect(signer.signStatement(aliceApproves())).rejects.toThrow(/statement names key ed25519:fcf4b546e4ffd226, but the agent key is/);
    await expect(signer.signStatement(aliceApproves({ keyId: signer.keyId, nonce: 'short' }))).rejects.toThrow(/malformed statement: nonce/);
  });

  it('reports an agent that does not hold the key, no agent, and an unreachable agent', async () => {
    const other = parseSshPublicKeyLine(otherPub)!.publicKey;
    await expect(agentSign(other, new Uint8Array([1]), socket)).rejects.toThrow(/ssh-agent refused to sign/);
    await expect(agentKeys(undefined)).rejects.toThrow(SshAgentError);
    await expect(agentKeys(join(dir, 'no-such.sock'))).rejects.toThrow(/cannot reach ssh-agent at .*no-such\.sock: ENOENT/);
    await expect(agentSigner({ socket, keyId: keys.bob.id })).rejects.toThrow(`ssh-agent holds no ed25519 key ${keys.bob.id}`);
  });

  it('with two ed25519 keys, signs only with the one chosen by key id', async () => {
    agent.add('other');
    try {
      await expect(agentSigner({ socket })).rejects.toThrow(/holds 2 ed25519 keys .*: choose one by key id/);
      const signer = await agentSigner({ socket, keyId: aliceKeyId() });
      const signed = await signer.signStatement(aliceApproves({ keyId: signer.keyId }));
      expect(verifyDecision(signed, ctx()).ok).toBe(true);
    } finally {
      execFileSync('ssh-add', ['-q', '-d', join(dir, 'other.pub')], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: 'pipe' });
    }
  });
});

describe('SSHSIG verification', () => {
  const st: Statement = aliceApproves();
  const asSsh = (statement: Statement, blob: Uint8Array): SignedStatement => ({ statement: { ...statement, keyId: aliceKeyId() }, signature: encodeBase64(blob, 'url'), format: 'sshsig' });

  it('accepts what `ssh-keygen -Y sign -n firebreak` writes', () => {
    const statement = { ...st, keyId: aliceKeyId() };
    const blob = opensshSigns(statementBytes(statement), 'firebreak');
    expect(parseSshSig(blob)).toMatchObject({ namespace: 'firebreak', hash: 'sha512' });
    expect(verifyDecision(asSsh(statement, blob), ctx())).toMatchObject({ ok: true, responder: 'alice' });
    // Our armor round trip is byte-exact with ssh-keygen's.
    expect(armorSshSig(blob)).toBe(readFileSync(join(dir, 'message.sig'), 'utf8'));
  });

  it('accepts the sha256 variant the format allows', async () => {
    const statement = { ...st, keyId: aliceKeyId() };
    const publicKey = parseSshPublicKeyLine(alicePub)!.publicKey;
    const signature = await agentSign(publicKey, sshsigSignedData(statementBytes(statement), 'firebreak', 'sha256'), socket);
    const blob = encodeSshSig({ publicKey, namespace: 'firebreak', hash: 'sha256', signature });
    expect(verifyDecision(asSsh(statement, blob), ctx()).ok).toBe(true);
    expect(opensshVerifies(statementBytes(statement), armorSshSig(blob))).toBe(true);
  });

  it("refuses another namespace (a git commit signature), another key's SSHSIG, and a raw signature labelled sshsig", () => {
    const statement = { ...st, keyId: aliceKeyId() };
    const message = statementBytes(statement);
    const git = opensshSigns(message, 'git');
    expect(verifyDecision(asSsh(statement, git), ctx())).toMatchObject({ ok: false, reason: 'bad-signature' });
    const byOther = opensshSigns(message, 'firebreak', 'other');
    expect(verifyDecision(asSsh(statement, byOther), ctx())).toMatchObject({ ok: false, reason: 'bad-signature' });
    const raw = signWith(keys.alice, st);
    expect(verifyDecision({ ...raw, format: 'sshsig' }, { ...ctx(), registry: { responders: [{ name: 'alice', keys: [keys.alice.entry] }], services: [] } })).toMatchObject({ ok: false, reason: 'bad-signature' });
    expect(verifyDecision({ ...raw, format: 'pgp' }, ctx())).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('parses strictly: version, reserved, hash, key type, lengths, trailing bytes', () => {
    const publicKey = parseSshPublicKeyLine(alicePub)!.publicKey;
    const good = encodeSshSig({ publicKey, namespace: 'firebreak', hash: 'sha512', signature: new Uint8Array(64) });
    expect(parseSshSig(good)).toBeDefined();
    const mutate = (f: (b: Uint8Array) => void): Uint8Array => {
      const b = good.slice();
      f(b);
      return b;
    };
    expect(parseSshSig(mutate((b) => (b[9] = 2)))).toBeUndefined(); // version 2
    expect(parseSshSig(mutate((b) => (b[0] = 0x73)))).toBeUndefined(); // "sSHSIG"
    expect(parseSshSig(new Uint8Array([...good, 0]))).toBeUndefined();
    expect(parseSshSig(good.subarray(0, good.length - 1))).toBeUndefined();
    expect(parseSshSig(encodeSshSig({ publicKey, namespace: 'firebreak', hash: 'md5' as 'sha512', signature: new Uint8Array(64) }))).toBeUndefined();
    expect(parseSshSig(encodeSshSig({ publicKey, namespace: 'firebreak', hash: 'sha512', signature: new Uint8Array(63) }))).toBeUndefined();
    expect(parseSshSig(encodeSshSig({ publicKey: publicKey.subarray(0, 31), namespace: 'firebreak', hash: 'sha512', signature: new Uint8Array(64) }))).toBeUndefined();
    expect(verifySshSig(good, new Uint8Array(0), publicKey)).toBe(false);
    expect(dearmorSshSig('-----BEGIN SSH SIGNATURE-----\n!!\n-----END SSH SIGNATURE-----')).toBeUndefined();
  });

  it('registry lines: an OpenSSH public key line with the name as comment', () => {
    const line = parsePublicLine(`ssh-ed25519 ${alicePub.split(' ')[1]} alice`);
    expect(line).toMatchObject({ ok: true, value: { name: 'alice', key: { id: aliceKeyId(), publicKey: encodeBase64(parseSshPublicKeyLine(alicePub)!.publicKey) } } });
    const ecdsaBlob = readFileSync(join(dir, 'ecdsa.pub'), 'utf8').split(' ')[1];
    expect(parsePublicLine(`ssh-ed25519 ${ecdsaBlob} alice`).ok).toBe(false);
    expect(parsePublicLine(`ssh-ed25519 ${encodeBase64(parseSshPublicKeyLine(alicePub)!.publicKey)} alice`).ok).toBe(false); // a raw key is not a blob
    // An unedited .pub line registers its comment as the name.
    expect(parsePublicLine(alicePub)).toMatchObject({ ok: true, value: { name: 'alice@laptop' } });
  });
});
