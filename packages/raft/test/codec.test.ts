import { hubha } from '@hubha/proto/raft';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ConfState, Entry, HardState, Message, MessageType as MessageTypeT, Snapshot } from '../src/core/types.js';
import { EntryType, MessageType } from '../src/core/types.js';
import {
  decodeEntry,
  decodeHardState,
  decodeMessage,
  decodeSnapshot,
  encodeEntry,
  encodeHardState,
  encodeMessage,
  encodeSnapshot,
  validateMessage,
} from '../src/codec/index.js';

const pb = hubha.raft;
const MAX = Number.MAX_SAFE_INTEGER;

// ---------------------------------------------------------------------------------------------
// Arbitraries of valid values

const isId = (s: string): boolean => s.length > 0 && s.length <= 255 && !/[\s\u0000-\u001f]/.test(s);
const nodeIdArb = fc.oneof(
  fc.constantFrom('hub1', 'hub2', 'witness'),
  fc.string({ minLength: 1, maxLength: 255, unit: 'binary' }).filter(isId),
);
const u64Arb = fc.oneof(fc.nat(1000), fc.maxSafeNat(), fc.constant(MAX));
const bytesArb = fc.uint8Array({ maxLength: 64 });
const entryTypeArb = fc.constantFrom(EntryType.Normal, EntryType.ConfChange);

const confArb: fc.Arbitrary<ConfState> = fc
  .tuple(fc.uniqueArray(nodeIdArb, { minLength: 1, maxLength: 7 }), fc.nat())
  .map(([ids, k]) => {
    const voters = k % ids.length + 1;
    return { voters: ids.slice(0, voters), learners: ids.slice(voters) };
  });

const snapshotArb = (maxTerm: number): fc.Arbitrary<Snapshot> =>
  fc.record({
    meta: fc.record({ index: fc.integer({ min: 1, max: MAX }), term: fc.integer({ min: 1, max: maxTerm }), conf: confArb }),
    data: bytesArb,
  });

/** What storage holds: a real snapshot, or the bootstrap one (index 0, term 0, any membership). */
const storedSnapshotArb: fc.Arbitrary<Snapshot> = fc.oneof(
  snapshotArb(MAX),
  fc.record({
    meta: fc.record({
      index: fc.constant(0),
      term: fc.constant(0),
      conf: fc.record({ voters: fc.uniqueArray(nodeIdArb, { maxLength: 3 }), learners: fc.constant([]) }),
    }),
    data: fc.constant(new Uint8Array(0)),
  }),
);

const entryArb: fc.Arbitrary<Entry> = fc.record({
  term: fc.integer({ min: 1, max: MAX }),
  index: fc.integer({ min: 1, max: MAX }),
  type: entryTypeArb,
  data: bytesArb,
});

const hardStateArb: fc.Arbitrary<HardState> = fc.record({
  term: u64Arb,
  vote: fc.oneof(fc.constant(''), nodeIdArb),
  commit: u64Arb,
});

const messageTypeArb = fc.constantFrom(...(Object.values(MessageType) as MessageTypeT[]));

/** Entries after (index, logTerm), contiguous, with non-decreasing terms in [logTerm, term]. */
const appPartsArb = (term: number) =>
  fc.integer({ min: 0, max: term }).chain((logTerm) =>
    fc.record({
      logTerm: fc.constant(logTerm),
      index: fc.integer({ min: 0, max: MAX - 8 }),
      terms: term < 1 ? fc.constant([]) : fc.array(fc.integer({ min: Math.max(1, logTerm), max: term }), { maxLength: 6 }),
      kinds: fc.array(fc.tuple(entryTypeArb, bytesArb), { minLength: 6, maxLength: 6 }),
    }),
  );

