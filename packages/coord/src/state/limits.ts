/**
 * Limits of the coordination store. They are part of the replicated semantics: a command beyond
 * them is refused identically on every replica, so changing one is a protocol change (every member
 * must run the same limits before a log written under the new ones is applied).
 */

/** Keys: UTF-8 strings of 1..1024 bytes. */
export const MAX_KEY_BYTES = 1024;
/** Values: at most 1 MiB. */
export const MAX_VALUE_BYTES = 1024 * 1024;
/** Lease names, holders and client ids: 1..255 UTF-8 bytes, no control characters. */
export const MAX_NAME_BYTES = 255;

export const MIN_TTL_MS = 500;
export const MAX_TTL_MS = 3_600_000;

export const MAX_METADATA_ENTRIES = 64;
export const MAX_METADATA_KEY_BYTES = 255;
export const MAX_METADATA_VALUE_BYTES = 4096;
/** The sum of the UTF-8 sizes of a metadata map's keys and values. */
export const MAX_METADATA_TOTAL_BYTES = 16 * 1024;

export const MAX_TXN_COMPARES = 128;
/** Per branch (success, failure). */
export const MAX_TXN_OPS = 128;

/** A range read returns at most this many keys (a larger or zero limit means this). */
export const MAX_RANGE_LIMIT = 10_000;

/** The exactly-once session table keeps at most this many clients (least recently used go). */
export const MAX_SESSIONS = 10_000;

/**
 * Lease names ever granted. Their last epochs are kept forever (the fencing epoch must never go
 * back), so their number is bounded: a grant of a new name beyond it is refused (too-many-leases).
 */
export const MAX_LEASE_NAMES = 10_000;

/** The snapshot format written by snapshot() and accepted by restore(). */
export const SNAPSHOT_FORMAT = 1;
