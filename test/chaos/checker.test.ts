/**
 * The chaos checker can fail: synthetic histories with a split brain, a deposed primary that
 * kept acknowledging, a lost write, a late recovery and two Raft leaders in one term — and the
 * clean histories next to them that it must accept (a client's slow round trips included).
 */
import { describe, expect, it } from 'vitest';
import { FENCE_ACK_SLACK_MS, checkElectionSafety, checkLostWrites, checkRecovery, checkSplitBrain, checkStalePrimary, describeAsyncLoss, identityIntervals } from './checker.js';
import { fencesFromLog, leaderObservationsFromLog, parseHistory, promotionsFromLog, rejoinsFromLog, type Ack } from './history.js';

const SYS = '7312345678901234567';
const T0 = 1_700_000_000_000;

/** A sequential client: each write sent `gap` ms after the previous ack, acked `rtt` ms later. */
function acksFrom(servers: readonly { tl: number; epoch: number; n: number }[], options: { rtt?: number; gap?: number; firstId?: number; start?: number } = {}): Ack[] {
  const rtt = options.rtt ?? 2;
  const gap = options.gap ?? 1;
  let t = options.start ?? T0;
  let id = options.firstId ?? 1;
  const out: Ack[] = [];
  for (const s of servers) {
    for (let i = 0; i < s.n; i++) {
      const sent = t;
      const ack = sent + rtt;
      out.push({ id: id++, sent, ack, sys: SYS, tl: s.tl, epoch: s.epoch });
      t = ack + gap;
    }
  }
  return out;
}

describe('split brain from overlapping acknowledgement intervals', () => {
  it('accepts a clean failover: hub1 until the switch, then hub2', () => {
    const acks = acksFrom([
      { tl: 1, epoch: 1, n: 50 },
      { tl: 2, epoch: 1, n: 3 }, // hub2's first writes before its promotion record commits
      { tl: 2, epoch: 2, n: 50 },
    ]);
    expect(identityIntervals(acks).map((i) => i.identity)).toEqual([`${SYS}/tl1/e1`, `${SYS}/tl2/e1`, `${SYS}/tl2/e2`]);
    expect(checkSplitBrain(acks)).toEqual([]);
  });

  it('accepts a slow client whose round trips straddle the switch (no false positive)', () => {
    // The last ack from the old server arrives 500 ms late, after it was sent: the commit may
    // have happened right at the send, long before the new server's first ack.
    const acks: Ack[] = [
      { id: 1, sent: T0, ack: T0 + 2, sys: SYS, tl: 1, epoch: 1 },
      { id: 2, sent: T0 + 10, ack: T0 + 510, sys: SYS, tl: 1, epoch: 1 },
      { id: 3, sent: T0 + 511, ack: T0 + 513, sys: SYS, tl: 2, epoch: 2 },
    ];
    expect(checkSplitBrain(acks)).toEqual([]);
  });

  it('reports two servers acknowledging in interleaved order', () => {
    const acks = [
      ...acksFrom([{ tl: 1, epoch: 1, n: 5 }]),
      ...acksFrom([{ tl: 2, epoch: 2, n: 5 }], { firstId: 6, start: T0 + 100 }),
      ...acksFrom([{ tl: 1, epoch: 1, n: 5 }], { firstId: 11, start: T0 + 200 }),
    ];
    const v = checkSplitBrain(acks);
    expect(v).toHaveLength(1);
    expect(v[0]!.kind).toBe('split-brain');
    expect(v[0]!.message).toContain(`${SYS}/tl1/e1`);
    expect(v[0]!.message).toContain(`${SYS}/tl2/e2`);
  });

  it('reports an overlap between two servers of different clusters (system identifiers) too', () => {
    const a = acksFrom([{ tl: 1, epoch: 1, n: 10 }]);
    const b = acksFrom([{ tl: 1, epoch: 1, n: 10 }], { firstId: 100, start: T0 + 5 }).map((x) => ({ ...x, sys: '999' }));
    expect(checkSplitBrain([...a, ...b]).map((v) => v.kind)).toEqual(['split-brain']);
  });
});

