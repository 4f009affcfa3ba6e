/**
 * What a front door signs with: a person's key file, their ssh-agent key, or a service's key.
 * The incident service asks a Signer for each decision's statement; the signer fills in
 * the key id, the front door, the time and a fresh nonce. Node side only.
 */
import { newNonce, type KeyPair, signStatement } from './keys.js';
import type { AgentSigner } from './ssh-agent.js';
import type { FrontDoor, Statement } from './statement.js';
import type { SignedStatement } from './verify.js';

/** A statement's content: what the decision is, for whom (the signer adds the rest). */
export type StatementFields = Omit<Statement, 'v' | 'keyId' | 'at' | 'nonce' | 'frontDoor'>;

export interface Signer {
  readonly keyId: string;
  readonly frontDoor: FrontDoor;
  sign(fields: StatementFields): Promise<SignedStatement>;
}

/** When a statement is made: the machine's clock (a test on the time-skipping server passes the server's). */
export type Clock = () => Date | Promise<Date>;
const systemClock: Clock = () => new Date();

const complete = (fields: StatementFields, keyId: string, frontDoor: FrontDoor, at: Date): Statement => ({
  ...fields,
  v: 1,
  keyId,
  frontDoor,
  at: at.toISOString(),
  nonce: newNonce(),
});

/** A key file's signer (`firebreak keys init`); a personal key signs at the cli front door. */
export function keyPairSigner(key: KeyPair, frontDoor: FrontDoor = 'cli', clock: Clock = systemClock): Signer {
  return {
    keyId: key.keyId,
    frontDoor,
    sign: async (fields) => signStatement(complete(fields, key.keyId, frontDoor, await clock()), key),
  };
}

/** An ssh-agent key's signer (SSHSIG, as `ssh-keygen -Y sign` makes). */
export function agentStatementSigner(agent: AgentSigner): Signer {
  return { keyId: agent.keyId, frontDoor: 'cli', sign: (fields) => agent.signStatement(complete(fields, agent.keyId, 'cli', new Date())) };
}