const messageArb: fc.Arbitrary<Message> = fc
  .record({
    type: messageTypeArb,
    from: nodeIdArb,
    to: nodeIdArb,
    term: u64Arb,
    logTerm: u64Arb,
    index: u64Arb,
    commit: u64Arb,
    reject: fc.boolean(),
    rejectHint: u64Arb,
    context: bytesArb,
  })
  .chain((base): fc.Arbitrary<Message> => {
    if (base.type === MessageType.App) {
      return appPartsArb(base.term).map(({ logTerm, index, terms, kinds }) => ({
        ...base,
        logTerm,
        index,
        entries: [...terms].sort((a, b) => a - b).map((t, i) => ({ term: t, index: index + 1 + i, type: kinds[i]![0], data: kinds[i]![1] })),
        snapshot: null,
      }));
    }
    if (base.type === MessageType.Snap) {
      return fc.integer({ min: 1, max: MAX }).chain((term) => snapshotArb(term).map((snapshot) => ({ ...base, term, entries: [], snapshot })));
    }
    return fc.constant({ ...base, entries: [], snapshot: null });
  });

// ---------------------------------------------------------------------------------------------
// Helpers for crafting bad wire bytes

function varint(value: bigint): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(64, value);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
}

/** Appends a varint field; protobuf's last-one-wins makes it override an earlier value. */
function withVarint(bytes: Uint8Array, field: number, value: bigint): Uint8Array {
  return new Uint8Array([...bytes, ...varint(BigInt(field << 3)), ...varint(value)]);
}

const baseMessage: Message = {
  type: MessageType.Heartbeat,
  from: 'hub1',
  to: 'hub2',
  term: 5,
  logTerm: 0,
  index: 0,
  entries: [],
  commit: 3,
  reject: false,
  rejectHint: 0,
  snapshot: null,
  context: new Uint8Array([1, 2, 3]),
};

const ent = (index: number, term: number): Entry => ({ index, term, type: EntryType.Normal, data: new Uint8Array([index]) });

const appMessage: Message = {
  ...baseMessage,
  type: MessageType.App,
  term: 7,
  logTerm: 4,
  index: 10,
  entries: [ent(11, 4), ent(12, 6), ent(13, 7)],
};

const snapMessage: Message = {
  ...baseMessage,
  type: MessageType.Snap,
  snapshot: { meta: { index: 20, term: 5, conf: { voters: ['hub1', 'hub2'], learners: ['witness'] } }, data: new Uint8Array([9]) },
};

function rejected(bytes: Uint8Array): string {
  const r = decodeMessage(bytes);
  if (r.ok) throw new Error(`expected rejection, got ${JSON.stringify(r.message)}`);
  return r.error;
}

function rawMessage(props: hubha.raft.Message.$Properties): Uint8Array {
  return pb.Message.encode({ type: pb.MessageType.MESSAGE_TYPE_HEARTBEAT, from: 'hub1', to: 'hub2', term: 5, ...props }).finish();
}

// ---------------------------------------------------------------------------------------------

describe('message codec: round trips', () => {
  it('decodes what it encodes, for arbitrary valid messages', () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        expect(decodeMessage(encodeMessage(m))).toEqual({ ok: true, message: m });
        expect(validateMessage(m)).toBeNull();
      }),
      { numRuns: 500 },
    );
  });

  it('round-trips the fixed examples', () => {
    for (const m of [baseMessage, appMessage, snapMessage]) {
      expect(decodeMessage(encodeMessage(m))).toEqual({ ok: true, message: m });
    }
  });

  it('decodes bytes into fresh arrays that do not alias the input', () => {
    const bytes = encodeMessage(appMessage);
    const r = decodeMessage(bytes);
    expect(r.ok).toBe(true);
    bytes.fill(0);
    if (r.ok) expect(r.message).toEqual(appMessage);
  });

  it('ignores unknown fields (forward compatibility)', () => {
    const bytes = withVarint(encodeMessage(baseMessage), 99, 1n);
    expect(decodeMessage(bytes)).toEqual({ ok: true, message: baseMessage });
  });
});

