/**
 * Low-level helpers for turning decoded protobuf values (untrusted peer input) into core values.
 * Helpers throw WireError; the public decoders catch it and return `{ ok: false, error }`.
 */
import { isValidNodeId } from '../core/confchange.js';

export class WireError extends Error {
  override readonly name = 'WireError';
}

export function fail(message: string): never {
  throw new WireError(message);
}

/** A node id by the core's rule (non-empty, at most 255 chars, no whitespace or control chars). */
export function nodeId(value: unknown, field: string): string {
  if (!isValidNodeId(value)) fail(`${field}: invalid node id`);
  return value;
}

/** A node id, or the empty string meaning "none". */
export function optionalNodeId(value: unknown, field: string): string {
  if (value === undefined || value === null || value === '') return '';
  return nodeId(value, field);
}

/** 2^53 = 0x0020_0000_0000_0000: the smallest uint64 whose high word exceeds this is unsafe. */
const MAX_SAFE_HIGH = 0x1f_ffff;

/**
 * A decoded uint64 (a Long-like `{ low, high }` or a number, depending on whether protobufjs found
 * the `long` package) as an exact JS number, or fails if it exceeds Number.MAX_SAFE_INTEGER.
 */
export function u64(value: unknown, field: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return value;
    fail(`${field}: not a non-negative safe integer`);
  }
  if (typeof value === 'object') {
    const { low, high } = value as { low?: unknown; high?: unknown };
    if (typeof low === 'number' && typeof high === 'number') {
      const hi = high >>> 0;
      if (hi > MAX_SAFE_HIGH) fail(`${field}: exceeds Number.MAX_SAFE_INTEGER`);
      return hi * 0x1_0000_0000 + (low >>> 0);
    }
  }
  return fail(`${field}: not an integer`);
}

/** A decoded bytes field as a fresh Uint8Array (not a view into the input buffer). */
export function bytes(value: unknown, field: string): Uint8Array {
  if (value === undefined || value === null) return new Uint8Array(0);
  if (value instanceof Uint8Array) return new Uint8Array(value);
  return fail(`${field}: not bytes`);
}

export function bool(value: unknown, field: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === 'boolean') return value;
  return fail(`${field}: not a boolean`);
}

export function list(value: unknown, field: string): readonly unknown[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value;
  return fail(`${field}: not a list`);
}

/** Looks up a decoded enum number; unknown (and the proto3 zero "unspecified") values fail. */
export function enumValue<T>(table: ReadonlyMap<number, T>, value: unknown, field: string): T {
  const key = value === undefined || value === null ? 0 : value;
  const found = typeof key === 'number' ? table.get(key) : undefined;
  if (found === undefined) fail(`${field}: unknown value ${String(key)}`);
  return found;
}

/** Runs a decoder over untrusted bytes; never throws. */
export function guard<T>(decode: () => T): { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string } {
  try {
    return { ok: true, value: decode() };
  } catch (err: unknown) {
    if (err instanceof WireError) return { ok: false, error: err.message };
    const detail = err instanceof Error ? err.message : String(err);
    return { ok: false, error: `malformed protobuf: ${detail}` };
  }
}
