import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { Level } from 'level';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeEntry, encodeHardState, encodeSnapshot } from '../src/codec/storage-codec.js';
import { RaftCore } from '../src/core/raft.js';
import type { ConfState, Entry, HardState, PersistedState, Snapshot } from '../src/core/types.js';
import { EntryType } from '../src/core/types.js';
import { INLINE_DELETE_LIMIT } from '../src/storage/kv-storage.js';
import { classifyKey, entryKey, HARD_STATE_KEY, IDENTITY_KEY, SNAPSHOT_KEY } from '../src/storage/layout.js';
import type { KvRaftStorage, PersistBatch, StorageIdentity } from '../src/storage/index.js';
import { LevelRaftStorage, MemoryDisk, MemoryRaftStorage, StorageError } from '../src/storage/index.js';

// ---------------------------------------------------------------------------------------------
// Fixtures

const ID: StorageIdentity = { clusterId: 'c1', nodeId: 'n1' };
const CONF: ConfState = { voters: ['n3', 'n1', 'n2'], learners: [] };
const enc = new TextEncoder();

const ent = (index: number, term: number, tag = ''): Entry => ({ index, term, type: EntryType.Normal, data: enc.encode(`e${index}t${term}${tag}`) });
const ents = (from: number, to: number, term: number, tag = ''): Entry[] => {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(ent(i, term, tag));
  return out;
};
const hs = (term: number, vote: string, commit: number): HardState => ({ term, vote, commit });
const snap = (index: number, term: number, conf: ConfState = { voters: ['n1', 'n2', 'n3'], learners: [] }): Snapshot => ({
  meta: { index, term, conf },
  data: enc.encode(`state@${index}`),
});
const batch = (b: Partial<PersistBatch>): PersistBatch => ({ hardState: null, snapshot: null, entries: [], ...b });

const tempDirs: string[] = [];
const openStores: KvRaftStorage[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hubha-storage-'));
  tempDirs.push(dir);
  return dir;
}