describe('message codec: malformed bytes', () => {
  it('rejects truncated bytes', () => {
    const bytes = encodeMessage(appMessage); // ends with the length-delimited context field
    expect(rejected(bytes.subarray(0, bytes.length - 1))).toMatch(/malformed protobuf/);
    expect(rejected(new Uint8Array([0x08]))).toMatch(/malformed protobuf/); // tag without its varint
    expect(rejected(new Uint8Array([0x3a, 0x05, 0x08]))).toMatch(/malformed protobuf/); // entry cut short
  });

  it('never throws on any prefix, and whatever it accepts is valid', () => {
    for (const m of [appMessage, snapMessage, baseMessage]) {
      const bytes = encodeMessage(m);
      for (let n = 0; n < bytes.length; n++) {
        const r = decodeMessage(bytes.subarray(0, n));
        if (r.ok) expect(validateMessage(r.message)).toBeNull();
      }
    }
  });

  it('never throws on random or corrupted bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const r = decodeMessage(bytes);
        if (r.ok) expect(validateMessage(r.message)).toBeNull();
        else expect(typeof r.error).toBe('string');
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(messageArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (m, flips) => {
        const bytes = new Uint8Array(encodeMessage(m));
        for (const [at, value] of flips) bytes[at % bytes.length] = value;
        const r = decodeMessage(bytes);
        if (r.ok) expect(validateMessage(r.message)).toBeNull();
      }),
      { numRuns: 1000 },
    );
  });

  it('rejects a wrong wire type for a known field', () => {
    // field 4 (term) as a length-delimited value: skipped, kept as unknown; but field 2 (from)
    // as a varint leaves `from` empty.
    expect(rejected(new Uint8Array([0x08, 0x07, 0x10, 0x01, 0x1a, 0x01, 0x61]))).toMatch(/message\.from/);
  });
});

describe('message codec: enums', () => {
  it('rejects unknown, unspecified and negative message types', () => {
    const bytes = encodeMessage(baseMessage);
    expect(rejected(withVarint(bytes, 1, 13n))).toBe('message.type: unknown value 13');
    expect(rejected(withVarint(bytes, 1, 0n))).toBe('message.type: unknown value 0');
    expect(rejected(withVarint(bytes, 1, -1n))).toBe('message.type: unknown value -1');
    expect(rejected(rawMessage({ type: null }))).toMatch(/message\.type/);
  });

  it('accepts every known message type', () => {
    for (const type of Object.values(MessageType)) {
      const m: Message = type === MessageType.Snap ? snapMessage : { ...baseMessage, type };
      expect(decodeMessage(encodeMessage(m))).toEqual({ ok: true, message: m });
    }
  });

  it('rejects an unknown entry type', () => {
    const bytes = rawMessage({
      type: pb.MessageType.MESSAGE_TYPE_APP,
      entries: [{ term: 5, index: 1, type: 7 as hubha.raft.EntryType }],
    });
    expect(rejected(bytes)).toBe('message.entries[0].type: unknown value 7');
  });
});

describe('message codec: integers', () => {
  const bytes = encodeMessage(baseMessage);
  const fields: readonly [string, number][] = [
    ['term', 4],
    ['logTerm', 5],
    ['index', 6],
    ['commit', 8],
    ['rejectHint', 10],
  ];

  it('accepts Number.MAX_SAFE_INTEGER', () => {
    for (const [name, field] of fields) {
      const r = decodeMessage(withVarint(bytes, field, BigInt(MAX)));
      expect(r.ok, name).toBe(true);
      if (r.ok) expect((r.message as unknown as Record<string, number>)[name]).toBe(MAX);
    }
  });

  it('rejects uint64 values beyond Number.MAX_SAFE_INTEGER', () => {
    for (const [name, field] of fields) {
      for (const v of [BigInt(MAX) + 1n, 2n ** 63n, 2n ** 64n - 1n, -1n]) {
        expect(rejected(withVarint(bytes, field, v))).toBe(`message.${name}: exceeds Number.MAX_SAFE_INTEGER`);
      }
    }
  });

  it('rejects unsafe entry and snapshot integers', () => {
    const app = rawMessage({ type: pb.MessageType.MESSAGE_TYPE_APP, term: 5, entries: [{ term: 1, index: 1 }] });
    const entry = pb.Entry.encode({ term: 1, index: 1 }).finish();
    const badEntry = withVarint(entry, 2, 2n ** 53n);
    const nested = new Uint8Array([...app, 0x3a, ...varint(BigInt(badEntry.length)), ...badEntry]);
    expect(rejected(nested)).toBe('message.entries[1].index: exceeds Number.MAX_SAFE_INTEGER');
    expect(decodeEntry(badEntry)).toEqual({ ok: false, error: 'entry.index: exceeds Number.MAX_SAFE_INTEGER' });
  });
});

