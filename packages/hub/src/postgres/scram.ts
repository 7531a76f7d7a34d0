import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { PgManagerError } from './errors.js';
import type { Secret } from './secret.js';

/**
 * A SCRAM-SHA-256 verifier ("SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>") computed here,
 * so CREATE/ALTER ROLE ... PASSWORD carries the verifier and the server (its log, its
 * pg_stat_activity, log_statement) never sees the password itself — what psql's \password does.
 *
 * PostgreSQL SASLprep-normalizes passwords; for printable ASCII that is the identity, so we accept
 * only printable ASCII rather than reimplement SASLprep.
 */
export function scramSha256Verifier(password: Secret, options: { iterations?: number; salt?: Buffer } = {}): string {
  const pw = password.reveal();
  if (!/^[\x20-\x7e]+$/.test(pw)) {
    throw new PgManagerError('INVALID_ARGUMENT', 'the replication password must be printable ASCII');
  }
  const iterations = options.iterations ?? 4096;
  const salt = options.salt ?? randomBytes(16);
  const salted = pbkdf2Sync(Buffer.from(pw, 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** The verifier only holds base64, digits, '$' and ':' — safe to embed in a SQL literal. */
export function isScramVerifier(v: string): boolean {
  return /^SCRAM-SHA-256\$\d+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/.test(v);
}
