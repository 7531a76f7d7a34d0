import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { majorityMatchIndex, majoritySize, quorumActive, tallyVotes } from '../src/core/quorum.js';
import { applyConfChange, checkConfChange, decodeConfChange, encodeConfChange, isValidNodeId } from '../src/core/confchange.js';
import { RaftLog } from '../src/core/log.js';
import { Inflights } from '../src/core/inflights.js';
import type { ConfChange, ConfChangeType, ConfState, Entry, NodeId } from '../src/core/types.js';
import { EntryType } from '../src/core/types.js';

/** Pure helpers of the core against naive models. */
const RUNS = { numRuns: 500 };

const nodeId: fc.Arbitrary<NodeId> = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h');
const voterSet = fc.uniqueArray(nodeId, { maxLength: 8 });

describe('quorum', () => {
  it('majoritySize is the smallest count that is more than half', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), (n) => {
        const m = majoritySize(n);
        expect(2 * m).toBeGreaterThan(n);
        expect(2 * (m - 1)).toBeLessThanOrEqual(n);
      }),
      RUNS,
    );
  });

  it('majorityMatchIndex is the largest index matched by a majority (brute force)', () => {
    fc.assert(
      fc.property(voterSet, fc.array(fc.nat({ max: 20 }), { minLength: 8, maxLength: 8 }), (voters, matches) => {
        const matchOf = (id: NodeId): number => matches[voters.indexOf(id)] ?? 0;
        const need = majoritySize(voters.length);
        let best = 0;
        for (let index = 0; index <= 20; index++) {
          if (voters.filter((id) => matchOf(id) >= index).length >= need) best = index;
        }
        expect(majorityMatchIndex(voters, matchOf)).toBe(voters.length === 0 ? 0 : best);
      }),
      RUNS,
    );
  });

  it('tallyVotes: won on a majority of grants, lost once a majority is out of reach, else pending; non-voters ignored', () => {
    const vote = fc.constantFrom<boolean | undefined>(true, false, undefined);
    fc.assert(
      fc.property(voterSet.filter((v) => v.length > 0), fc.dictionary(nodeId, vote), fc.dictionary(fc.constantFrom('x', 'y', 'z'), fc.boolean()), (voters, cast, outsiders) => {
        const votes = new Map<NodeId, boolean>();
        for (const [id, v] of Object.entries(cast)) if (v !== undefined) votes.set(id, v);
        for (const [id, v] of Object.entries(outsiders)) votes.set(id, v);
        const granted = voters.filter((id) => votes.get(id) === true).length;
        const undecided = voters.filter((id) => !votes.has(id)).length;
        const need = Math.floor(voters.length / 2) + 1;
        const expected = granted >= need ? 'won' : granted + undecided < need ? 'lost' : 'pending';
        expect(tallyVotes(voters, votes)).toBe(expected);
      }),
      RUNS,
    );
  });

  it('a won election and a lost one are exclusive, and more votes never turn won into anything else', () => {
    fc.assert(
      fc.property(voterSet.filter((v) => v.length > 0), fc.func(fc.boolean()), (voters, grants) => {
        const votes = new Map<NodeId, boolean>();
        let previous = tallyVotes(voters, votes);
        for (const id of voters) {
          votes.set(id, grants(id));
          const now = tallyVotes(voters, votes);
          if (previous !== 'pending') expect(now).toBe(previous); // decided outcomes are final
          previous = now;
        }
        expect(previous).not.toBe('pending'); // everyone voted: decided
      }),
      RUNS,
    );
  });

  it('quorumActive is "at least a majority of the voters are active", never for no voters', () => {
    fc.assert(
      fc.property(voterSet, fc.func(fc.boolean()), (voters, active) => {
        const count = voters.filter((id) => active(id)).length;
        expect(quorumActive(voters, active)).toBe(voters.length > 0 && 2 * count > voters.length);
      }),
      RUNS,
    );
  });
});

// ------------------------------------------------------------------ membership changes

