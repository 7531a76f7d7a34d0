import { describe, expect, it } from 'vitest';
import { TestCluster } from '../../src/testing/cluster.js';
import { commit, drain, role, storedTerm, term } from './helpers.js';

/**
 * Raft paper, Figure 8: a leader must not commit an entry of an earlier term by counting the
 * replicas that hold it; it commits such an entry only indirectly, by committing an entry of its
 * own term after it. max-msg-bytes=1 makes every App carry a single non-empty entry, so the
 * old-term entry can reach a majority without the leader's own entry.
 */
const ALL = ['1', '2', '3', '4', '5'];
const isTo =
  (...ids: string[]) =>
  (m: { to: string }): boolean =>
    ids.includes(m.to);

/**
 * Runs (a)-(c) of the figure. Returns with node 1 leading term 4, holding "xx" (term 2) at
 * `xx` on nodes 1-4, and its own entry xx+1 (term 4) on 1 and 2 only, in flight to 3 and 4.
 */
function upToFigure8c(): { c: TestCluster; xx: number } {
  const c = new TestCluster(ALL, { preVote: false, checkQuorum: false, maxMsgBytes: 1 });
  c.elect('1');
  expect(term(c, '1')).toBe(2);

  // (a) 1 replicates "xx" to 2 only, then crashes.
  const p = c.propose('1', 'xx');
  if (!p.ok) throw new Error('propose refused');
  const xx = p.index;
  drain(c, '1');
  c.deliverWhere(isTo('2'));
  c.dropWhere(() => true);
  drain(c, '2');
  c.dropWhere(() => true);
  c.crash('1');

  // (b) 5 wins term 3 with the votes of 3 and 4 and appends its empty entry at xx, which reaches
  // nobody; then 5 crashes.
  expect(c.core('5').campaign().ok).toBe(true);
  drain(c, '5');
  c.deliverWhere(isTo('2', '3', '4'));
  drain(c, '2', '3', '4');
  c.deliverWhere(isTo('5'));
  drain(c, '5');
  expect(role(c, '5')).toBe('leader');
  expect(c.core('5').status().lastIndex).toBe(xx);
  expect(storedTerm(c, '5', xx)).toBe(3);
  c.dropWhere(() => true);
  c.crash('5');

  // (c) 1 restarts; term 3 is taken (3 and 4 voted for 5), so it wins term 4.
  c.restart('1');
  c.core('1').campaign();
  c.stabilize();
  expect(role(c, '1')).not.toBe('leader');
  c.core('1').campaign();
  drain(c, '1');
  c.deliverWhere(isTo('2', '3', '4'));
  drain(c, '2', '3', '4');
  c.deliverWhere(isTo('1'));
  drain(c, '1');
  expect(role(c, '1')).toBe('leader');
  expect(term(c, '1')).toBe(4);
  // 2 takes 1's empty entry; 3 and 4 reject (they lack xx), and the probe brings them "xx" alone.
  c.deliverWhere(isTo('2', '3', '4'));
  drain(c, '2', '3', '4');
  c.deliverWhere(isTo('1'));
  drain(c, '1');
  c.deliverWhere(isTo('3', '4'));
  drain(c, '3', '4');
  c.deliverWhere(isTo('1'));
  drain(c, '1');
  return { c, xx };
}

describe('Figure 8: no commit of a previous-term entry by counting replicas', () => {
  it('leaves the old-term entry uncommitted although a majority holds it, and the leader knows', () => {
    const { c, xx } = upToFigure8c();
    for (const id of ['1', '2', '3', '4']) expect(storedTerm(c, id, xx)).toBe(2);
    const status = c.core('1').status();
    const holders = ['2', '3', '4'].filter((id) => (status.progress.get(id)?.match ?? 0) >= xx);
    expect(holders).toEqual(['2', '3', '4']); // with 1 itself: four of five
    expect(status.persistedIndex).toBeGreaterThanOrEqual(xx);
    expect(status.commit).toBe(xx - 1);
    for (const id of ['1', '2', '3', '4']) expect(c.node(id).applied).not.toContain(`${xx}/2:xx`);
  });

  it('(d) a node with a later-term entry at that index can still win and overwrite it: it was never committed', () => {
    const { c, xx } = upToFigure8c();
    c.crash('1');
    c.dropWhere(() => true); // 1's entry xx+1 never reaches 3 and 4
    c.restart('5');
    c.core('5').campaign(); // term 4: everyone already voted in term 4
    c.stabilize();
    expect(role(c, '5')).not.toBe('leader');
    c.core('5').campaign(); // term 5: 3 and 4 (last entry xx/2) grant, 2 (xx+1/4) refuses
    c.stabilize();
    expect(role(c, '5')).toBe('leader');
    expect(term(c, '5')).toBe(5);
    for (const id of ['2', '3', '4', '5']) {
      expect(storedTerm(c, id, xx)).toBe(3);
      expect(c.node(id).applied).not.toContain(`${xx}/2:xx`);
    }
  });

  it('(e) commits the old-term entry together with an entry of the current term, after which it is safe', () => {
    const { c, xx } = upToFigure8c();
    // Let 1's own entry reach 3 and 4: it commits xx+1, and xx with it.
    c.stabilize();
    expect(commit(c, '1')).toBe(xx + 1);
    for (const id of ['1', '2', '3', '4']) expect(c.node(id).applied).toContain(`${xx}/2:xx`);
    // Now 5 can never win: a majority holds an entry of term 4 after its last entry (term 3).
    c.crash('1');
    c.restart('5');
    for (let attempt = 0; attempt < 3; attempt++) {
      c.core('5').campaign();
      c.stabilize();
      expect(role(c, '5')).not.toBe('leader');
    }
    for (const id of ['2', '3', '4']) expect(storedTerm(c, id, xx)).toBe(2);
  });
});