afterEach(async () => {
  await Promise.all(openStores.splice(0).map((s) => s.close().catch(() => undefined)));
  await Promise.all(tempDirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** Direct access to the stored keys, bypassing the store (which must be closed). */
interface Raw {
  keys(): Promise<Uint8Array[]>;
  put(key: Uint8Array, value: Uint8Array): Promise<void>;
  del(key: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** Somewhere a store lives: a LevelDB directory or a MemoryDisk. */
interface Place {
  readonly path: string;
  /** Opens a store; by default one of a node that will join a cluster (no bootstrap entries). */
  open(identity?: StorageIdentity, bootstrap?: ConfState | null): Promise<KvRaftStorage>;
  raw(): Promise<Raw>;
}

async function levelPlace(): Promise<Place> {
  const dir = join(await tempDir(), 'raft');
  return {
    path: dir,
    async open(identity = ID, bootstrap = null) {
      const s = await LevelRaftStorage.open({ dir, identity, bootstrap });
      openStores.push(s);
      return s;
    },
    async raw() {
      const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
      await db.open();
      return {
        keys: async () => (await db.keys().all()).map((k) => new Uint8Array(k)),
        put: (k, v) => db.put(k, v),
        del: (k) => db.del(k),
        close: () => db.close(),
      };
    },
  };
}

async function memoryPlace(): Promise<Place> {
  const disk = new MemoryDisk('n1');
  return {
    path: 'memory:n1',
    async open(identity = ID, bootstrap = null) {
      const s = await MemoryRaftStorage.open({ disk, identity, bootstrap });
      openStores.push(s);
      return s;
    },
    async raw() {
      return {
        keys: async () => disk.rawKeys(),
        put: async (k, v) => disk.rawPut(k, v),
        del: async (k) => disk.rawDelete(k),
        close: async () => undefined,
      };
    },
  };
}

async function storedEntryIndexes(place: Place): Promise<number[]> {
  const raw = await place.raw();
  try {
    const out: number[] = [];
    for (const key of await raw.keys()) {
      const kind = classifyKey(key);
      if (kind.kind === 'entry') out.push(kind.index);
    }
    return out;
  } finally {
    await raw.close();
  }
}

async function rawEdit(place: Place, edit: (raw: Raw) => Promise<void>): Promise<void> {
  const raw = await place.raw();
  try {
    await edit(raw);
  } finally {
    await raw.close();
  }
}

async function expectRefused(p: Promise<unknown>, code: StorageError['code'], ...phrases: string[]): Promise<StorageError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StorageError);
  const se = err as StorageError;
  expect(se.code, se.message).toBe(code);
  for (const phrase of phrases) expect(se.message).toContain(phrase);
  return se;
}

/** The reference semantics of the Ready contract's persistence (as TestCluster/SimDisk do it). */
class Model {
  hardState: HardState;
  snapshot: Snapshot | null;
  entries: Entry[];

  constructor(initial: PersistedState) {
    this.hardState = initial.hardState;
    this.snapshot = initial.snapshot;
    this.entries = [...initial.entries];
  }

  snapIndex(): number {
    return this.snapshot?.meta.index ?? 0;
  }

  lastIndex(): number {
    return this.snapIndex() + this.entries.length;
  }

  termAt(index: number): number {
    if (index === this.snapIndex()) return this.snapshot?.meta.term ?? 0;
    return this.entries[index - this.snapIndex() - 1]!.term;
  }

  lastTerm(): number {
    return this.termAt(this.lastIndex());
  }

  persist(b: PersistBatch): void {
    if (b.snapshot !== null) {
      this.snapshot = b.snapshot;
      this.entries = [];
    }
    if (b.entries.length > 0) {
      const first = b.entries[0]!.index;
      this.entries = [...this.entries.filter((e) => e.index < first), ...b.entries];
    }
    if (b.hardState !== null) this.hardState = b.hardState;
  }

  saveSnapshot(s: Snapshot): void {
    if (s.meta.index < this.snapIndex()) return;
    this.entries = this.entries.filter((e) => e.index > s.meta.index);
    this.snapshot = s;
  }

  state(): PersistedState {
    return { hardState: this.hardState, snapshot: this.snapshot, entries: [...this.entries] };
  }
}

// ---------------------------------------------------------------------------------------------
// Both stores: the same semantics

describe.each([
  ['LevelRaftStorage', levelPlace],
  ['MemoryRaftStorage', memoryPlace],
] as const)('%s', (_name, makePlace) => {
  it('bootstraps a new store as RaftCore.bootstrapState, and a joining node with empty membership', async () => {
    const place = await makePlace();
    const s = await place.open(ID, CONF);
    expect(await s.load()).toEqual(RaftCore.bootstrapState(CONF));
    await s.close();
    // A later open ignores `bootstrap`: the store has data.
    const again = await place.open(ID, { voters: ['x'], learners: [] });
    expect(await again.load()).toEqual(RaftCore.bootstrapState(CONF));

    const joiner = await (await makePlace()).open(ID, null);
    expect(await joiner.load()).toEqual(RaftCore.bootstrapState({ voters: [], learners: [] }));
    expect((await joiner.load()).entries).toEqual([]);

    await expect((await makePlace()).open(ID, { voters: ['a', 'a'], learners: [] })).rejects.toThrow(/bootstrap membership invalid.*listed twice/);
  });

  it('round-trips every write kind, and a restart recovers exactly the persisted state', async () => {
    const place = await makePlace();
    let s = await place.open();
    const model = new Model(await s.load());
    const check = async (): Promise<void> => {
      expect(await s.load()).toEqual(model.state());
      await s.close();
      s = await place.open();
      expect(await s.load()).toEqual(model.state());
    };

    const writes: Array<PersistBatch | Snapshot> = [
      batch({ hardState: hs(1, 'n1', 0) }), // a vote alone
      batch({ entries: ents(1, 5, 1) }), // entries alone
      batch({ entries: ents(6, 8, 1), hardState: hs(1, 'n1', 6) }), // entries and hard state
      snap(4, 1), // a local snapshot (compaction)
      batch({ entries: [{ index: 9, term: 2, type: EntryType.ConfChange, data: enc.encode('{"type":"add-learner","node":"n4"}') }], hardState: hs(2, '', 8) }),
      batch({ snapshot: snap(20, 3, { voters: ['n1', 'n2'], learners: ['n4'] }), hardState: hs(3, 'n2', 20) }), // a leader's snapshot
      batch({ snapshot: snap(30, 3), entries: ents(31, 33, 3), hardState: hs(3, 'n2', 31) }), // snapshot, entries, hard state at once
      batch({ entries: [{ index: 34, term: 4, type: EntryType.Normal, data: new Uint8Array(0) }], hardState: hs(4, 'n1', 33) }), // empty data
    ];
    for (const w of writes) {
      if ('meta' in w) {
        await s.saveSnapshot(w);
        model.saveSnapshot(w);
      } else {
        await s.persist(w);
        model.persist(w);
      }
      await check();
    }
    await s.close();
    expect(await storedEntryIndexes(place)).toEqual([31, 32, 33, 34]);
  });

  it('overwrites the log from the first new entry on, dropping what was stored after it', async () => {
    const place = await makePlace();
    const s = await place.open();
    await s.persist(batch({ entries: ents(1, 10, 1), hardState: hs(1, 'n1', 3) }));
    await s.persist(batch({ entries: ents(6, 8, 2, 'new'), hardState: hs(2, 'n2', 3) }));
    const expected = [...ents(1, 5, 1), ...ents(6, 8, 2, 'new')];
    expect((await s.load()).entries).toEqual(expected);
    // Overwriting the last few in place (same length).
    await s.persist(batch({ entries: ents(7, 8, 3, 'again'), hardState: hs(3, 'n3', 3) }));
    expect((await s.load()).entries).toEqual([...ents(1, 5, 1), ent(6, 2, 'new'), ...ents(7, 8, 3, 'again')]);
    await s.close();
    expect(await storedEntryIndexes(place)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const back = await place.open();
    expect((await back.load()).entries.map((e) => `${e.index}/${e.term}`)).toEqual(['1/1', '2/1', '3/1', '4/1', '5/1', '6/2', '7/3', '8/3']);
  });

  it("a leader's snapshot replaces the whole stored log, before, at or beyond its end", async () => {
    for (const at of [4, 10, 15]) {
      const place = await makePlace();
      const s = await place.open();
      await s.persist(batch({ entries: ents(1, 10, 1), hardState: hs(1, 'n1', 2) }));
      await s.persist(batch({ snapshot: snap(at, 2), hardState: hs(2, '', at) }));
      expect(await s.load()).toEqual({ hardState: hs(2, '', at), snapshot: snap(at, 2), entries: [] });
      await s.persist(batch({ entries: ents(at + 1, at + 2, 2) }));
      await s.close();
      const back = await place.open();
      expect(await back.load()).toEqual({ hardState: hs(2, '', at), snapshot: snap(at, 2), entries: ents(at + 1, at + 2, 2) });
      await back.close();
      // Nothing above the snapshot survives but the new entries; leftovers below it are gone too.
      expect(await storedEntryIndexes(place)).toEqual([at + 1, at + 2]);
    }
  });

  it('a local snapshot compacts the log: inline for a few entries, in range deletes for many', async () => {
    const place = await makePlace();
    const s = await place.open();
    const n = INLINE_DELETE_LIMIT * 3;
    for (let from = 1; from <= n; from += 500) await s.persist(batch({ entries: ents(from, Math.min(n, from + 499), 1), hardState: hs(1, 'n1', Math.min(n, from + 499)) }));
    await s.saveSnapshot(snap(10, 1));
    expect((await s.load()).entries[0]!.index).toBe(11);
    await s.saveSnapshot(snap(n - 5, 1)); // more than INLINE_DELETE_LIMIT: deleted after the synced write
    expect(await s.load()).toEqual({ hardState: hs(1, 'n1', n), snapshot: snap(n - 5, 1), entries: ents(n - 4, n, 1) });
    await s.saveSnapshot(snap(20, 1)); // older than the stored snapshot: ignored
    expect((await s.load()).snapshot).toEqual(snap(n - 5, 1));
    await s.close();
    expect(await storedEntryIndexes(place)).toEqual([n - 4, n - 3, n - 2, n - 1, n]);
  });

  it('ignores and then deletes entries left at or below the snapshot (a crash before their deletion)', async () => {
    const place = await makePlace();
    let s = await place.open();
    await s.persist(batch({ entries: ents(1, 6, 1), hardState: hs(2, 'n1', 6) }));
    await s.saveSnapshot(snap(4, 1));
    await s.close();
    // As if the process died after the snapshot's batch, before deleting entries 1..4; one even
    // from an older, divergent log (term 2 at index 3).
    await rawEdit(place, async (raw) => {
      for (const e of [ent(1, 1), ent(2, 1), ent(3, 2), ent(4, 1)]) await raw.put(entryKey(e.index), encodeEntry(e));
    });
    s = await place.open();
    expect(await s.load()).toEqual({ hardState: hs(2, 'n1', 6), snapshot: snap(4, 1), entries: ents(5, 6, 1) });
    await s.close();
    expect(await storedEntryIndexes(place)).toEqual([5, 6]);
  });

  it('refuses writes that would leave an invalid store, writing nothing', async () => {
    const place = await makePlace();
    const s = await place.open();
    await s.persist(batch({ entries: ents(1, 5, 2), hardState: hs(3, 'n1', 2) }));
    await s.saveSnapshot(snap(2, 2));
    const before = await s.load();
    const refusals: Array<[Promise<void>, string]> = [
      [s.persist(batch({ entries: ents(8, 9, 3) })), 'leave a gap after the last index 5'],
      [s.persist(batch({ entries: ents(2, 3, 3) })), 'overlap the snapshot at 2'],
      [s.persist(batch({ entries: [ent(6, 3), ent(8, 3)] })), 'not contiguous'],
      [s.persist(batch({ entries: ents(6, 6, 1) })), "below its predecessor's 2"],
      [s.persist(batch({ entries: [ent(6, 3), ent(7, 2)] })), "below its predecessor's 3"],
      [s.persist(batch({ entries: ents(6, 6, 4) })), 'below the last log term 4'],
      [s.persist(batch({ hardState: hs(3, 'n1', 6) })), 'commit 6 would be beyond the last log index 5'],
      [s.persist(batch({ entries: ents(3, 3, 3), hardState: hs(3, 'n1', 5) })), 'commit 5 would be beyond the last log index 3'],
      [s.persist(batch({ hardState: hs(2, 'n1', 2) })), 'term 2 below the stored term 3'],
      [s.persist(batch({ hardState: hs(3, 'n2', 2) })), 'changes the vote in term 3'],
      [s.persist(batch({ hardState: hs(4, 'bad id', 2) })), 'is not a node id'],
      [s.persist(batch({ entries: [{ ...ent(6, 3), term: 1.5 }] })), 'not a positive safe integer'],
      [s.persist(batch({ snapshot: snap(7, 0) })), 'invalid snapshot'],
      [s.persist(batch({ snapshot: snap(7, 3, { voters: ['n1', 'n1'], learners: [] }) })), 'listed twice'],
      [s.saveSnapshot(snap(9, 2)), 'beyond the last stored index 5'],
      [s.saveSnapshot(snap(4, 3)), 'has term 3, the stored log has term 2'],
    ];
    for (const [p, phrase] of refusals) await expectRefused(p, 'STORAGE_CORRUPT', place.path, phrase);
    expect(await s.load()).toEqual(before);
    await s.close();
    expect(await (await place.open()).load()).toEqual(before);
  });

  it('refuses a store of another cluster or another node, naming the path', async () => {
    const place = await makePlace();
    await (await place.open()).close();
    await expectRefused(place.open({ clusterId: 'c2', nodeId: 'n1' }), 'STORAGE_FOREIGN', place.path, 'belongs to cluster "c1", not "c2"');
    await expectRefused(place.open({ clusterId: 'c1', nodeId: 'n2' }), 'STORAGE_FOREIGN', place.path, 'belongs to node "n1", not "n2"');
    // And it is still intact for its owner.
    expect(await (await place.open()).load()).toEqual(RaftCore.bootstrapState({ voters: [], learners: [] }));
  });

  describe('refuses damaged stores on open', () => {
    /** A store with a snapshot at 2 (term 1), entries 3..6 (terms 1,1,2,2) and commit 5; closed. */
    async function damaged(edit: (raw: Raw) => Promise<void>): Promise<Place> {
      const place = await makePlace();
      const s = await place.open();
      await s.persist(batch({ entries: [...ents(1, 4, 1), ...ents(5, 6, 2)], hardState: hs(2, 'n1', 5) }));
      await s.saveSnapshot(snap(2, 1));
      await s.close();
      await rawEdit(place, edit);
      return place;
    }

    const cases: Array<[string, (raw: Raw) => Promise<void>, string]> = [
      ['garbage bytes under an entry key', (raw) => raw.put(entryKey(4), Uint8Array.from([0xff, 0xff, 0xff, 0x07, 0x01])), 'entry 4 unreadable'],
      ['an entry stored under the wrong index', (raw) => raw.put(entryKey(4), encodeEntry(ent(5, 1))), 'stored under index 4 says it is entry 5'],
      ['a missing entry (gap)', (raw) => raw.del(entryKey(4)), 'gap: entry 4 is missing (next stored entry after entry 3 is 5)'],
      ['a gap right after the snapshot', (raw) => raw.del(entryKey(3)), 'entry 3 is missing (next stored entry after the snapshot at 2 is 4)'],
      ['terms that decrease', (raw) => raw.put(entryKey(6), encodeEntry(ent(6, 1))), 'entry 6 has term 1, below entry 5'],
      ['a snapshot term above the following entry', (raw) => raw.put(SNAPSHOT_KEY, encodeSnapshot(snap(2, 2))), "below the snapshot's term 2"],
      ['a snapshot with a term at index 0', (raw) => raw.put(SNAPSHOT_KEY, encodeSnapshot(snap(0, 1))), 'snapshot unreadable'],
      ['garbage bytes as the snapshot', (raw) => raw.put(SNAPSHOT_KEY, Uint8Array.from([0x0a, 0x09])), 'snapshot unreadable'],
      ['a commit beyond the log', (raw) => raw.put(HARD_STATE_KEY, encodeHardState(hs(2, 'n1', 7))), 'commit 7 is beyond the last stored log index 6'],
      ['a hard state term below the log', (raw) => raw.put(HARD_STATE_KEY, encodeHardState(hs(1, 'n1', 5))), 'hard state term 1 is below the last log term 2'],
      ['garbage bytes as the hard state', (raw) => raw.put(HARD_STATE_KEY, Uint8Array.from([0x08])), 'hard state unreadable'],
      ['no hard state', (raw) => raw.del(HARD_STATE_KEY), 'identity record present but no hard state'],
      ['an unreadable identity', (raw) => raw.put(IDENTITY_KEY, enc.encode('{"format":1')), 'identity record unreadable'],
      ['another format version', (raw) => raw.put(IDENTITY_KEY, enc.encode('{"format":2,"clusterId":"c1","nodeId":"n1"}')), 'format version 2'],
      ['an unexpected key', (raw) => raw.put(enc.encode('zzz'), enc.encode('?')), 'unexpected keys: "zzz"'],
      ['an entry key beyond 2^53', (raw) => raw.put(Uint8Array.from([...enc.encode('log/'), 0xff, 0, 0, 0, 0, 0, 0, 1]), encodeEntry(ent(1, 1))), 'unexpected keys: "log/\\\\xff'],
    ];
    for (const [what, edit, phrase] of cases) {
      it(what, async () => {
        const place = await damaged(edit);
        await expectRefused(place.open(), 'STORAGE_CORRUPT', place.path, phrase);
      });
    }

    it('data without an identity record is foreign, never started over', async () => {
      const place = await damaged((raw) => raw.del(IDENTITY_KEY));
      await expectRefused(place.open(), 'STORAGE_FOREIGN', place.path, 'no identity record');
    });
  });

  it('is closed after close() (idempotent), and a second store cannot open the same place', async () => {
    const place = await makePlace();
    const s = await place.open();
    await expectRefused(place.open(), 'STORAGE_IO', place.path);
    await Promise.all([s.close(), s.close()]);
    await s.close();
    await expectRefused(s.load(), 'STORAGE_CLOSED', place.path);
    await expectRefused(s.persist(batch({ hardState: hs(1, '', 0) })), 'STORAGE_CLOSED');
    await expectRefused(s.saveSnapshot(snap(0, 0)), 'STORAGE_CLOSED');
    await (await place.open()).close();
  });

  it('serializes concurrent writes in call order; close waits for them', async () => {
    const place = await makePlace();
    const s = await place.open();
    const writes: Array<Promise<void>> = [];
    for (let i = 1; i <= 50; i++) writes.push(s.persist(batch({ entries: [ent(i, 1)], hardState: hs(1, 'n1', i - 1) })));
    writes.push(s.saveSnapshot(snap(25, 1)));
    const closed = s.close();
    await Promise.all(writes);
    await closed;
    const back = await place.open();
    expect(await back.load()).toEqual({ hardState: hs(1, 'n1', 49), snapshot: snap(25, 1), entries: ents(26, 50, 1) });
  });
});

// ---------------------------------------------------------------------------------------------
// Property: random write sequences (with restarts) against the reference model

type Op =
  | { readonly kind: 'append'; readonly a: number; readonly b: number; readonly bump: boolean }
  | { readonly kind: 'leader-snap'; readonly a: number; readonly b: number; readonly bump: boolean }
  | { readonly kind: 'local-snap'; readonly a: number }
  | { readonly kind: 'vote'; readonly bump: boolean }
  | { readonly kind: 'restart' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('append' as const), a: fc.nat(), b: fc.nat(), bump: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('leader-snap' as const), a: fc.nat(), b: fc.nat(), bump: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('local-snap' as const), a: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('vote' as const), bump: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const) }) },
);