const changeType = fc.constantFrom<ConfChangeType>('add-learner', 'promote-learner', 'remove-node');
const confState = fc
  .uniqueArray(nodeId, { maxLength: 8 })
  .chain((ids) => fc.tuple(fc.constant(ids), fc.array(fc.boolean(), { minLength: ids.length, maxLength: ids.length })))
  .map(([ids, isVoter]): ConfState => ({ voters: ids.filter((_, k) => isVoter[k]).sort(), learners: ids.filter((_, k) => !isVoter[k]).sort() }));
const change = fc.record({ type: changeType, node: nodeId });
const validNode = fc.string({ minLength: 1, maxLength: 40 }).filter(isValidNodeId);
const anyNode = fc.oneof(validNode, fc.string({ maxLength: 300 }), fc.constantFrom('', ' ', 'a b', 'x\n', 'x'.repeat(256)));

function modelCheck(conf: ConfState, c: ConfChange): string {
  const voter = conf.voters.includes(c.node);
  const learner = conf.learners.includes(c.node);
  if (c.type === 'add-learner') return voter || learner ? 'already-member' : 'ok';
  if (c.type === 'promote-learner') return learner ? 'ok' : 'not-a-learner';
  return voter || learner ? 'ok' : 'not-a-member';
}

describe('confchange', () => {
  it('checkConfChange agrees with the model', () => {
    fc.assert(
      fc.property(confState, change, (conf, c) => {
        expect(checkConfChange(conf, c)).toBe(modelCheck(conf, c));
      }),
      RUNS,
    );
  });

  it('applyConfChange: a fitting change moves exactly one node, by at most one voter; others change nothing', () => {
    fc.assert(
      fc.property(confState, change, (conf, c) => {
        const next = applyConfChange(conf, c);
        if (checkConfChange(conf, c) !== 'ok') {
          expect(next).toEqual(conf);
          return;
        }
        // Well formed: sorted, unique, disjoint.
        expect([...next.voters].sort()).toEqual(next.voters);
        expect([...next.learners].sort()).toEqual(next.learners);
        expect(new Set([...next.voters, ...next.learners]).size).toBe(next.voters.length + next.learners.length);
        // Only c.node moved.
        const others = (s: ConfState): ConfState => ({ voters: s.voters.filter((id) => id !== c.node), learners: s.learners.filter((id) => id !== c.node) });
        expect(others(next)).toEqual(others(conf));
        expect(Math.abs(next.voters.length - conf.voters.length)).toBeLessThanOrEqual(1);
        if (c.type === 'add-learner') expect(next.learners).toContain(c.node);
        if (c.type === 'promote-learner') expect(next.voters).toContain(c.node);
        if (c.type === 'remove-node') expect([...next.voters, ...next.learners]).not.toContain(c.node);
      }),
      RUNS,
    );
  });

  it('a sequence of changes keeps the membership well formed and each step valid', () => {
    fc.assert(
      fc.property(confState, fc.array(change, { maxLength: 30 }), (start, changes) => {
        let conf = start;
        for (const c of changes) {
          const next = applyConfChange(conf, c);
          expect(next.voters.filter((id) => next.learners.includes(id))).toEqual([]);
          expect(Math.abs(next.voters.length - conf.voters.length)).toBeLessThanOrEqual(1);
          conf = next;
        }
      }),
      RUNS,
    );
  });

  it('encode/decode round trip for valid changes (with or without a context)', () => {
    const withContext = fc.record({ type: changeType, node: validNode, context: fc.string({ maxLength: 100 }) }, { requiredKeys: ['type', 'node'] });
    fc.assert(
      fc.property(withContext, (c) => {
        const decoded = decodeConfChange(encodeConfChange(c));
        expect(decoded).toEqual(c);
      }),
      RUNS,
    );
  });

  it('decode never throws on arbitrary bytes, and anything it accepts is a valid change', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.jsonValue().map((v) => new TextEncoder().encode(JSON.stringify(v))),
      fc.record({ type: fc.oneof(changeType, fc.string()), node: anyNode, context: fc.anything() }, { requiredKeys: [] }).map((v) => new TextEncoder().encode(JSON.stringify(v))),
    );
    fc.assert(
      fc.property(bytes, (data) => {
        const decoded = decodeConfChange(data);
        if (decoded === null) return;
        expect(['add-learner', 'promote-learner', 'remove-node']).toContain(decoded.type);
        expect(isValidNodeId(decoded.node)).toBe(true);
        expect(decodeConfChange(encodeConfChange(decoded))).toEqual(decoded);
      }),
      { numRuns: 2000 },
    );
  });

  it('invalid node ids are refused by the check and never survive decoding', () => {
    fc.assert(
      fc.property(confState, changeType, anyNode, (conf, type, node) => {
        if (isValidNodeId(node)) return;
        expect(checkConfChange(conf, { type, node })).toBe('invalid-node-id');
        expect(applyConfChange(conf, { type, node })).toEqual(conf);
        expect(decodeConfChange(encodeConfChange({ type, node }))).toBeNull();
      }),
      RUNS,
    );
  });
});