describe('message codec: node ids', () => {
  it('rejects missing, empty, overlong and whitespace ids', () => {
    expect(rejected(rawMessage({ from: '' }))).toBe('message.from: invalid node id');
    expect(rejected(rawMessage({ to: '' }))).toBe('message.to: invalid node id');
    expect(rejected(rawMessage({ from: 'x'.repeat(256) }))).toBe('message.from: invalid node id');
    expect(rejected(rawMessage({ to: 'hub 2' }))).toBe('message.to: invalid node id');
    expect(rejected(rawMessage({ to: 'hub\u00002' }))).toBe('message.to: invalid node id');
    expect(decodeMessage(rawMessage({ from: 'x'.repeat(255) })).ok).toBe(true);
  });

  it('rejects bad ids in a snapshot membership', () => {
    const conf = (voters: string[], learners: string[] = []) =>
      rawMessage({ type: pb.MessageType.MESSAGE_TYPE_SNAP, snapshot: { meta: { index: 1, term: 1, conf: { voters, learners } } } });
    expect(rejected(conf(['hub1', '']))).toBe('message.snapshot.meta.conf.voters[1]: invalid node id');
    expect(rejected(conf(['hub1'], ['x'.repeat(300)]))).toBe('message.snapshot.meta.conf.learners[0]: invalid node id');
    expect(rejected(conf(['hub1', 'hub1']))).toMatch(/listed twice/);
    expect(rejected(conf(['hub1'], ['hub1']))).toMatch(/listed twice/);
    expect(rejected(conf([], ['hub1']))).toBe('message.snapshot.meta.conf.voters: empty');
  });
});

describe('message codec: entries', () => {
  const app = (index: number, logTerm: number, entries: hubha.raft.Entry.$Properties[], term = 7) =>
    rawMessage({ type: pb.MessageType.MESSAGE_TYPE_APP, term, index, logTerm, entries });

  it('accepts contiguous entries after index', () => {
    expect(decodeMessage(app(10, 4, [{ index: 11, term: 4 }, { index: 12, term: 7 }])).ok).toBe(true);
  });

  it('rejects gaps, repeats, a wrong start and index 0', () => {
    expect(rejected(app(10, 4, [{ index: 11, term: 4 }, { index: 13, term: 4 }]))).toBe('message.entries[1].index: 13 does not follow 11');
    expect(rejected(app(10, 4, [{ index: 11, term: 4 }, { index: 11, term: 4 }]))).toBe('message.entries[1].index: 11 does not follow 11');
    expect(rejected(app(10, 4, [{ index: 12, term: 4 }]))).toBe('message.entries[0].index: 12 does not follow 10');
    expect(rejected(app(0, 0, [{ index: 0, term: 4 }]))).toBe('message.entries[0].index: must be at least 1');
  });

  it('rejects decreasing terms, terms above the message term, and term 0', () => {
    expect(rejected(app(10, 4, [{ index: 11, term: 5 }, { index: 12, term: 4 }]))).toMatch(/entries\[1\]\.term: 4 is below/);
    expect(rejected(app(10, 4, [{ index: 11, term: 3 }]))).toMatch(/entries\[0\]\.term: 3 is below/);
    expect(rejected(app(10, 4, [{ index: 11, term: 8 }]))).toMatch(/entries\[0\]\.term: 8 is above the message term 7/);
    expect(rejected(app(0, 0, [{ index: 1, term: 0 }]))).toBe('message.entries[0].term: must be at least 1');
  });

  it('rejects entries on other message types', () => {
    expect(rejected(rawMessage({ index: 0, entries: [{ index: 1, term: 1 }] }))).toBe('message.entries: not allowed on heartbeat');
  });
});

