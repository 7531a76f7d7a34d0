/**
 * The on-disk layout shared by every key-value backed store (LevelDB and the in-memory fake).
 *
 *   meta/identity   JSON {"format":1,"clusterId":…,"nodeId":…}, written once, on first open
 *   meta/hardstate  protobuf HardState (codec/storage-codec.ts)
 *   meta/snapshot   protobuf Snapshot, metadata and data (absent on a node that joined empty)
 *   log/<8 bytes>   protobuf Entry, keyed by its index as a big-endian uint64, so that the byte
 *                   order of the keys (LevelDB's order) is index order
 *
 * Stored entries with an index at or below the snapshot's are compaction leftovers (deleted
 * lazily, after the snapshot is durable) and are ignored; those above it are exactly the log.
 */
import { isValidNodeId } from '../core/confchange.js';
import type { Decoded } from '../codec/storage-codec.js';
import type { StorageIdentity } from './raft-storage.js';

/** Bumped on any incompatible change of the layout; a store of another version is refused. */
export const FORMAT_VERSION = 1;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export const IDENTITY_KEY = encoder.encode('meta/identity');
export const HARD_STATE_KEY = encoder.encode('meta/hardstate');
export const SNAPSHOT_KEY = encoder.encode('meta/snapshot');
export const LOG_PREFIX = encoder.encode('log/');
const LOG_KEY_LENGTH = LOG_PREFIX.length + 8;

/** Largest high word of a uint64 that is still a safe integer (2^53 - 1 = 0x1f_ffff_ffff_ffff). */
const MAX_SAFE_HIGH = 0x1f_ffff;

export function entryKey(index: number): Uint8Array {
  const key = new Uint8Array(LOG_KEY_LENGTH);
  key.set(LOG_PREFIX, 0);
  const view = new DataView(key.buffer);
  view.setUint32(LOG_PREFIX.length, Math.floor(index / 0x1_0000_0000));
  view.setUint32(LOG_PREFIX.length + 4, index >>> 0);
  return key;
}

export type KeyKind =
  | { readonly kind: 'identity' }
  | { readonly kind: 'hardstate' }
  | { readonly kind: 'snapshot' }
  | { readonly kind: 'entry'; readonly index: number }
  | { readonly kind: 'unknown' };

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function hasPrefix(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}

export function classifyKey(key: Uint8Array): KeyKind {
  if (key.length === LOG_KEY_LENGTH && hasPrefix(key, LOG_PREFIX)) {
    const view = new DataView(key.buffer, key.byteOffset, key.byteLength);
    const high = view.getUint32(LOG_PREFIX.length);
    const low = view.getUint32(LOG_PREFIX.length + 4);
    if (high > MAX_SAFE_HIGH) return { kind: 'unknown' };
    return { kind: 'entry', index: high * 0x1_0000_0000 + low };
  }
  if (equalBytes(key, IDENTITY_KEY)) return { kind: 'identity' };
  if (equalBytes(key, HARD_STATE_KEY)) return { kind: 'hardstate' };
  if (equalBytes(key, SNAPSHOT_KEY)) return { kind: 'snapshot' };
  return { kind: 'unknown' };
}

/** A key for error messages: printable ASCII as is, other bytes as \xNN. */
export function describeKey(key: Uint8Array): string {
  let out = '';
  for (const b of key) out += b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  return JSON.stringify(out);
}

export interface StoredIdentity extends StorageIdentity {
  readonly format: number;
}

/** Cluster ids follow the node id rule: non-empty, at most 255 chars, no whitespace or control chars. */
export function isValidClusterId(id: unknown): id is string {
  return isValidNodeId(id);
}

export function encodeIdentity(identity: StorageIdentity): Uint8Array {
  return encoder.encode(JSON.stringify({ format: FORMAT_VERSION, clusterId: identity.clusterId, nodeId: identity.nodeId }));
}

export function decodeIdentity(data: Uint8Array): Decoded<StoredIdentity> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(data));
  } catch (err: unknown) {
    return { ok: false, error: `not UTF-8 JSON (${err instanceof Error ? err.message : String(err)})` };
  }
  if (typeof parsed !== 'object' || parsed === null) return { ok: false, error: 'not a JSON object' };
  const { format, clusterId, nodeId } = parsed as { format?: unknown; clusterId?: unknown; nodeId?: unknown };
  if (typeof format !== 'number' || !Number.isSafeInteger(format) || format < 1) return { ok: false, error: 'format: not a positive integer' };
  if (!isValidClusterId(clusterId)) return { ok: false, error: 'clusterId: invalid' };
  if (!isValidNodeId(nodeId)) return { ok: false, error: 'nodeId: invalid' };
  return { ok: true, value: { format, clusterId, nodeId } };
}