/** Turns a generated op into a valid write for the model's current state. */
function writeFor(model: Model, op: Exclude<Op, { kind: 'restart' }>): PersistBatch | Snapshot {
  const h = model.hardState;
  const snapIndex = model.snapIndex();
  const last = model.lastIndex();
  switch (op.kind) {
    case 'append': {
      const first = snapIndex + 1 + (op.a % (last - snapIndex + 1));
      const n = 1 + (op.b % 4);
      const term = Math.max(model.termAt(first - 1), h.term, 1) + (op.bump ? 1 : 0);
      const newLast = first + n - 1;
      const hardState = term > h.term ? hs(term, 'n1', Math.min(h.commit, newLast)) : hs(h.term, h.vote, Math.min(newLast, h.commit + (op.a % 3)));
      return batch({ entries: ents(first, newLast, term, `#${op.b}`), hardState });
    }
    case 'leader-snap': {
      const index = Math.max(1, last + (op.a % 9) - 4);
      const term = Math.max(h.term, model.lastTerm(), 1) + (op.bump ? 1 : 0);
      const entries = op.b % 2 === 0 ? ents(index + 1, index + 1 + (op.b % 3), term) : [];
      const vote = term > h.term ? '' : h.vote;
      return batch({ snapshot: snap(index, term), entries, hardState: hs(term, vote, index) });
    }
    case 'local-snap': {
      const index = snapIndex + (op.a % (last - snapIndex + 1));
      return { meta: { index, term: model.termAt(index), conf: { voters: ['n1'], learners: [] } }, data: enc.encode(`local@${index}`) };
    }
    case 'vote':
      return batch({ hardState: op.bump || h.vote === '' ? hs(h.term + (op.bump ? 1 : 0), 'n2', h.commit) : h });
  }
}

