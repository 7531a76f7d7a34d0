/**
 * RaftNode's read barrier when the leader goes away: a read forwarded to a leader that will never
 * answer is refused with 'leader-changed' as soon as this node sees the leader change — not
 * after its deadline — and a read on the new leader then succeeds. Three nodes on a MemoryNetwork
 * with in-memory storage (real timers, short ticks).
 */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Entry, NodeId, ReplicatedStateMachine } from '../src/index.js';
import { MemoryNetwork, MemoryRaftStorage, RaftNode } from '../src/index.js';
import { until } from './transport-helpers.js';

const IDS = ['n1', 'n2', 'n3'] as const;
const TICK_MS = 10;
/** Far beyond an election (10 ticks × 10 ms, plus jitter): a refusal before it is not a timeout. */
const READ_DEADLINE_MS = 20_000;

class NullStateMachine implements ReplicatedStateMachine<null> {
  apply(_entry: Entry): null {
    return null;
  }
  snapshot(): Uint8Array {
    return new Uint8Array();
  }
  restore(): void {}
  peerAddresses(): ReadonlyMap<NodeId, string> {
    return new Map(IDS.map((id) => [id, `memory:${id}`]));
  }
}

let nodes: RaftNode<null>[] = [];

afterEach(async () => {
  for (const node of nodes) await node.close();
  nodes = [];
});

async function startCluster(net: MemoryNetwork): Promise<RaftNode<null>[]> {
  const logger = pino({ level: 'silent' });
  for (const [i, id] of IDS.entries()) {
    const storage = await MemoryRaftStorage.open({ identity: { clusterId: 'reads', nodeId: id }, bootstrap: { voters: [...IDS], learners: [] } });
    nodes.push(
      await RaftNode.start<null>({
        id,
        raft: { electionTimeoutTicks: 10, heartbeatIntervalTicks: 1 },
        tickMs: TICK_MS,
        storage,
        transport: net.createTransport(id, IDS),
        stateMachine: new NullStateMachine(),
        logger,
        seed: 7 + i,
        proposalTimeoutMs: READ_DEADLINE_MS,
      }),
    );
  }
  return nodes;
}

describe('RaftNode read barrier and a lost leader', () => {
  it('a read waiting on a leader that is cut off is refused when the leader changes, then reads work on the new leader', async () => {
    const net = new MemoryNetwork();
    const all = await startCluster(net);
    await until(() => all.some((n) => n.isLeader()), 'a leader', 5000);
    const leader = all.find((n) => n.isLeader())!;
    const follower = all.find((n) => n !== leader)!;
    await until(() => follower.leader() === leader.id, 'the follower knows the leader', 5000);
    expect(await follower.readBarrier()).toMatchObject({ ok: true });

    // The leader is cut off: the follower's ReadIndex goes to it and is never answered.
    net.isolate(leader.id);
    const started = performance.now();
    const outcome = await follower.readBarrier();
    const waitedMs = performance.now() - started;
    expect(outcome).toMatchObject({ ok: false, reason: 'leader-changed' });
    expect(waitedMs).toBeLessThan(READ_DEADLINE_MS);

    // The two others elect a leader between them; reads on either succeed again.
    await until(() => all.some((n) => n !== leader && n.isLeader()), 'a new leader', 5000);
    await until(() => follower.leader() !== leader.id && follower.leader() !== '', 'the follower knows the new leader', 5000);
    expect(await follower.readBarrier()).toMatchObject({ ok: true });
  });

  it('reads on a leader that is cut off before a quorum confirms them are refused when it steps down', async () => {
    const net = new MemoryNetwork();
    const all = await startCluster(net);
    await until(() => all.some((n) => n.isLeader()), 'a leader', 5000);
    const leader = all.find((n) => n.isLeader())!;
    // Isolated at once: the heartbeat round that would confirm these reads never comes back, and
    // the leader steps down (checkQuorum) after an election timeout.
    const reads = Array.from({ length: 5 }, () => leader.readBarrier());
    net.isolate(leader.id);
    const outcomes = await Promise.all(reads);
    for (const outcome of outcomes) expect(outcome).toMatchObject({ ok: false, reason: 'leader-changed' });
    expect(leader.isLeader()).toBe(false);
  });
});