describe('split brain against the promotions (a deposed primary still acknowledging)', () => {
  const promotion = { node: 'hub2', epoch: 2, timeline: 2, at: T0 + 100 };

  it('accepts acks from the old timeline for writes sent before the promotion completed', () => {
    const acks = acksFrom([{ tl: 1, epoch: 1, n: 30 }]); // sent up to T0 + 87
    expect(acks.at(-1)!.sent).toBeLessThan(promotion.at);
    expect(checkStalePrimary(acks, [promotion])).toEqual([]);
  });

  it('reports writes sent after the promotion and acknowledged by the old timeline', () => {
    const acks = acksFrom([{ tl: 1, epoch: 1, n: 60 }]); // goes on until T0 + 177
    const v = checkStalePrimary(acks, [promotion]);
    expect(v).toHaveLength(1);
    expect(v[0]!.kind).toBe('stale-primary');
    expect(v[0]!.message).toMatch(/acknowledged \d+ write\(s\) sent after hub2 was promoted to timeline 2/);
    // The overlap check alone does not see it: the client moved in one step.
    expect(checkSplitBrain([...acks, ...acksFrom([{ tl: 2, epoch: 2, n: 5 }], { firstId: 100, start: T0 + 300 })])).toEqual([]);
  });

  it('ignores a promotion its hub abandoned before serving anyone, not one that served a write', () => {
    // hub2 promoted to timeline 2, could not finish (store unreachable) and fenced itself; hub1
    // then resumed on timeline 1 as the last primary.
    const abandoned = { ...promotion, abandonedAt: T0 + 1100 };
    const later = acksFrom([{ tl: 1, epoch: 3, n: 20 }], { firstId: 100, start: T0 + 5000 });
    expect(checkStalePrimary([...acksFrom([{ tl: 1, epoch: 1, n: 20 }]), ...later], [abandoned])).toEqual([]);
    // The same, but the abandoned timeline did acknowledge a write before the fence: divergence.
    const servedOnce = { id: 50, sent: T0 + 300, ack: T0 + 303, sys: SYS, tl: 2, epoch: 2 };
    expect(checkStalePrimary([...later, servedOnce], [abandoned]).map((v) => v.kind)).toEqual(['stale-primary']);
  });

  it('reads promotions (and their abandonment) and leader lines from pino logs', () => {
    const log = [
      { level: 30, time: T0, msg: 'PostgreSQL promoted', node: 'hub2', epoch: 2, timeline: 2, promoteMs: 120 },
      { level: 30, time: T0 + 1, msg: 'active hub', node: 'hub2', epoch: 2 },
      { level: 30, time: T0 + 2, msg: 'leader changed', node: 'hub2', term: 5, leader: 'witness', previousLeader: null, role: 'follower' },
      { level: 30, time: T0 + 3, msg: 'no leader', node: 'hub2', term: 6, leader: null },
    ];
    expect(promotionsFromLog(log)).toEqual([{ node: 'hub2', epoch: 2, timeline: 2, at: T0, abandonedAt: null }]);
    const failed = [...log, { level: 50, time: T0 + 900, msg: 'promotion failed: fencing and releasing the lease', node: 'hub2', epoch: 2, err: 'deadline' }];
    expect(promotionsFromLog(failed)[0]!.abandonedAt).toBe(T0 + 900);
    expect(leaderObservationsFromLog('hub2', log)).toEqual([{ member: 'hub2', term: 5, leader: 'witness', at: T0 + 2 }]);
  });
});

