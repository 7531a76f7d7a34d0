/** String and byte helpers with one definition on every replica (no locale, no Intl). */

/**
 * The UTF-8 size of `s` in bytes, or -1 when `s` is not well-formed UTF-16 (a lone surrogate has no
 * UTF-8 encoding; the protobuf decoder never produces one, but a caller-built command might).
 */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (d < 0xdc00 || d > 0xdfff) return -1;
      n += 4;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return -1;
    else n += 3;
  }
  return n;
}

/** Maps a UTF-16 code unit so that comparing mapped units orders strings by code point. */
function codePointRank(c: number): number {
  if (c < 0xd800) return c;
  return c < 0xe000 ? c + 0x2000 : c - 0x800;
}

/**
 * Orders well-formed strings by code point, which is the order of their UTF-8 bytes (the order
 * every client library sorts keys in), not JS's UTF-16 order.
 */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** Lexicographic order of bytes. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** A lease name, holder or client id: 1..maxBytes UTF-8 bytes, well-formed, no control chars. */
export function isValidName(value: unknown, maxBytes: number): value is string {
  if (typeof value !== 'string' || value.length === 0) return false;
  const n = utf8Length(value);
  return n >= 1 && n <= maxBytes && !CONTROL.test(value);
}
