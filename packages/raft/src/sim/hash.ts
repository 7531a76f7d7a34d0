/**
 * Small, deterministic hashing helpers for the simulator: FNV-1a (32-bit) over bytes and numbers.
 * Used for the state machine's rolling hash, the run digest, and compact entry keys.
 */

export const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Folds `bytes` into `hash` (FNV-1a). */
export function fnvBytes(hash: number, bytes: Uint8Array): number {
  let h = hash >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, FNV_PRIME) >>> 0;
  }
  return h;
}

/** Folds a non-negative integer (up to 2^53) into `hash`, byte by byte. */
export function fnvNumber(hash: number, value: number): number {
  let h = hash >>> 0;
  let lo = value >>> 0;
  let hi = Math.floor(value / 0x1_0000_0000) >>> 0;
  for (let i = 0; i < 4; i++) {
    h ^= lo & 0xff;
    h = Math.imul(h, FNV_PRIME) >>> 0;
    lo >>>= 8;
  }
  for (let i = 0; i < 4; i++) {
    h ^= hi & 0xff;
    h = Math.imul(h, FNV_PRIME) >>> 0;
    hi >>>= 8;
  }
  return h;
}

/** Folds a string (UTF-16 code units) into `hash`. */
export function fnvString(hash: number, value: string): number {
  let h = hash >>> 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    h ^= c & 0xff;
    h = Math.imul(h, FNV_PRIME) >>> 0;
    h ^= c >>> 8;
    h = Math.imul(h, FNV_PRIME) >>> 0;
  }
  return h;
}

/** A lossless string form of (small) bytes, for exact comparisons and map keys. */
export function bytesKey(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** Printable form of a payload for traces: ASCII as is, anything else as hex. */
export function showBytes(bytes: Uint8Array, max = 24): string {
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b < 0x20 || b > 0x7e) {
      ascii = false;
      break;
    }
  }
  const shown = bytes.subarray(0, max);
  const body = ascii ? bytesKey(shown) : Array.from(shown, (b) => b.toString(16).padStart(2, '0')).join('');
  return (ascii ? `"${body}"` : `0x${body}`) + (bytes.length > max ? `…(${bytes.length}B)` : '');
}
