import { decodeEntry, decodeHardState, decodeSnapshot } from '../codec/storage-codec.js';
import type { Entry, HardState, PersistedState, Snapshot } from '../core/types.js';
import type { KvStore } from './kv.js';
import { classifyKey, decodeIdentity, describeKey, FORMAT_VERSION } from './layout.js';
import type { StorageIdentity } from './raft-storage.js';
import { StorageError } from './raft-storage.js';

/** What a store holds, decoded and validated. */
export type StoreContents =
  /** No key at all: a new store (or one whose creation never got to its first write). */
  | { readonly kind: 'empty' }
  | {
      readonly kind: 'state';
      readonly state: PersistedState;
      /** The lowest stored entry index at or below the snapshot's (compaction leftovers), or null. */
      readonly leftoverFrom: number | null;
    };

export function corrupt(path: string, problem: string, cause?: unknown): StorageError {
  return new StorageError('STORAGE_CORRUPT', `${path}: ${problem}`, cause === undefined ? undefined : { cause });
}

export function foreign(path: string, problem: string): StorageError {
  return new StorageError('STORAGE_FOREIGN', `${path}: ${problem}`);
}

/** Reads the whole store and validates it; throws StorageError, never returns a partial state. */
export async function readStore(kv: KvStore, expected: StorageIdentity): Promise<StoreContents> {
  const path = kv.path;
  const pairs = await kv.readAll();
  if (pairs.length === 0) return { kind: 'empty' };

  let identityBytes: Uint8Array | undefined;
  let hardStateBytes: Uint8Array | undefined;
  let snapshotBytes: Uint8Array | undefined;
  const stored: Array<{ readonly index: number; readonly value: Uint8Array }> = [];
  const unknown: string[] = [];
  for (const [key, value] of pairs) {
    const kind = classifyKey(key);
    switch (kind.kind) {
      case 'identity':
        identityBytes = value;
        break;
      case 'hardstate':
        hardStateBytes = value;
        break;
      case 'snapshot':
        snapshotBytes = value;
        break;
      case 'entry':
        stored.push({ index: kind.index, value });
        break;
      case 'unknown':
        unknown.push(describeKey(key));
        break;
    }
  }

  // Whose data is this? Decide before judging anything else.
  if (identityBytes === undefined) {
    throw foreign(path, `holds data but no identity record (meta/identity): not a hubha Raft store, refusing to use it`);
  }
  const identity = decodeIdentity(identityBytes);
  if (!identity.ok) throw corrupt(path, `identity record unreadable: ${identity.error}`);
  if (identity.value.format !== FORMAT_VERSION) {
    throw corrupt(path, `store format version ${identity.value.format}, this build reads version ${FORMAT_VERSION}`);
  }
  if (identity.value.clusterId !== expected.clusterId) {
    throw foreign(path, `belongs to cluster ${JSON.stringify(identity.value.clusterId)}, not ${JSON.stringify(expected.clusterId)}`);
  }
  if (identity.value.nodeId !== expected.nodeId) {
    throw foreign(path, `belongs to node ${JSON.stringify(identity.value.nodeId)}, not ${JSON.stringify(expected.nodeId)}`);
  }
  if (unknown.length > 0) {
    const shown = unknown.slice(0, 5).join(', ') + (unknown.length > 5 ? `, … (${unknown.length} in all)` : '');
    throw corrupt(path, `unexpected keys: ${shown}`);
  }

  if (hardStateBytes === undefined) throw corrupt(path, 'identity record present but no hard state (meta/hardstate)');
  const hs = decodeHardState(hardStateBytes);
  if (!hs.ok) throw corrupt(path, `hard state unreadable: ${hs.error}`);
  const hardState: HardState = hs.value;

  let snapshot: Snapshot | null = null;
  if (snapshotBytes !== undefined) {
    const s = decodeSnapshot(snapshotBytes);
    if (!s.ok) throw corrupt(path, `snapshot unreadable: ${s.error}`);
    snapshot = s.value;
  }
  const snapIndex = snapshot?.meta.index ?? 0;
  const snapTerm = snapshot?.meta.term ?? 0;

  let leftoverFrom: number | null = null;
  const entries: Entry[] = [];
  let prevTerm = snapTerm;
  for (const { index, value } of stored) {
    if (index <= snapIndex) {
      // Compacted away (or replaced by a leader's snapshot); deleted lazily after the snapshot.
      leftoverFrom ??= index;
      continue;
    }
    const expectedIndex = snapIndex + 1 + entries.length;
    if (index !== expectedIndex) {
      const after = entries.length > 0 ? `entry ${expectedIndex - 1}` : `the snapshot at ${snapIndex}`;
      throw corrupt(path, `log has a gap: entry ${expectedIndex} is missing (next stored entry after ${after} is ${index})`);
    }
    const decoded = decodeEntry(value);
    if (!decoded.ok) throw corrupt(path, `entry ${index} unreadable: ${decoded.error}`);
    const entry = decoded.value;
    if (entry.index !== index) throw corrupt(path, `entry stored under index ${index} says it is entry ${entry.index}`);
    if (entry.term < prevTerm) {
      const what = entries.length > 0 ? `entry ${index - 1}'s term ${prevTerm}` : `the snapshot's term ${prevTerm} (snapshot at ${snapIndex})`;
      throw corrupt(path, `entry ${index} has term ${entry.term}, below ${what}: terms decrease`);
    }
    prevTerm = entry.term;
    entries.push(entry);
  }

  const lastIndex = snapIndex + entries.length;
  if (hardState.commit > lastIndex) {
    throw corrupt(path, `hard state commit ${hardState.commit} is beyond the last stored log index ${lastIndex}`);
  }
  if (hardState.term < prevTerm) {
    throw corrupt(path, `hard state term ${hardState.term} is below the last log term ${prevTerm}`);
  }
  return { kind: 'state', state: { hardState, snapshot, entries }, leftoverFrom };
}
