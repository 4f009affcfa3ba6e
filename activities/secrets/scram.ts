/** SCRAM-SHA-256 verifiers (RFC 5802/7677), as PostgreSQL stores them in pg_authid: pure maths, no I/O. */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

const SCRAM_ITERATIONS = 4096; // PostgreSQL's default

const hmac = (key: Buffer, text: string): Buffer => createHmac('sha256', key).update(text).digest();

function scramKeys(password: string, salt: Buffer, iterations: number): { storedKey: Buffer; serverKey: Buffer } {
  // Generated passwords are ASCII, for which SASLprep (what PostgreSQL applies) changes nothing.
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  return { storedKey: createHash('sha256').update(hmac(salted, 'Client Key')).digest(), serverKey: hmac(salted, 'Server Key') };
}

/** The verifier PostgreSQL would store for `password`: `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`. */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16), iterations = SCRAM_ITERATIONS): string {
  const { storedKey, serverKey } = scramKeys(password, salt, iterations);
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** Does `password` match the stored verifier (SCRAM-SHA-256, or a legacy md5 one)? */
export function verifierMatches(verifier: string, password: string, role: string): boolean {
  const m = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(verifier);
  if (m) {
    const iterations = Number(m[1]);
    if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > 10_000_000) return false;
    const { storedKey, serverKey } = scramKeys(password, Buffer.from(m[2] as string, 'base64'), iterations);
    const wantStored = Buffer.from(m[3] as string, 'base64');
    const wantServer = Buffer.from(m[4] as string, 'base64');
    return wantStored.length === storedKey.length && wantServer.length === serverKey.length && timingSafeEqual(wantStored, storedKey) && timingSafeEqual(wantServer, serverKey);
  }
  if (/^md5[0-9a-f]{32}$/.test(verifier)) return verifier === `md5${createHash('md5').update(password + role).digest('hex')}`;
  return false;
}
