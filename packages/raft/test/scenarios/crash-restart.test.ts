import { describe, expect, it } from 'vitest';
import { makeMessage } from '../../src/core/messages.js';
import { MessageType } from '../../src/core/types.js';
import { TestCluster } from '../../src/testing/cluster.js';
import { commit, drain, role, storedLog, term } from './helpers.js';

/**
 * A restarted node is rebuilt from what it persisted, exactly: hard state (term, vote, commit),
 * snapshot and entries. Whatever a Ready held that was not yet persisted is gone, and so are the
 * messages that were to leave only after persistence.
 */
describe('crash and restart', () => {
  it('term and vote survive a crash, so a node never votes twice in a term', () => {
    const c = new TestCluster(['1', '2', '3'], { preVote: false, checkQuorum: false });
    c.core('1').campaign();
    drain(c, '1');
    c.deliverWhere((m) => m.to === '2');
    drain(c, '2'); // 2 persists its vote for 1, then crashes before its answer is delivered
    const votedTerm = term(c, '2');
    expect(c.node('2').disk.hardState).toMatchObject({ term: votedTerm, vote: '1' });
    c.crash('2');
    c.restart('2');
    expect(c.core('2').status()).toMatchObject({ term: votedTerm, vote: '1', role: 'follower' });
    // 3 campaigns in the same term: 2 must refuse.
    c.dropWhere(() => true);
    c.core('3').campaign(); // 3 had not seen the term yet: it starts the same term number
    expect(term(c, '3')).toBe(votedTerm);
    drain(c, '3');
    c.deliverWhere((m) => m.to === '2');
    drain(c, '2');
    const answer = c.queue.find((m) => m.type === MessageType.VoteResp && m.from === '2');
    expect(answer?.reject).toBe(true);
    // Yet it grants 1 again (the same candidate, e.g. a retransmitted request).
    c.dropWhere(() => true);
    const last = c.core('1').status().lastIndex;
    c.core('2').step(makeMessage(MessageType.Vote, '1', '2', votedTerm, { index: last, logTerm: c.node('1').disk.entries.at(-1)!.term }));
    drain(c, '2');
    expect(c.queue.find((m) => m.type === MessageType.VoteResp && m.from === '2' && m.to === '1')?.reject).toBe(false);
  });

  it('an unpersisted Ready is lost with everything it would have sent after persisting', () => {
    const c = new TestCluster(['1', '2', '3'], { preVote: false, checkQuorum: false });
    c.elect('1');
    const before = c.core('2').status();
    c.core('2').campaign(); // term+1 and a vote for itself, in memory only
    expect(term(c, '2')).toBe(before.term + 1);
    const rd = c.core('2').ready(); // handed out, never persisted: the process dies here
    expect(rd.hardState).toMatchObject({ term: before.term + 1, vote: '2' });
    expect(rd.messagesAfterPersist.filter((m) => m.type === MessageType.Vote)).toHaveLength(2);
    expect(rd.messagesNow).toHaveLength(0);
    c.crash('2');
    c.restart('2');
    expect(c.core('2').status()).toMatchObject({ term: before.term, vote: before.vote, role: 'follower' });
    expect(c.node('2').disk.hardState.term).toBe(before.term);
    c.stabilize();
    expect(c.leader()).toBe('1');
    expect(term(c, '1')).toBe(before.term); // the vote requests never left: nobody saw the term
  });

  it("a leader's entries that went out before its own fsync survive through the followers", () => {
    const c = new TestCluster(['1', '2', '3'], { preVote: false, checkQuorum: false });
    c.elect('1');
    const x = c.propose('1', 'x');
    if (!x.ok) throw new Error('refused');
    const rd = c.core('1').ready(); // App messages at a durable term may leave before the fsync
    expect(rd.entries.map((e) => e.index)).toEqual([x.index]);
    expect(rd.messagesNow.filter((m) => m.type === MessageType.App)).toHaveLength(2);
    c.queue.push(...rd.messagesNow);
    c.crash('1'); // ... and the leader dies before persisting "x"
    c.restart('1');
    expect(c.core('1').status().lastIndex).toBe(x.index - 1);
    expect(storedLog(c, '1')).not.toContain(`${x.index}/${x.term}`);
    c.stabilize(); // 2 and 3 store "x"
    c.elect('2');
    expect(role(c, '2')).toBe('leader');
    c.tickAll(); // a heartbeat carries the final commit index to 1 (see observation O1)
    c.stabilize();
    for (const id of ['1', '2', '3']) expect(c.node(id).applied).toContain(`${x.index}/${x.term}:x`);
  });

  it('recovers exactly what was persisted: log, commit, membership, and re-applies committed entries', () => {
    const c = new TestCluster(['1', '2', '3'], { preVote: false, checkQuorum: false });
    c.elect('1');
    for (const p of ['a', 'b', 'c']) c.propose('1', p);
    c.stabilize();
    c.tickAll();
    c.stabilize(); // followers learn the final commit index
    const disk = structuredClone(c.node('3').disk);
    const status = c.core('3').status();
    const applied = [...c.node('3').applied];
    c.crash('3');
    c.restart('3');
    const after = c.core('3').status();
    expect(after).toMatchObject({ term: status.term, vote: status.vote, commit: status.commit, lastIndex: status.lastIndex, conf: status.conf });
    expect(after.applied).toBe(0); // nothing applied yet: the state machine is rebuilt...
    c.processReady('3');
    expect(c.node('3').applied).toEqual(applied); // ...from the committed entries, in order
    expect(c.node('3').disk).toEqual(disk);
  });

  it('a crashed node misses nothing that matters: it catches up after restart', () => {
    const c = new TestCluster(['1', '2', '3'], { preVote: false, checkQuorum: false });
    c.elect('1');
    c.crash('3');
    for (const p of ['a', 'b']) c.propose('1', p);
    c.stabilize();
    expect(commit(c, '1')).toBe(c.core('1').status().lastIndex); // 1 and 2 suffice
    c.restart('3');
    for (let i = 0; i < 3; i++) {
      c.tickAll();
      c.stabilize();
    }
    expect(storedLog(c, '3')).toEqual(storedLog(c, '1'));
    expect(c.node('3').applied).toEqual(c.node('1').applied);
  });
});
