/**
 * The durable, networked cluster with real `hubha run` processes on 127.0.0.1: kill -9 of the
 * leader and of followers mid-stream, catch-up by snapshot, live membership changes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CoordClient } from '@hubha/coord';
import { ProcessCluster } from '../support/process-cluster.js';
import { connect, findLeader, sleep, waitApplied } from './helpers.js';

const TICK_MS = 50;
const ELECTION_TIMEOUT_TICKS = 10;
const ELECTION_TIMEOUT_MS = TICK_MS * ELECTION_TIMEOUT_TICKS;

let cluster: ProcessCluster | null = null;
let client: CoordClient | null = null;

afterEach(async () => {
  await client?.close();
  client = null;
  await cluster?.close();
  cluster = null;
});

/** Writes keys w-0, w-1, … sequentially until stopped; returns the acknowledged ones. */
function writeStream(c: CoordClient, prefix: string): { stop(): Promise<string[]>; acked: string[] } {
  const acked: string[] = [];
  let running = true;
  const session = c.session(`writer-${prefix}`);
  const loop = (async () => {
    for (let i = 0; running; i++) {
      const key = `${prefix}-${String(i).padStart(6, '0')}`;
      try {
        await session.put(key, `v${i}`);
        acked.push(key);
      } catch {
        // Not acknowledged: may or may not be there; only acknowledged writes are checked.
        await sleep(20);
      }
    }
  })();
  return {
    acked,
    async stop() {
      running = false;
      await loop;
      return acked;
    },
  };
}

describe('a three-node cluster of real processes', () => {
  it('elects a new leader about one election timeout after the leader is killed with -9, losing no acknowledged write', async () => {
    cluster = await ProcessCluster.create({ tickMs: TICK_MS, electionTimeoutTicks: ELECTION_TIMEOUT_TICKS });
    cluster.startAll();
    client = await connect(cluster);
    const first = await findLeader(cluster, client);
    const writer = writeStream(client, 'k');
    await sleep(1000);
    const killedAt = performance.now();
    await cluster.kill(first.name, 'SIGKILL');
    const second = await findLeader(cluster, client, { exclude: first.name });
    const electedAfterMs = performance.now() - killedAt;
    expect(second.term).toBeGreaterThan(first.term);
    // A follower waits a randomized [T, 2T) election timeout, then one PreVote and one Vote
    // round trip on loopback; the polling adds a little.
    expect(electedAfterMs).toBeLessThan(2 * ELECTION_TIMEOUT_MS + 1000);
    await sleep(1000);
    const acked = await writer.stop();
    expect(acked.length).toBeGreaterThan(20);
    const range = await client.session('reader').range('k-', { limit: 10_000 });
    const present = new Set(range.kvs.map((kv) => kv.key));
    expect(acked.filter((key) => !present.has(key))).toEqual([]);
  });

  it('a follower killed with -9 in the middle of a write stream rejoins and catches up', async () => {
    cluster = await ProcessCluster.create({ tickMs: TICK_MS, electionTimeoutTicks: ELECTION_TIMEOUT_TICKS });
    cluster.startAll();
    client = await connect(cluster);
    const leader = await findLeader(cluster, client);
    const follower = cluster.members.find((m) => m.name !== leader.name)!.name;
    const writer = writeStream(client, 'f');
    await sleep(700);
    await cluster.kill(follower, 'SIGKILL');
    await sleep(700);
    cluster.start(follower);
    await sleep(700);
    const acked = await writer.stop();
    expect(acked.length).toBeGreaterThan(10);
    // Caught up: the restarted follower has applied everything the leader has committed.
    const leaderStatus = await client.session('s').status(cluster.endpoint(leader.name));
    await waitApplied(cluster, client, follower, leaderStatus.commitIndex);
    const followerStatus = await client.session('s').status(cluster.endpoint(follower));
    expect(followerStatus.role).toBe('follower');
  });

  it('a node down long enough for the log to be compacted catches up by snapshot', async () => {
    cluster = await ProcessCluster.create({ tickMs: TICK_MS, electionTimeoutTicks: ELECTION_TIMEOUT_TICKS, snapshotEveryEntries: 50 });
    cluster.startAll();
    client = await connect(cluster);
    const leader = await findLeader(cluster, client);
    const follower = cluster.members.find((m) => m.name !== leader.name)!.name;
    await cluster.kill(follower, 'SIGKILL');
    const session = client.session('bulk');
    for (let i = 0; i < 300; i++) await session.put(`s-${String(i).padStart(4, '0')}`, `v${i}`);
    const leaderStatus = await session.status(cluster.endpoint(leader.name));
    cluster.start(follower);
    await waitApplied(cluster, client, follower, leaderStatus.commitIndex);
    const logs = await cluster.logs(follower);
    expect(logs.some((l) => l.msg === 'restored snapshot from leader')).toBe(true);
  });

  it('adds a node as a learner, promotes it, and removes another member, live', async () => {
    cluster = await ProcessCluster.create({ tickMs: TICK_MS, electionTimeoutTicks: ELECTION_TIMEOUT_TICKS });
    cluster.startAll();
    client = await connect(cluster);
    await findLeader(cluster, client);
    const session = client.session('admin');
    for (let i = 0; i < 20; i++) await session.put(`m-${i}`, `v${i}`);
    const joiner = await cluster.addJoiner('n4');
    await session.memberAddLearner('n4', joiner.peer, joiner.client);
    cluster.start('n4');
    // Promotion is refused until the learner has caught up; retry until it is accepted.
    let promoted = false;
    for (let attempt = 0; attempt < 100 && !promoted; attempt++) {
      promoted = await session.memberPromote('n4').then(
        () => true,
        () => false,
      );
      if (!promoted) await sleep(100);
    }
    expect(promoted).toBe(true);
    const members = (await session.memberList()).members;
    expect(members.find((m) => m.id === 'n4')?.role).toBe('voter');
    // Remove n3 (whoever leads) and stop its process: the other three carry on.
    await session.memberRemove('n3');
    await cluster.kill('n3', 'SIGKILL');
    const after = (await session.memberList()).members.map((m) => m.id);
    expect(after).toEqual(['n1', 'n2', 'n4']);
    await session.put('after-remove', 'ok');
    const got = await client.session('reader').get('after-remove', { serializable: false });
    expect(got.kv).not.toBeNull();
  });
});