// ------------------------------------------------------------------ RaftLog.findConflictByTerm

/** A log: a snapshot at (snapIndex, snapTerm) and entries after it with non-decreasing terms. */
const raftLogShape = fc
  .record({
    snapIndex: fc.nat({ max: 10 }),
    snapTerm: fc.nat({ max: 3 }),
    bumps: fc.array(fc.nat({ max: 2 }), { maxLength: 25 }),
  })
  .map(({ snapIndex, snapTerm, bumps }) => {
    const terms: number[] = [];
    let t = Math.max(snapTerm, snapIndex > 0 ? 1 : 0);
    const snapT = snapIndex > 0 ? t : 0;
    for (const b of bumps) {
      t += b;
      terms.push(Math.max(t, 1));
    }
    return { snapIndex, snapTerm: snapT, terms };
  });

function makeLog(shape: { snapIndex: number; snapTerm: number; terms: number[] }): RaftLog {
  const entries: Entry[] = shape.terms.map((term, k) => ({ index: shape.snapIndex + 1 + k, term, type: EntryType.Normal, data: new Uint8Array(0) }));
  const snapshot = { meta: { index: shape.snapIndex, term: shape.snapTerm, conf: { voters: ['a'], learners: [] } }, data: new Uint8Array(0) };
  return new RaftLog(snapshot, entries, 0);
}

