import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeMessage } from '../src/codec/index.js';
import { makeMessage } from '../src/core/messages.js';
import type { Message, NodeId } from '../src/core/types.js';
import { MessageType } from '../src/core/types.js';
import type { AckFrame, BatchFrame, Decoded } from '../src/transport/frames.js';
import { RAFT_PEER_STREAM_PATH, decodeAck, encodeBatch } from '../src/transport/frames.js';
import type { GrpcRaftTransportOptions } from '../src/transport/index.js';
import { GrpcRaftTransport } from '../src/transport/index.js';
import type { LogRecord, Pki } from './transport-helpers.js';
import { Recorder, WARN, byType, bytes, captureLogger, everyType, freePort, heartbeat, makePki, sleep, until } from './transport-helpers.js';

const CLUSTER = 'hubha-test';
const MiB = 1024 * 1024;

interface Node {
  readonly id: NodeId;
  readonly t: GrpcRaftTransport;
  readonly rec: Recorder;
  readonly logs: LogRecord[];
}

const open: GrpcRaftTransport[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

type NodeOptions = Partial<Omit<GrpcRaftTransportOptions, 'self' | 'logger'>>;

async function node(id: NodeId, options: NodeOptions = {}): Promise<Node> {
  const { logger, records } = captureLogger();
  const t = new GrpcRaftTransport({
    clusterId: CLUSTER,
    listen: '127.0.0.1:0',
    peers: new Map(),
    backoff: { initialMs: 20, maxMs: 200, jitter: 0.2 },
    ...options,
    self: id,
    logger,
  });
  open.push(t);
  const rec = new Recorder();
  await t.start(rec);
  return { id, t, rec, logs: records };
}

/** Everyone learns everyone's address. */
function mesh(nodes: readonly Node[]): void {
  const book = new Map(nodes.map((n) => [n.id, n.t.address()]));
  for (const n of nodes) n.t.setPeers(book);
}

const commits = (ms: readonly Message[]): number[] => ms.map((m) => m.commit);

describe('GrpcRaftTransport', () => {
  it('reports the bound port for port 0 and exchanges every message type between two nodes', async () => {
    const [a, b] = [await node('a'), await node('b')];
    expect(a.t.port).toBeGreaterThan(0);
    expect(a.t.address()).toBe(`127.0.0.1:${a.t.port}`);
    mesh([a, b]);
    a.t.send(everyType('a', 'b'));
    b.t.send(everyType('b', 'a'));
    await until(() => a.rec.messages.length === 12 && b.rec.messages.length === 12, 'all 12 types both ways');
    expect(byType(b.rec.messages)).toEqual(byType(everyType('a', 'b')));
    expect(byType(a.rec.messages)).toEqual(byType(everyType('b', 'a')));
    await until(() => a.rec.snapshotStatus.length === 1 && b.rec.snapshotStatus.length === 1, 'snapshot acks');
    expect(a.rec.snapshotStatus).toEqual([['b', true]]);
    expect(b.rec.snapshotStatus).toEqual([['a', true]]);
    expect(a.rec.unreachable).toEqual([]);
    expect(a.t.stats().peers.get('b')).toMatchObject({ connected: true, sentMessages: 11, snapshotsSent: 1, droppedMessages: 0 });
  });

  it('exchanges every message type among three nodes', async () => {
    const nodes = [await node('n1'), await node('n2'), await node('n3')];
    mesh(nodes);
    for (const from of nodes) for (const to of nodes) if (from !== to) from.t.send(everyType(from.id, to.id));
    await until(() => nodes.every((n) => n.rec.messages.length === 24), '24 messages at each node');
    for (const to of nodes) {
      for (const from of nodes) {
        if (from === to) continue;
        expect(byType(to.rec.from(from.id))).toEqual(byType(everyType(from.id, to.id)));
      }
    }
    await until(() => nodes.every((n) => n.rec.snapshotStatus.length === 2), 'snapshot statuses');
    for (const n of nodes) expect(n.rec.snapshotStatus.every(([, ok]) => ok)).toBe(true);
  });

  it('batches: many sends in one turn become few stream writes, in order', async () => {
    const [a, b] = [await node('a'), await node('b')];
    mesh([a, b]);
    await until(() => a.t.stats().peers.get('b')?.connected === true, 'a connected to b');
    for (let i = 0; i < 1000; i++) a.t.send([heartbeat('a', 'b', i)]);
    await until(() => b.rec.messages.length === 1000, '1000 heartbeats');
    expect(commits(b.rec.messages)).toEqual([...Array(1000).keys()]);
    const s = a.t.stats().peers.get('b');
    expect(s?.sentMessages).toBe(1000);
    expect(s?.sentBatches).toBeLessThanOrEqual(2);
    expect(b.t.stats().receivedBatches).toBe(s?.sentBatches);
  });

  it('splits a backlog into batches that fit maxMessageBytes', async () => {
    const limits = { maxMessageBytes: 64 * 1024, snapshotChunkBytes: 16 * 1024 };
    const [a, b] = [await node('a', { limits }), await node('b', { limits })];
    mesh([a, b]);
    await until(() => a.t.stats().peers.get('b')?.connected === true, 'a connected to b');
    a.t.send([...Array(100).keys()].map((i) => heartbeat('a', 'b', i, bytes(4000, i + 1))));
    await until(() => b.rec.messages.length === 100, '100 heartbeats');
    expect(commits(b.rec.messages)).toEqual([...Array(100).keys()]);
    const batches = a.t.stats().peers.get('b')?.sentBatches ?? 0;
    expect(batches).toBeGreaterThanOrEqual(7); // 400 KB of messages in 60 KB batches
    expect(batches).toBeLessThanOrEqual(10);
  });

  it('rejects batches with a wrong cluster id (logged at warn, counted, not delivered)', async () => {
    const a = await node('a');
    const b = await node('b', { clusterId: 'another-cluster' });
    mesh([a, b]);
    b.t.send([heartbeat('b', 'a', 1)]);
    await until(() => a.t.stats().rejectedByReason['cluster-id'] >= 1, 'rejection');
    await until(() => b.rec.unreachable.includes('a'), 'b told a is unreachable');
    expect(a.rec.messages).toEqual([]);
    expect(a.t.stats().receivedMessages).toBe(0);
    expect(a.logs.some((r) => r.level === WARN && r['reason'] === 'cluster-id')).toBe(true);
    expect(b.t.stats().peers.get('a')?.refusals).toBeGreaterThanOrEqual(1);
  });

  it('rejects batches from an unknown sender and batches addressed to another node', async () => {
    const a = await node('a');
    const b = await node('b');
    const stranger = await node('z');
    a.t.setPeers(new Map([['b', b.t.address()]])); // z is not a peer of a
    stranger.t.setPeers(new Map([['a', a.t.address()]]));
    stranger.t.send([heartbeat('z', 'a', 1)]);
    await until(() => a.t.stats().rejectedByReason['unknown-sender'] >= 1, 'unknown sender rejected');
    expect(a.logs.some((r) => r.level === WARN && r['reason'] === 'unknown-sender' && r['peer'] === 'z')).toBe(true);

    // b believes a's address belongs to "c": its batches for "c" reach a.
    b.t.setPeers(new Map([['c', a.t.address()]]));
    b.t.send([heartbeat('b', 'c', 1)]);
    await until(() => a.t.stats().rejectedByReason.recipient >= 1, 'wrong recipient rejected');
    await sleep(20);
    expect(a.rec.messages).toEqual([]);
    expect(a.t.stats().rejectedBatches).toBe(a.t.stats().rejectedByReason['unknown-sender'] + a.t.stats().rejectedByReason.recipient);
  });

  it('drops invalid messages inside an accepted batch and delivers the valid ones', async () => {
    const a = await node('a');
    a.t.setPeers(new Map([['b', '127.0.0.1:1']]));
    const client = new grpc.Client(a.t.address(), grpc.credentials.createInsecure());
    const call = client.makeBidiStreamRequest<BatchFrame, Decoded<AckFrame>>(RAFT_PEER_STREAM_PATH, encodeBatch, decodeAck, new grpc.Metadata());
    call.on('error', () => {});
    const good = heartbeat('b', 'a', 42);
    const appOutOfOrder = makeMessage(MessageType.App, 'b', 'a', 2, { index: 5, entries: [{ term: 1, index: 9, type: 0, data: new Uint8Array(0) }] });
    call.write({
      clusterId: CLUSTER,
      from: 'b',
      to: 'a',
      messages: [Uint8Array.of(0xff, 0xff, 0xff), encodeMessage(good), encodeMessage(heartbeat('x', 'a', 1)), encodeMessage(appOutOfOrder)],
      chunk: null,
    });
    await until(() => a.t.stats().invalidMessages === 3, 'three invalid messages');
    await until(() => a.rec.messages.length === 1, 'the valid one');
    expect(a.rec.messages).toEqual([good]);
    expect(a.logs.filter((r) => r.level === WARN && r.msg.includes('invalid message')).length).toBe(3);
    call.cancel();
    client.close();
  });

  it('sends a 5 MiB snapshot in chunks and reports success once the receiver acknowledged it', async () => {
    const [a, b] = [await node('a'), await node('b')];
    mesh([a, b]);
    const snap = makeMessage(MessageType.Snap, 'a', 'b', 3, {
      snapshot: { meta: { index: 1000, term: 3, conf: { voters: ['a', 'b'], learners: [] } }, data: bytes(5 * MiB, 9) },
    });
    a.t.send([snap]);
    for (let i = 0; i < 10; i++) a.t.send([heartbeat('a', 'b', i)]); // interleave with the chunks
    await until(() => a.rec.snapshotStatus.length === 1, 'snapshot status', 8000);
    expect(a.rec.snapshotStatus).toEqual([['b', true]]);
    const got = b.rec.messages.filter((m) => m.type === MessageType.Snap);
    expect(got).toHaveLength(1);
    expect(got[0]?.snapshot?.meta).toEqual(snap.snapshot?.meta);
    expect(Buffer.compare(Buffer.from(got[0]?.snapshot?.data ?? []), Buffer.from(snap.snapshot?.data ?? []))).toBe(0);
    expect(commits(b.rec.messages.filter((m) => m.type === MessageType.Heartbeat))).toEqual([...Array(10).keys()]);
    const sent = a.t.stats().peers.get('b');
    expect(sent?.snapshotChunksSent).toBe(6); // 5 MiB + the message's header, in 1 MiB chunks
    expect(b.t.stats().snapshotChunksReceived).toBe(6);
    expect(b.t.stats().snapshotsReceived).toBe(1);
  });

  it('reports a failed snapshot when the receiver refuses its size, and the stream stays usable', async () => {
    const a = await node('a');
    const b = await node('b', { limits: { maxSnapshotBytes: 1 * MiB } });
    mesh([a, b]);
    const snap = makeMessage(MessageType.Snap, 'a', 'b', 3, {
      snapshot: { meta: { index: 10, term: 3, conf: { voters: ['a', 'b'], learners: [] } }, data: bytes(2 * MiB) },
    });
    a.t.send([snap]);
    await until(() => a.rec.snapshotStatus.length === 1, 'snapshot status');
    expect(a.rec.snapshotStatus).toEqual([['b', false]]);
    a.t.send([heartbeat('a', 'b', 5)]);
    await until(() => b.rec.messages.length === 1, 'a heartbeat after the failed transfer');
    expect(b.rec.messages[0]?.type).toBe(MessageType.Heartbeat);
    expect(b.t.stats().snapshotsAbandoned).toBe(1);
    expect(a.rec.unreachable).toEqual([]);
  });

  it('reports a peer that is down, reconnects with backoff once it is up, and new messages flow', async () => {
    const port = await freePort();
    const a = await node('a', { peers: new Map([['b', `127.0.0.1:${port}`]]) });
    a.t.send([heartbeat('a', 'b', 1)]);
    await until(() => a.rec.unreachable.length >= 2, 'repeated unreachable reports');
    const down = a.t.stats().peers.get('b');
    expect(down?.connected).toBe(false);
    expect(down?.connectFailures).toBeGreaterThanOrEqual(2);
    expect(a.rec.unreachable.every((p) => p === 'b')).toBe(true);

    const b = await node('b', { listen: `127.0.0.1:${port}`, peers: new Map([['a', a.t.address()]]) });
    await until(() => a.t.stats().peers.get('b')?.connected === true, 'a reconnected to b', 3000);
    a.t.send([heartbeat('a', 'b', 2)]);
    await until(() => commits(b.rec.messages).includes(2), 'the new heartbeat');
    // The heartbeat queued during the outage waited in the (bounded) queue.
    expect(commits(b.rec.messages)).toEqual([1, 2]);
    b.t.send([heartbeat('b', 'a', 3)]);
    await until(() => a.rec.messages.length === 1, 'b → a');
  });

  it('reconnects to a restarted peer as soon as it connects to us, not after the backoff', async () => {
    const port = await freePort();
    // A backoff far longer than the test's wait: only the peer's own stream can bring a back.
    const a = await node('a', { peers: new Map([['b', `127.0.0.1:${port}`]]), backoff: { initialMs: 30_000, maxMs: 30_000, jitter: 0 } });
    await until(() => a.rec.unreachable.length >= 1, 'b reported unreachable');
    expect(a.t.stats().peers.get('b')?.connectAttempts).toBe(1);

    const b = await node('b', { listen: `127.0.0.1:${port}`, peers: new Map([['a', a.t.address()]]) });
    const upAt = performance.now();
    await until(() => a.t.stats().peers.get('b')?.connected === true, 'a reconnected to b', 3000);
    expect(performance.now() - upAt).toBeLessThan(3000);
    expect(a.t.stats().peers.get('b')?.connectAttempts).toBe(2);
    expect(a.logs.some((r) => r.msg === 'raft transport: the peer connected to us; reconnecting now')).toBe(true);
    a.t.send([heartbeat('a', 'b', 7)]);
    await until(() => commits(b.rec.messages).includes(7), 'a → b after the kick');
  });

  it('bounds the queue while a peer is down: the oldest messages are dropped, with onUnreachable', async () => {
    const port = await freePort();
    const a = await node('a', { peers: new Map([['b', `127.0.0.1:${port}`]]), limits: { maxQueuedMessagesPerPeer: 10 } });
    for (let i = 0; i < 100; i++) a.t.send([heartbeat('a', 'b', i)]);
    const s = a.t.stats().peers.get('b');
    expect(s).toMatchObject({ queuedMessages: 10, droppedMessages: 90, connected: false });
    expect(a.t.stats().droppedMessages).toBe(90);
    await until(() => a.rec.unreachable.length >= 90, 'an unreachable report per overflowing send');
    expect(a.logs.some((r) => r.level === WARN && r.msg.includes('queue full'))).toBe(true);

    const b = await node('b', { listen: `127.0.0.1:${port}`, peers: new Map([['a', a.t.address()]]) });
    await until(() => b.rec.messages.length === 10, 'the ten newest');
    expect(commits(b.rec.messages)).toEqual([90, 91, 92, 93, 94, 95, 96, 97, 98, 99]);
  });

  it('bounds the queue by bytes too', async () => {
    const port = await freePort();
    const a = await node('a', { peers: new Map([['b', `127.0.0.1:${port}`]]), limits: { maxQueuedBytesPerPeer: 10_000 } });
    a.t.send([...Array(20).keys()].map((i) => heartbeat('a', 'b', i, bytes(1000, i + 1))));
    const s = a.t.stats().peers.get('b');
    expect(s?.queuedBytes).toBeLessThanOrEqual(10_000);
    expect(s?.queuedMessages).toBe(9);
    expect(s?.droppedMessages).toBe(11);
    await until(() => a.rec.unreachable.length >= 1, 'unreachable');
  });

  it('follows setPeers: drops removed peers, connects to added ones', async () => {
    const [a, b, c] = [await node('a'), await node('b'), await node('c')];
    mesh([a, b]);
    c.t.setPeers(new Map([['a', a.t.address()]]));
    await until(() => a.t.stats().peers.get('b')?.connected === true, 'a connected to b');

    a.t.setPeers(new Map([['c', c.t.address()]]));
    expect([...a.t.stats().peers.keys()]).toEqual(['c']);
    a.t.send([heartbeat('a', 'b', 1), heartbeat('a', 'c', 2)]);
    await until(() => c.rec.messages.length === 1, 'a → c');
    expect(commits(c.rec.messages)).toEqual([2]);
    await until(() => a.rec.unreachable.includes('b'), 'b reported unreachable (no address)');
    expect(a.t.stats().unknownPeerMessages).toBe(1);

    // b still has a in its book, but a no longer accepts b.
    b.t.send([heartbeat('b', 'a', 3)]);
    await until(() => a.t.stats().rejectedByReason['unknown-sender'] >= 1, 'b rejected by a');
    expect(a.rec.messages).toEqual([]);
  });

  it('start() fails on an address in use and leaves the transport closed', async () => {
    const a = await node('a');
    const { logger } = captureLogger();
    const b = new GrpcRaftTransport({ clusterId: CLUSTER, self: 'b', listen: a.t.address(), peers: new Map(), logger });
    await expect(b.start(new Recorder())).rejects.toThrow();
    await b.close();
    expect(() => b.send([heartbeat('b', 'a', 1)])).not.toThrow();
  });

  it('close() is idempotent, cancels reconnect timers and leaves no handles behind', async () => {
    await sleep(50);
    const count = (): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
      return out;
    };
    const before = count();
    const port = await freePort();
    const [a, b] = [await node('a'), await node('b')];
    mesh([a, b]);
    a.t.setPeers(new Map([['b', b.t.address()], ['down', `127.0.0.1:${port}`]]));
    a.t.send([heartbeat('a', 'b', 1), heartbeat('a', 'down', 1)]);
    await until(() => b.rec.messages.length === 1 && a.rec.unreachable.includes('down'), 'traffic and a retry in progress');
    await Promise.all([a.t.close(), a.t.close(), b.t.close()]);
    await b.t.close();
    a.t.send([heartbeat('a', 'b', 2)]); // ignored after close
    const unreachable = a.rec.unreachable.length;
    await sleep(100);
    expect(a.rec.unreachable.length).toBe(unreachable);
    const after = count();
    for (const kind of ['TCPServerWrap', 'TCPSocketWrap', 'Timeout', 'Immediate']) {
      expect(after[kind] ?? 0, kind).toBeLessThanOrEqual(before[kind] ?? 0);
    }
  });
});

