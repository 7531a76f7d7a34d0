import { hubha } from '@hubha/proto/raft';
import type { Entry, Message, Snapshot } from '../core/types.js';
import { MessageType } from '../core/types.js';
import { entryFromWire, entryToWire, snapshotFromWire, snapshotToWire } from './convert.js';
import { messageTypes, toWire } from './enums.js';
import { bool, bytes, enumValue, fail, guard, list, nodeId, u64 } from './wire.js';

const pb = hubha.raft;

export type DecodeResult =
  | { readonly ok: true; readonly message: Message }
  | { readonly ok: false; readonly error: string };

/** Encodes a peer message. Does not validate: the core's own messages are trusted. */
export function encodeMessage(m: Message): Uint8Array {
  return pb.Message.encode({
    type: toWire(messageTypes.toWire, m.type, 'message type'),
    from: m.from,
    to: m.to,
    term: m.term,
    logTerm: m.logTerm,
    index: m.index,
    entries: m.entries.map(entryToWire),
    commit: m.commit,
    reject: m.reject,
    rejectHint: m.rejectHint,
    snapshot: m.snapshot === null ? null : snapshotToWire(m.snapshot),
    context: m.context,
  }).finish();
}

/**
 * Decodes and validates a peer message (untrusted input). Never throws. Beyond well-formed
 * protobuf, it requires: a known type; non-empty, bounded `from`/`to`; safe non-negative integers;
 * entries only on App, contiguous from `index + 1`, with terms non-decreasing from `logTerm` and
 * at most `term`; a sane snapshot on Snap and on no other type.
 */
export function decodeMessage(data: Uint8Array): DecodeResult {
  const result = guard(() => messageFromWire(pb.Message.decode(data)));
  return result.ok ? { ok: true, message: result.value } : result;
}

/** Why `m` would be rejected by decodeMessage, or null when it is a valid message. */
export function validateMessage(m: Message): string | null {
  const result = decodeMessage(encodeMessage(m));
  return result.ok ? null : result.error;
}

function messageFromWire(w: hubha.raft.Message): Message {
  const type = enumValue(messageTypes.fromWire, w.type, 'message.type');
  const term = u64(w.term, 'message.term');
  const logTerm = u64(w.logTerm, 'message.logTerm');
  const index = u64(w.index, 'message.index');
  const entries = list(w.entries, 'message.entries').map((e, i) => entryFromWire(e as hubha.raft.Entry, `message.entries[${i}]`));
  checkEntries(type, term, logTerm, index, entries);
  return {
    type,
    from: nodeId(w.from, 'message.from'),
    to: nodeId(w.to, 'message.to'),
    term,
    logTerm,
    index,
    entries,
    commit: u64(w.commit, 'message.commit'),
    reject: bool(w.reject, 'message.reject'),
    rejectHint: u64(w.rejectHint, 'message.rejectHint'),
    snapshot: checkSnapshot(type, term, w.snapshot),
    context: bytes(w.context, 'message.context'),
  };
}

function checkEntries(type: MessageType, term: number, logTerm: number, index: number, entries: readonly Entry[]): void {
  if (entries.length === 0) return;
  if (type !== MessageType.App) fail(`message.entries: not allowed on ${type}`);
  let prevIndex = index;
  let prevTerm = logTerm;
  entries.forEach((e, i) => {
    if (e.index !== prevIndex + 1) fail(`message.entries[${i}].index: ${e.index} does not follow ${prevIndex}`);
    if (e.term < prevTerm) fail(`message.entries[${i}].term: ${e.term} is below the preceding term ${prevTerm}`);
    if (e.term > term) fail(`message.entries[${i}].term: ${e.term} is above the message term ${term}`);
    prevIndex = e.index;
    prevTerm = e.term;
  });
}

/** A snapshot a leader sends is never the bootstrap one: index ≥ 1, at least one voter. */
function checkSnapshot(type: MessageType, term: number, w: hubha.raft.Message['snapshot']): Snapshot | null {
  if (type !== MessageType.Snap) {
    if (w !== null && w !== undefined) fail(`message.snapshot: not allowed on ${type}`);
    return null;
  }
  const snapshot = snapshotFromWire(w, 'message.snapshot');
  const { index, term: snapTerm, conf } = snapshot.meta;
  if (index < 1) fail('message.snapshot.meta.index: must be at least 1');
  if (conf.voters.length === 0) fail('message.snapshot.meta.conf.voters: empty');
  if (snapTerm > term) fail(`message.snapshot.meta.term: ${snapTerm} is above the message term ${term}`);
  return snapshot;
}
