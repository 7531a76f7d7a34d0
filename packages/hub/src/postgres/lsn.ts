import { PgManagerError } from './errors.js';

/** A WAL location (log sequence number) as an unsigned 64-bit integer. */
export type Lsn = bigint;

const LSN_RE = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;
const MAX_LSN = (1n << 64n) - 1n;

/**
 * Parses PostgreSQL's textual LSN 'X/Y' (two hex numbers of up to 32 bits each) into a bigint.
 * Anything else (empty, extra spaces, signs, more than 8 hex digits, non-strings) is an
 * INVALID_LSN error — never NaN, never a silent 0.
 */
export function parseLsn(text: unknown): Lsn {
  if (typeof text !== 'string') {
    throw new PgManagerError('INVALID_LSN', `LSN must be a string 'X/Y', got ${typeof text}`);
  }
  const m = LSN_RE.exec(text);
  if (!m || m[1] === undefined || m[2] === undefined) {
    throw new PgManagerError('INVALID_LSN', `malformed LSN ${JSON.stringify(text.slice(0, 40))}: expected 'X/Y' in hex`);
  }
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** Formats like PostgreSQL does: upper-case hex, no padding ('0/3000148'). */
export function formatLsn(lsn: Lsn): string {
  if (typeof lsn !== 'bigint' || lsn < 0n || lsn > MAX_LSN) {
    throw new PgManagerError('INVALID_LSN', `LSN out of range: ${String(lsn)}`);
  }
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

function asLsn(v: Lsn | string): Lsn {
  if (typeof v === 'string') return parseLsn(v);
  if (typeof v !== 'bigint' || v < 0n || v > MAX_LSN) {
    throw new PgManagerError('INVALID_LSN', `LSN out of range: ${String(v)}`);
  }
  return v;
}

/** `a - b` in bytes (negative when a is behind b), like pg_wal_lsn_diff. */
export function lsnDiff(a: Lsn | string, b: Lsn | string): bigint {
  return asLsn(a) - asLsn(b);
}

/** -1, 0 or 1. */
export function compareLsn(a: Lsn | string, b: Lsn | string): -1 | 0 | 1 {
  const x = asLsn(a);
  const y = asLsn(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