describe('RaftLog.findConflictByTerm', () => {
  it('is the largest index <= the given one whose term is <= the given term (the snapshot index counts as a match)', () => {
    fc.assert(
      fc.property(raftLogShape, fc.integer({ min: 0, max: 45 }), fc.nat({ max: 60 }), (shape, index, term) => {
        const log = makeLog(shape);
        const last = shape.snapIndex + shape.terms.length;
        const termAt = (i: number): number => shape.terms[i - shape.snapIndex - 1]!;
        // Naive: scan every candidate and keep the largest.
        let expected = -1;
        for (let j = 0; j <= Math.min(index, last); j++) {
          if (j <= shape.snapIndex || termAt(j) <= term) expected = j;
        }
        expect(log.findConflictByTerm(index, term)).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it('used as the leader does with a follower hint, never skips the match point and always progresses', () => {
    // A leader and a follower log sharing a prefix after a common snapshot; their suffixes use
    // even and odd terms respectively, so they never agree on an (index, term) past the prefix
    // (Log Matching). The leader probes at `probe`; the follower rejects with its hint; the
    // leader's next probe must stay at or above the last index where the logs agree.
    const nonDecreasing = (from: number, parity: 0 | 1, max: number) =>
      fc.array(fc.nat({ max: 2 }), { maxLength: max }).map((bumps) => {
        let t = from + ((from + parity) % 2); // first term of this parity at or above `from`
        return bumps.map((b) => (t += 2 * b));
      });
    const shape = fc
      .record({ snapIndex: fc.nat({ max: 5 }), prefixBumps: fc.array(fc.nat({ max: 2 }), { maxLength: 10 }) })
      .chain(({ snapIndex, prefixBumps }) => {
        let t = 1;
        const prefix = prefixBumps.map((b) => (t += b));
        return fc.record({
          snapIndex: fc.constant(snapIndex),
          prefix: fc.constant(prefix),
          leaderSuffix: nonDecreasing(t, 0, 10),
          followerSuffix: nonDecreasing(t, 1, 10),
          probeBack: fc.nat({ max: 12 }),
        });
      });
    fc.assert(
      fc.property(shape, ({ snapIndex, prefix, leaderSuffix, followerSuffix, probeBack }) => {
        const leaderTerms = [...prefix, ...leaderSuffix];
        const followerTerms = [...prefix, ...followerSuffix];
        const leader = makeLog({ snapIndex, snapTerm: snapIndex > 0 ? 1 : 0, terms: leaderTerms });
        const follower = makeLog({ snapIndex, snapTerm: snapIndex > 0 ? 1 : 0, terms: followerTerms });
        const matchPoint = snapIndex + prefix.length;
        const probe = Math.max(snapIndex, leader.lastIndex() - probeBack);
        if (probe <= matchPoint) return; // this probe matches: no rejection
        const probeTerm = leader.term(probe)!;
        expect(follower.matchTerm(probe, probeTerm)).toBe(false);
        const hint = follower.findConflictByTerm(Math.min(probe, follower.lastIndex()), probeTerm);
        const next = leader.findConflictByTerm(hint, follower.term(hint) ?? 0);
        expect(next).toBeGreaterThanOrEqual(matchPoint);
        expect(next).toBeLessThan(probe);
      }),
      { numRuns: 2000 },
    );
  });
});

// ------------------------------------------------------------------ Inflights

type InflightOp = { op: 'add'; bytes: number; gap: number } | { op: 'freeLE'; back: number } | { op: 'freeFirstOne' } | { op: 'reset' };

describe('Inflights', () => {
  it('tracks a FIFO of (last index, bytes) within its count and byte bounds', () => {
    const op: fc.Arbitrary<InflightOp> = fc.oneof(
      { weight: 4, arbitrary: fc.record({ op: fc.constant('add' as const), bytes: fc.nat({ max: 50 }), gap: fc.integer({ min: 1, max: 3 }) }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('freeLE' as const), back: fc.nat({ max: 10 }) }) },
      { weight: 1, arbitrary: fc.constant({ op: 'freeFirstOne' as const }) },
      { weight: 1, arbitrary: fc.constant({ op: 'reset' as const }) },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.nat({ max: 120 }), fc.array(op, { maxLength: 60 }), (maxCount, maxBytes, ops) => {
        const inflights = new Inflights(maxCount, maxBytes);
        let model: { last: number; bytes: number }[] = [];
        let lastIndex = 0;
        const modelBytes = (): number => model.reduce((s, m) => s + m.bytes, 0);
        const modelFull = (): boolean => model.length >= maxCount || (maxBytes > 0 && modelBytes() >= maxBytes);
        for (const o of ops) {
          switch (o.op) {
            case 'add':
              lastIndex += o.gap;
              if (modelFull()) {
                expect(() => inflights.add(lastIndex, o.bytes)).toThrow();
              } else {
                inflights.add(lastIndex, o.bytes);
                model.push({ last: lastIndex, bytes: o.bytes });
              }
              break;
            case 'freeLE': {
              const upTo = lastIndex - o.back;
              inflights.freeLE(upTo);
              model = model.filter((m) => m.last > upTo);
              break;
            }
            case 'freeFirstOne':
              inflights.freeFirstOne();
              model = model.slice(1);
              break;
            case 'reset':
              inflights.reset();
              model = [];
              break;
          }
          expect(inflights.count()).toBe(model.length);
          expect(inflights.full()).toBe(modelFull());
          expect(inflights.count()).toBeLessThanOrEqual(maxCount);
          // The byte bound is checked before an add: one message may overshoot it, never two.
          if (maxBytes > 0 && model.length > 0) expect(modelBytes() - model[model.length - 1]!.bytes).toBeLessThan(maxBytes);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses an index that does not increase', () => {
    const inflights = new Inflights(4, 0);
    inflights.add(5, 1);
    expect(() => inflights.add(5, 1)).toThrow();
    expect(() => inflights.add(3, 1)).toThrow();
    expect(inflights.count()).toBe(1);
  });
});