async function runOps(place: Place, ops: readonly Op[], bootstrap: ConfState | null): Promise<void> {
  let s = await place.open(ID, bootstrap);
  const model = new Model(await s.load());
  for (const op of ops) {
    if (op.kind === 'restart') {
      await s.close();
      s = await place.open(ID, bootstrap);
    } else {
      const w = writeFor(model, op);
      if ('meta' in w) {
        await s.saveSnapshot(w);
        model.saveSnapshot(w);
      } else {
        await s.persist(w);
        model.persist(w);
      }
    }
    expect(await s.load()).toEqual(model.state());
  }
  await s.close();
  // What is stored is exactly the log after the snapshot (leftovers deleted by close).
  const first = model.snapIndex() + 1;
  expect(await storedEntryIndexes(place)).toEqual(model.entries.map((_, k) => first + k));
}

describe('random write sequences match the reference model', () => {
  it('MemoryRaftStorage', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 40 }), fc.boolean(), async (ops, join) => {
        await runOps(await memoryPlace(), ops, join ? null : CONF);
      }),
      { numRuns: 200 },
    );
  });

  it('LevelRaftStorage', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 25 }), fc.boolean(), async (ops, join) => {
        await runOps(await levelPlace(), ops, join ? null : CONF);
      }),
      { numRuns: 12 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// MemoryRaftStorage specifics

describe('MemoryRaftStorage', () => {
  it('is fail-stop after a failed write: refuses until reopened, and nothing of the batch is stored', async () => {
    const disk = new MemoryDisk('flaky');
    const s = await MemoryRaftStorage.open({ disk, identity: ID, bootstrap: CONF });
    await s.persist(batch({ entries: ents(1, 2, 1), hardState: hs(1, 'n1', 1) }));
    disk.failNextWrite(new Error('EIO: disk on fire'));
    await expectRefused(s.persist(batch({ entries: ents(3, 3, 1) })), 'STORAGE_IO', 'memory:flaky', 'EIO: disk on fire', 'until reopened');
    await expectRefused(s.persist(batch({ entries: ents(3, 3, 1) })), 'STORAGE_IO', 'EIO: disk on fire');
    await expectRefused(s.load(), 'STORAGE_IO');
    await s.close();
    const back = await MemoryRaftStorage.open({ disk, identity: ID, bootstrap: CONF });
    expect((await back.load()).entries).toEqual(ents(1, 2, 1));
    await back.close();
  });

  it('load() after writes re-reads and re-validates the disk', async () => {
    const disk = new MemoryDisk('re-read');
    const s = await MemoryRaftStorage.open({ disk, identity: ID, bootstrap: CONF });
    await s.persist(batch({ entries: ents(1, 3, 1), hardState: hs(1, 'n1', 1) }));
    disk.rawDelete(entryKey(2));
    await expectRefused(s.load(), 'STORAGE_CORRUPT', 'memory:re-read', 'entry 2 is missing');
    await s.close();
  });
});

// ---------------------------------------------------------------------------------------------
// LevelRaftStorage specifics

async function dirSize(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) total += (await stat(join(dir, name))).size;
  return total;
}

