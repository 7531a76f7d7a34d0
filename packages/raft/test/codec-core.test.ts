import { describe, expect, it } from 'vitest';
import type { Message } from '../src/core/types.js';
import { TestCluster } from '../src/testing/cluster.js';
import { decodeEntry, decodeHardState, decodeMessage, decodeSnapshot, encodeEntry, encodeHardState, encodeMessage, encodeSnapshot } from '../src/codec/index.js';

/**
 * The core's real traffic must survive the wire: every message a TestCluster delivers is
 * encoded, decoded (and so validated as untrusted input), compared, and the decoded copy is what
 * the receiver steps. Everything the nodes persist must round-trip through the storage codecs.
 */
function overTheWire(c: TestCluster): Map<string, number> {
  const seen = new Map<string, number>();
  const deliver = c.deliver.bind(c);
  c.deliver = (m: Message): boolean => {
    const r = decodeMessage(encodeMessage(m));
    if (!r.ok) throw new Error(`codec rejected a core message (${r.error}): ${JSON.stringify(m)}`);
    expect(r.message).toEqual(m);
    seen.set(m.type, (seen.get(m.type) ?? 0) + 1);
    return deliver(r.message);
  };
  return seen;
}

function checkDisks(c: TestCluster): void {
  for (const node of c.nodes.values()) {
    const { hardState, snapshot, entries } = node.disk;
    expect(decodeHardState(encodeHardState(hardState))).toEqual({ ok: true, value: hardState });
    if (snapshot !== null) expect(decodeSnapshot(encodeSnapshot(snapshot))).toEqual({ ok: true, value: snapshot });
    for (const e of entries) expect(decodeEntry(encodeEntry(e))).toEqual({ ok: true, value: e });
  }
}

function settle(c: TestCluster, ticks: number): void {
  for (let i = 0; i < ticks; i++) {
    c.tickAll();
    c.stabilize();
  }
}

describe('codec over the core', () => {
  it('carries every message type of a cluster run, and every stored value', () => {
    const c = new TestCluster(['a', 'b', 'c']);
    const seen = overTheWire(c);
    checkDisks(c); // the bootstrap state

    c.elect('a');
    expect(c.propose('a', 'x').ok).toBe(true);
    c.stabilize();
    expect(c.core('b').readIndex(new TextEncoder().encode('r1')).ok).toBe(true);
    c.stabilize();
    settle(c, 3);
    expect(c.core('a').transferLeadership('b').ok).toBe(true);
    c.stabilize();
    expect(c.leader()).toBe('b');

    // A lagging follower, and a new learner, are caught up from a snapshot.
    c.isolate('c');
    for (const p of ['y', 'z']) expect(c.propose('b', p).ok).toBe(true);
    c.stabilize();
    const applied = c.core('b').status().applied;
    c.core('b').createSnapshot(applied, new TextEncoder().encode('state'));
    c.heal();
    c.addNode('d');
    settle(c, 3);
    expect(c.core('b').proposeConfChange({ type: 'add-learner', node: 'd' }).ok).toBe(true);
    c.stabilize();
    settle(c, 30);

    // Elections after a partition (pre-votes, votes, rejections).
    c.partition(['a', 'c'], ['b', 'd']);
    settle(c, 40);
    c.heal();
    settle(c, 40);
    checkDisks(c);

    for (const type of ['app', 'app-resp', 'vote', 'vote-resp', 'pre-vote', 'pre-vote-resp', 'heartbeat', 'heartbeat-resp', 'snap', 'timeout-now', 'read-index', 'read-index-resp']) {
      expect(seen.get(type) ?? 0, type).toBeGreaterThan(0);
    }
  });
});
