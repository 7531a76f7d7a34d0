import type { hubha } from '@hubha/proto/raft';
import type { ConfState, Entry, HardState, Snapshot, SnapshotMeta } from '../core/types.js';
import { entryTypes, toWire } from './enums.js';
import { bytes, enumValue, fail, list, nodeId, optionalNodeId, u64 } from './wire.js';

/** Core values ↔ the generated protobuf shapes, validating on the way in. */

type PbEntry = hubha.raft.Entry.$Properties;
type PbHardState = hubha.raft.HardState.$Properties;
type PbConfState = hubha.raft.ConfState.$Properties;
type PbSnapshot = hubha.raft.Snapshot.$Properties;

export function entryToWire(e: Entry): PbEntry {
  return { term: e.term, index: e.index, type: toWire(entryTypes.toWire, e.type, 'entry type'), data: e.data };
}

export function hardStateToWire(h: HardState): PbHardState {
  return { term: h.term, vote: h.vote, commit: h.commit };
}

export function confStateToWire(c: ConfState): PbConfState {
  return { voters: [...c.voters], learners: [...c.learners] };
}

export function snapshotToWire(s: Snapshot): PbSnapshot {
  return { meta: { index: s.meta.index, term: s.meta.term, conf: confStateToWire(s.meta.conf) }, data: s.data };
}

/** An entry: index and term at least 1 (entries are only created by a leader, of term ≥ 1). */
export function entryFromWire(w: PbEntry | null | undefined, field: string): Entry {
  if (w === null || w === undefined) fail(`${field}: missing`);
  const index = u64(w.index, `${field}.index`);
  const term = u64(w.term, `${field}.term`);
  if (index < 1) fail(`${field}.index: must be at least 1`);
  if (term < 1) fail(`${field}.term: must be at least 1`);
  return { term, index, type: enumValue(entryTypes.fromWire, w.type, `${field}.type`), data: bytes(w.data, `${field}.data`) };
}

export function hardStateFromWire(w: PbHardState): HardState {
  return {
    term: u64(w.term, 'hardState.term'),
    vote: optionalNodeId(w.vote, 'hardState.vote'),
    commit: u64(w.commit, 'hardState.commit'),
  };
}

function ids(value: unknown, field: string): string[] {
  return list(value, field).map((id, i) => nodeId(id, `${field}[${i}]`));
}

/** A membership: valid ids, none listed twice, voters and learners disjoint. */
export function confStateFromWire(w: PbConfState | null | undefined, field: string): ConfState {
  if (w === null || w === undefined) fail(`${field}: missing`);
  const voters = ids(w.voters, `${field}.voters`);
  const learners = ids(w.learners, `${field}.learners`);
  const seen = new Set<string>();
  for (const id of [...voters, ...learners]) {
    if (seen.has(id)) fail(`${field}: node ${JSON.stringify(id)} listed twice`);
    seen.add(id);
  }
  return { voters, learners };
}

/**
 * Snapshot metadata: index 0 only with term 0 (the bootstrap snapshot a node starts from, whose
 * membership may even be empty), otherwise a term of at least 1.
 */
function snapshotMetaFromWire(w: PbSnapshot['meta'], field: string): SnapshotMeta {
  if (w === null || w === undefined) fail(`${field}: missing`);
  const index = u64(w.index, `${field}.index`);
  const term = u64(w.term, `${field}.term`);
  if (index === 0 && term !== 0) fail(`${field}.term: must be 0 at index 0`);
  if (index > 0 && term < 1) fail(`${field}.term: must be at least 1`);
  return { index, term, conf: confStateFromWire(w.conf, `${field}.conf`) };
}

export function snapshotFromWire(w: PbSnapshot | null | undefined, field: string): Snapshot {
  if (w === null || w === undefined) fail(`${field}: missing`);
  return { meta: snapshotMetaFromWire(w.meta, `${field}.meta`), data: bytes(w.data, `${field}.data`) };
}