describe('LevelRaftStorage on disk', () => {
  it('refuses a directory that is not a LevelDB, and a path that is a file', async () => {
    const base = await tempDir();
    const notLevel = join(base, 'home');
    await mkdir(notLevel);
    await writeFile(join(notLevel, 'notes.txt'), 'my precious notes');
    await expectRefused(LevelRaftStorage.open({ dir: notLevel, identity: ID, bootstrap: CONF }), 'STORAGE_FOREIGN', notLevel, 'not a LevelDB directory', 'notes.txt');
    expect(await readdir(notLevel)).toEqual(['notes.txt']);
    const file = join(base, 'file');
    await writeFile(file, 'x');
    await expectRefused(LevelRaftStorage.open({ dir: file, identity: ID, bootstrap: CONF }), 'STORAGE_FOREIGN', file, 'not a directory');
  });

  it('refuses a LevelDB of something else, and starts in an empty existing directory', async () => {
    const base = await tempDir();
    const other = join(base, 'other');
    const db = new Level<string, string>(other);
    await db.put('user:1', 'alice');
    await db.close();
    await expectRefused(LevelRaftStorage.open({ dir: other, identity: ID, bootstrap: CONF }), 'STORAGE_FOREIGN', other, 'no identity record');
    const empty = join(base, 'empty');
    await mkdir(empty);
    const s = await LevelRaftStorage.open({ dir: empty, identity: ID, bootstrap: CONF });
    expect(await s.load()).toEqual(RaftCore.bootstrapState(CONF));
    await s.close();
  });

  it('reports corruption LevelDB itself detects as STORAGE_CORRUPT', async () => {
    const dir = join(await tempDir(), 'raft');
    await (await LevelRaftStorage.open({ dir, identity: ID, bootstrap: CONF })).close();
    await writeFile(join(dir, 'CURRENT'), 'garbage');
    await expectRefused(LevelRaftStorage.open({ dir, identity: ID, bootstrap: CONF }), 'STORAGE_CORRUPT', dir, 'LevelDB reports corruption');
  });

  it('keeps the stored entries and the directory size bounded under a steady stream with periodic snapshots', async () => {
    const dir = join(await tempDir(), 'raft');
    const perBatch = 100;
    const keep = 100; // entries kept behind each snapshot
    const payload = 1000;
    const rounds = 160; // 16,000 entries, ~16 MB of (incompressible) payload written in all
    let s = await LevelRaftStorage.open({ dir, identity: ID, bootstrap: null });
    let last = 0;
    const samples: Array<{ round: number; entries: number; bytes: number }> = [];
    for (let round = 1; round <= rounds; round++) {
      const entries: Entry[] = [];
      for (let i = 1; i <= perBatch; i++) {
        const data = new Uint8Array(randomBytes(payload));
        entries.push({ index: last + i, term: 1, type: EntryType.Normal, data });
      }
      last += perBatch;
      await s.persist(batch({ entries, hardState: hs(1, 'n1', last) }));
      if (last > keep) await s.saveSnapshot({ meta: { index: last - keep, term: 1, conf: CONF }, data: new Uint8Array(2000) });
      if (round % 20 === 0) {
        await s.compactDisk();
        await s.close();
        const raw = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
        const count = (await raw.keys().all()).filter((k) => classifyKey(new Uint8Array(k)).kind === 'entry').length;
        await raw.close();
        samples.push({ round, entries: count, bytes: await dirSize(dir) });
        s = await LevelRaftStorage.open({ dir, identity: ID, bootstrap: null });
      }
    }
    await s.close();
    console.log(`[storage] bounded disk: ${rounds * perBatch} entries of ${payload} B written; samples ${JSON.stringify(samples)}`);
    for (const sample of samples) expect(sample.entries).toBe(keep);
    // The first compaction only flushes LevelDB's memtable (puts and deletes alike) into a table
    // that LevelDB places below level 0, where compactRange does not rewrite it: about the 2 MB
    // written so far. From then on every flush overlaps it (the deletes of the previous window)
    // and is merged away: only the ~100 kB of live entries remain, however much was written.
    expect(samples[0]!.bytes).toBeLessThan(3_000_000);
    for (const sample of samples.slice(1)) expect(sample.bytes).toBeLessThan(500_000);
    expect(samples.at(-1)!.bytes).toBeLessThan(samples[1]!.bytes * 1.5 + 50_000);
  });

  it('measures one persist of a small batch with sync:true (median over 200)', async () => {
    const s = await LevelRaftStorage.open({ dir: join(await tempDir(), 'raft'), identity: ID, bootstrap: null });
    openStores.push(s);
    const times: number[] = [];
    for (let i = 1; i <= 200; i++) {
      const entry: Entry = { index: i, term: 1, type: EntryType.Normal, data: new Uint8Array(100).fill(i & 0xff) };
      const t0 = performance.now();
      await s.persist(batch({ entries: [entry], hardState: hs(1, 'n1', i - 1) }));
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const at = (q: number): string => times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(3);
    console.log(`[storage] persist(1 entry of 100 B + hard state), sync:true, 200 runs: median ${at(0.5)} ms, p10 ${at(0.1)} ms, p90 ${at(0.9)} ms, max ${at(1)} ms`);
    expect(times.length).toBe(200);
  });

  it('survives SIGKILL while writing: load succeeds and every batch reported as persisted is there', async () => {
    const work = await tempDir();
    const dir = join(work, 'raft');
    const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
    const storageUrl = pathToFileURL(fileURLToPath(new URL('../src/storage/index.ts', import.meta.url))).href;

    // The child runs the TypeScript sources directly: a module hook transpiles .ts with the
    // repository's own TypeScript and maps the sources' relative ".js" imports to ".ts".
    const hooks = join(work, 'hooks.mjs');
    await writeFile(
      hooks,
      `import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
const ts = createRequire(${JSON.stringify(join(repoRoot, 'package.json'))})('typescript');
export async function resolve(specifier, context, next) {
  if (context.parentURL?.endsWith('.ts') && specifier.startsWith('.') && specifier.endsWith('.js')) {
    const url = new URL(specifier.slice(0, -3) + '.ts', context.parentURL);
    if (existsSync(fileURLToPath(url))) return { url: url.href, format: 'module', shortCircuit: true };
  }
  return next(specifier, context);
}
export async function load(url, context, next) {
  if (!url.endsWith('.ts')) return next(url, context);
  const source = await readFile(fileURLToPath(url), 'utf8');
  const out = ts.transpileModule(source, { fileName: fileURLToPath(url), compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
  return { format: 'module', source: out.outputText, shortCircuit: true };
}
`,
    );
    const register = join(work, 'register.mjs');
    await writeFile(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
    const child = join(work, 'child.mjs');
    await writeFile(
      child,
      `const [dir, storageUrl] = process.argv.slice(2);
const { LevelRaftStorage } = await import(storageUrl);
const enc = new TextEncoder();
const conf = { voters: ['n1'], learners: [] };
const s = await LevelRaftStorage.open({ dir, identity: { clusterId: 'crash', nodeId: 'n1' }, bootstrap: conf });
const st = await s.load();
let last = (st.snapshot?.meta.index ?? 0) + st.entries.length;
process.stdout.write('start ' + last + '\\n');
for (let b = 1; ; b++) {
  const n = 1 + ((b * 7919) % 40);
  const entries = [];
  for (let i = last + 1; i <= last + n; i++) entries.push({ index: i, term: 1, type: 0, data: enc.encode('entry ' + i + ' ' + 'x'.repeat(i % 97)) });
  await s.persist({ hardState: { term: 1, vote: 'n1', commit: last + n }, snapshot: null, entries });
  last += n;
  process.stdout.write(last + '\\n');
  if (b % 60 === 0) {
    await s.saveSnapshot({ meta: { index: last - 5, term: 1, conf }, data: enc.encode('snap ' + (last - 5)) });
    process.stdout.write('snap ' + (last - 5) + '\\n');
  }
}
`,
    );

    let reportedLast = 0;
    let reportedSnap = 0;
    for (let round = 1; round <= 4; round++) {
      const proc = spawn(process.execPath, ['--import', pathToFileURL(register).href, child, dir, storageUrl], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const killAfter = 150 + Math.floor(Math.random() * 150); // batches
      let batches = 0;
      let buffered = '';
      let started = -1;
      const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => proc.on('exit', (code, signal) => resolveExit({ code, signal })));
      proc.stdout.on('data', (d: Buffer) => {
        buffered += d.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) {
          if (line.startsWith('start ')) started = Number(line.slice(6));
          else if (line.startsWith('snap ')) reportedSnap = Math.max(reportedSnap, Number(line.slice(5)));
          else {
            reportedLast = Math.max(reportedLast, Number(line));
            if (++batches === killAfter) setTimeout(() => proc.kill('SIGKILL'), Math.random() * 5);
          }
        }
      });
      const { signal } = await exit;
      expect(signal, `child exited on its own: ${stderr}`).toBe('SIGKILL');
      // The child restarted from everything it had reported before.
      expect(started).toBeGreaterThanOrEqual(round === 1 ? 0 : 1);

      const s = await LevelRaftStorage.open({ dir, identity: { clusterId: 'crash', nodeId: 'n1' }, bootstrap: { voters: ['n1'], learners: [] } });
      const state = await s.load();
      await s.close();
      const snapIndex = state.snapshot?.meta.index ?? 0;
      const last = snapIndex + state.entries.length;
      expect(last).toBeGreaterThanOrEqual(reportedLast);
      expect(snapIndex).toBeGreaterThanOrEqual(reportedSnap);
      expect(state.hardState.commit).toBeGreaterThanOrEqual(reportedLast);
      expect(state.hardState.commit).toBeLessThanOrEqual(last);
      if (state.snapshot !== null && snapIndex > 0) expect(new TextDecoder().decode(state.snapshot.data)).toBe(`snap ${snapIndex}`);
      for (const e of state.entries) {
        if (e.type === EntryType.ConfChange) continue; // the bootstrap membership, entries 1 and 2
        expect(new TextDecoder().decode(e.data)).toBe(`entry ${e.index} ${'x'.repeat(e.index % 97)}`);
      }
      reportedLast = last;
    }
    expect(reportedSnap).toBeGreaterThan(0); // compactions (some with deferred range deletes) were under way too
  });
});
