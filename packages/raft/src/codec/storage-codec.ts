import { hubha } from '@hubha/proto/raft';
import type { Entry, HardState, Snapshot } from '../core/types.js';
import { entryFromWire, entryToWire, hardStateFromWire, hardStateToWire, snapshotFromWire, snapshotToWire } from './convert.js';
import { guard } from './wire.js';

const pb = hubha.raft;

/** The result of decoding a stored value; decoders never throw on bad bytes. */
export type Decoded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

export function encodeHardState(h: HardState): Uint8Array {
  return pb.HardState.encode(hardStateToWire(h)).finish();
}

export function decodeHardState(data: Uint8Array): Decoded<HardState> {
  return guard(() => hardStateFromWire(pb.HardState.decode(data)));
}

export function encodeEntry(e: Entry): Uint8Array {
  return pb.Entry.encode(entryToWire(e)).finish();
}

export function decodeEntry(data: Uint8Array): Decoded<Entry> {
  return guard(() => entryFromWire(pb.Entry.decode(data), 'entry'));
}

export function encodeSnapshot(s: Snapshot): Uint8Array {
  return pb.Snapshot.encode(snapshotToWire(s)).finish();
}

export function decodeSnapshot(data: Uint8Array): Decoded<Snapshot> {
  return guard(() => snapshotFromWire(pb.Snapshot.decode(data), 'snapshot'));
}
