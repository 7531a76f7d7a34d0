/**
 * PostgreSQL WAL positions ('X/Y', two hex numbers of up to 32 bits) as they appear in the hubs'
 * reports. The status model and the eligibility rules only compare and subtract them; a text that
 * is not an LSN is `null`, never NaN or 0.
 */

const LSN_RE = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** The LSN as an unsigned 64-bit integer; null for null or anything that is not 'X/Y'. */
export function lsnValue(text: string | null | undefined): bigint | null {
  if (typeof text !== 'string') return null;
  const m = LSN_RE.exec(text);
  if (m === null || m[1] === undefined || m[2] === undefined) return null;
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** `a - b` in bytes (negative when a is behind b); null when either is not an LSN. */
export function lsnBytesBetween(a: string | null | undefined, b: string | null | undefined): bigint | null {
  const x = lsnValue(a);
  const y = lsnValue(b);
  return x === null || y === null ? null : x - y;
}