describe('GrpcRaftTransport with mutual TLS', () => {
  let pki: Pki;
  beforeAll(() => {
    pki = makePki({ ca1: ['a', 'b'], ca2: ['mallory'] });
  });
  afterAll(() => pki.dispose());

  const tlsOf = (ca: string, n: string, trust = ca): NonNullable<GrpcRaftTransportOptions['tls']> => ({
    caFile: pki.caFile(trust),
    certFile: pki.certFile(ca, n),
    keyFile: pki.keyFile(ca, n),
  });

  it('exchanges messages when both certificates chain to the CA, and refuses a certificate from another CA', async () => {
    const a = await node('a', { tls: tlsOf('ca1', 'a') });
    const b = await node('b', { tls: tlsOf('ca1', 'b') });
    mesh([a, b]);
    a.t.send(everyType('a', 'b'));
    b.t.send([heartbeat('b', 'a', 7)]);
    await until(() => b.rec.messages.length === 12 && a.rec.messages.length === 1, 'traffic over TLS');
    expect(byType(b.rec.messages)).toEqual(byType(everyType('a', 'b')));
    await until(() => a.rec.snapshotStatus.length === 1, 'snapshot ack over TLS');
    expect(a.rec.snapshotStatus).toEqual([['b', true]]);

    // mallory trusts ca1 (so it accepts a's server certificate) but holds a ca2 certificate.
    const mallory = await node('mallory', { tls: tlsOf('ca2', 'mallory', 'ca1') });
    a.t.setPeers(new Map([['b', b.t.address()], ['mallory', mallory.t.address()]]));
    const streamsBefore = a.t.stats().streamsOpened;
    mallory.t.setPeers(new Map([['a', a.t.address()]]));
    mallory.t.send([heartbeat('mallory', 'a', 1)]);
    await until(() => mallory.rec.unreachable.length >= 1, 'mallory refused');
    expect(mallory.t.stats().peers.get('a')).toMatchObject({ connected: false, connects: 0 });
    expect(a.rec.from('mallory')).toEqual([]);
    expect(a.t.stats().streamsOpened).toBe(streamsBefore);

    // A plaintext client is refused as well.
    const plain = await node('b2');
    a.t.setPeers(new Map([['b', b.t.address()], ['b2', plain.t.address()]]));
    plain.t.setPeers(new Map([['a', a.t.address()]]));
    plain.t.send([heartbeat('b2', 'a', 1)]);
    await until(() => plain.rec.unreachable.length >= 1, 'plaintext refused');
    expect(a.rec.from('b2')).toEqual([]);
  });
});