describe('message codec: snapshots', () => {
  const snap = (meta: hubha.raft.SnapshotMeta.$Properties | null, term = 5) =>
    rawMessage({ type: pb.MessageType.MESSAGE_TYPE_SNAP, term, snapshot: meta === null ? null : { meta } });
  const conf = { voters: ['hub1'] };

  it('requires a sane snapshot on Snap', () => {
    expect(decodeMessage(snap({ index: 3, term: 2, conf })).ok).toBe(true);
    expect(rejected(snap(null))).toBe('message.snapshot: missing');
    expect(rejected(rawMessage({ type: pb.MessageType.MESSAGE_TYPE_SNAP, snapshot: { data: new Uint8Array([1]) } }))).toBe('message.snapshot.meta: missing');
    expect(rejected(snap({ index: 0, term: 0, conf }))).toBe('message.snapshot.meta.index: must be at least 1');
    expect(rejected(snap({ index: 0, term: 2, conf }))).toBe('message.snapshot.meta.term: must be 0 at index 0');
    expect(rejected(snap({ index: 3, term: 0, conf }))).toBe('message.snapshot.meta.term: must be at least 1');
    expect(rejected(snap({ index: 3, term: 6, conf }))).toMatch(/meta\.term: 6 is above the message term 5/);
    expect(rejected(snap({ index: 3, term: 2 }))).toBe('message.snapshot.meta.conf: missing');
  });

  it('rejects a snapshot on other message types', () => {
    expect(rejected(rawMessage({ snapshot: { meta: { index: 3, term: 2, conf } } }))).toBe('message.snapshot: not allowed on heartbeat');
  });
});

describe('storage codecs', () => {
  it('round-trip hard states, entries and snapshots', () => {
    fc.assert(
      fc.property(hardStateArb, entryArb, storedSnapshotArb, (h, e, s) => {
        expect(decodeHardState(encodeHardState(h))).toEqual({ ok: true, value: h });
        expect(decodeEntry(encodeEntry(e))).toEqual({ ok: true, value: e });
        expect(decodeSnapshot(encodeSnapshot(s))).toEqual({ ok: true, value: s });
      }),
      { numRuns: 300 },
    );
  });

  it('reject bad stored values without throwing', () => {
    expect(decodeHardState(pb.HardState.encode({ term: 1, vote: ' ' }).finish())).toEqual({ ok: false, error: 'hardState.vote: invalid node id' });
    expect(decodeHardState(withVarint(encodeHardState({ term: 1, vote: '', commit: 0 }), 3, 2n ** 60n)).ok).toBe(false);
    expect(decodeEntry(pb.Entry.encode({ term: 0, index: 1 }).finish())).toEqual({ ok: false, error: 'entry.term: must be at least 1' });
    expect(decodeSnapshot(pb.Snapshot.encode({}).finish())).toEqual({ ok: false, error: 'snapshot.meta: missing' });
    const meta = (index: number, term: number, voters: string[]) => pb.Snapshot.encode({ meta: { index, term, conf: { voters } } }).finish();
    expect(decodeSnapshot(meta(0, 0, [])).ok).toBe(true); // a new node's bootstrap snapshot
    expect(decodeSnapshot(meta(0, 3, ['hub1']))).toEqual({ ok: false, error: 'snapshot.meta.term: must be 0 at index 0' });
    expect(decodeSnapshot(meta(4, 0, ['hub1']))).toEqual({ ok: false, error: 'snapshot.meta.term: must be at least 1' });
    expect(decodeSnapshot(meta(4, 1, ['hub1', 'hub1'])).ok).toBe(false);
    const e = encodeEntry(ent(1, 1));
    expect(decodeEntry(e.subarray(0, e.length - 1)).ok).toBe(false);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        for (const r of [decodeHardState(bytes), decodeEntry(bytes), decodeSnapshot(bytes)]) expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 1000 },
    );
  });
});