describe('lost writes, recovery, Raft', () => {
  it('reports an acknowledged id missing on the final primary', () => {
    const acks = acksFrom([{ tl: 1, epoch: 1, n: 10 }]);
    expect(checkLostWrites(acks, new Set(acks.map((a) => a.id)), 'hub2')).toEqual([]);
    const present = new Set(acks.map((a) => a.id).filter((id) => id !== 7));
    const v = checkLostWrites(acks, present, 'hub2');
    expect(v).toHaveLength(1);
    expect(v[0]!.kind).toBe('lost-write');
    expect(v[0]!.message).toMatch(/^1 acknowledged write\(s\) missing on hub2: 7 /);
  });

  it('asynchronous mode: describes lost writes against the fence and the rewind, and reports one acknowledged after the fence', () => {
    // hub2 (tl1, epoch 1) acknowledges 100 writes in T0..T0+300; it is cut from the store at
    // T0+100 (its last report was before that) and begins fencing at T0+2300; hub1 promotes at
    // T0+2900; hub2's rewind counts the 60 commits it made after the fork, the 60 acks that
    // never reached hub1.
    const acks = acksFrom([{ tl: 1, epoch: 1, n: 100 }]);
    const lost = acks.slice(40);
    const log = [
      { level: 40, time: T0 + 2300, msg: 'demoting: fencing this hub', node: 'hub2', epoch: 1, reason: 'lease about to end without a renewal' },
      { level: 30, time: T0 + 9000, msg: 'following as standby', node: 'hub2', component: 'postgres', rewind: 'rewound', walAfterFork: { commits: 60, records: 61, bytes: 7180 } },
    ];
    const facts = {
      promotions: [{ node: 'hub1', epoch: 2, timeline: 2, at: T0 + 2900, abandonedAt: null }],
      fences: fencesFromLog(log),
      rejoins: rejoinsFromLog(log),
    };
    expect(facts.fences).toEqual([{ node: 'hub2', epoch: 1, at: T0 + 2300 }]);
    const ok = describeAsyncLoss(lost, facts);
    expect(ok.violations).toEqual([]);
    expect(ok.lines).toHaveLength(1);
    expect(ok.lines[0]).toMatch(new RegExp(`^60 acknowledged write\\(s\\) of ${SYS}/tl1/e1 \\(hub2\\) lost in the failover to hub1 \\(timeline 2, epoch 2, promoted `));
    expect(ok.lines[0]).toContain(`(${lost.at(-1)!.ack - lost[0]!.ack} ms), the last ${T0 + 2300 - lost.at(-1)!.ack} ms before hub2 began fencing`);
    expect(ok.lines[0]).toContain('its rewind discarded 60 commit(s) made after the fork (7180 bytes of WAL)');
    // The books must balance: a write lost without a commit after the fork vanished some other way.
    const short = describeAsyncLoss(lost, { ...facts, rejoins: [{ ...facts.rejoins[0]!, walAfterFork: { commits: 59, bytes: 7000 } }] });
    expect(short.violations.map((v) => v.kind)).toEqual(['unexplained-loss']);
    expect(short.violations[0]!.message).toMatch(/^60 acknowledged write\(s\) of .* lost, but hub2's rewind found only 59 commit\(s\) after the fork: 1 vanished some other way/);
    // A rejoin that read nothing (re-cloned, or an agent from before walAfterFork) checks nothing.
    expect(describeAsyncLoss(lost, { ...facts, rejoins: rejoinsFromLog([{ ...log[1]!, walAfterFork: 'garbage' }]) }).lines[0]).toContain('what its rewind discarded is unknown');
    // The same history, but hub2 went on acknowledging a second after it began fencing: the fence
    // did not end the loss.
    const late: Ack = { id: 1000, sent: T0 + 3200, ack: T0 + 2300 + FENCE_ACK_SLACK_MS + 500, sys: SYS, tl: 1, epoch: 1 };
    const bad = describeAsyncLoss([...lost, late], { ...facts, rejoins: [{ ...facts.rejoins[0]!, walAfterFork: { commits: 61, bytes: 7300 } }] });
    expect(bad.violations).toHaveLength(1);
    expect(bad.violations[0]!.kind).toBe('unbounded-loss');
    expect(bad.violations[0]!.message).toMatch(/^1 lost write\(s\) of .* after hub2 began fencing \(epoch 1, .*first id 1000/);
    // Without a fence of that epoch (a killed or paused primary) there is nothing to bound it by.
    expect(describeAsyncLoss(lost, { ...facts, fences: [] }).lines[0]).toContain('no fence of their epoch logged');
  });

  it('reports a recovery that did not happen or came too late', () => {
    expect(checkRecovery(12_000, 45_000)).toEqual([]);
    expect(checkRecovery(50_000, 45_000)[0]!.kind).toBe('no-recovery');
    expect(checkRecovery(null, 45_000, 'VIP held by [hub1, hub2]')[0]!.message).toContain('VIP held by');
  });

  it('reports two leaders in one term, and accepts one leader seen by many', () => {
    const ok = [
      { member: 'hub1', term: 3, leader: 'witness', at: T0 },
      { member: 'hub2', term: 3, leader: 'witness', at: T0 + 1 },
      { member: 'witness', term: 4, leader: 'hub2', at: T0 + 2 },
    ];
    expect(checkElectionSafety(ok)).toEqual([]);
    const v = checkElectionSafety([...ok, { member: 'hub1', term: 4, leader: 'hub1', at: T0 + 3 }]);
    expect(v).toHaveLength(1);
    expect(v[0]!.kind).toBe('raft-two-leaders');
    expect(v[0]!.message).toMatch(/^term 4 had 2 leaders/);
  });

  it('parses the writer output, skipping a line cut by a SIGKILL', () => {
    const text = [
      JSON.stringify({ t: 'conn', at: T0, msg: 'ECONNREFUSED' }),
      JSON.stringify({ t: 'ack', id: 1, sent: T0 + 1, ack: T0 + 3, sys: SYS, tl: 1, epoch: 1 }),
      JSON.stringify({ t: 'err', id: 2, sent: T0 + 4, at: T0 + 2004, msg: 'Query read timeout' }),
      '{"t":"ack","id":3,"se',
    ].join('\n');
    const h = parseHistory(text);
    expect(h.acks).toEqual([{ id: 1, sent: T0 + 1, ack: T0 + 3, sys: SYS, tl: 1, epoch: 1 }]);
    expect(h.inDoubt.map((d) => d.id)).toEqual([2]);
    expect(h.connectFailures).toBe(1);
    expect(h.ended).toBe(false);
  });
});
