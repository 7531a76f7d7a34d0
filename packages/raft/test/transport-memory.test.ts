import { describe, expect, it } from 'vitest';
import { makeMessage } from '../src/core/messages.js';
import { MessageType } from '../src/core/types.js';
import { backoffDelay } from '../src/transport/backoff.js';
import { DEFAULT_BACKOFF, MemoryNetwork } from '../src/transport/index.js';
import { BoundedMessageQueue } from '../src/transport/queue.js';
import { Recorder, byType, everyType, heartbeat, sleep, until } from './transport-helpers.js';

async function cluster(ids: readonly string[]): Promise<{ net: MemoryNetwork; rec: Map<string, Recorder>; nodes: Map<string, ReturnType<MemoryNetwork['createTransport']>> }> {
  const net = new MemoryNetwork();
  const rec = new Map<string, Recorder>();
  const nodes = new Map<string, ReturnType<MemoryNetwork['createTransport']>>();
  for (const id of ids) {
    const t = net.createTransport(id, ids);
    const r = new Recorder();
    await t.start(r);
    rec.set(id, r);
    nodes.set(id, t);
  }
  return { net, rec, nodes };
}

describe('MemoryTransport', () => {
  it('delivers every type asynchronously, content preserved, in order per sender', async () => {
    const { net, rec, nodes } = await cluster(['a', 'b', 'c']);
    nodes.get('a')?.send(everyType('a', 'b'));
    nodes.get('c')?.send([heartbeat('c', 'b', 1), heartbeat('c', 'b', 2)]);
    expect(rec.get('b')?.messages).toEqual([]); // not synchronous
    await until(() => rec.get('b')?.messages.length === 14, 'delivery');
    expect(byType(rec.get('b')?.from('a') ?? [])).toEqual(byType(everyType('a', 'b')));
    expect(rec.get('b')?.from('c').map((m) => m.commit)).toEqual([1, 2]);
    await until(() => rec.get('a')?.snapshotStatus.length === 1, 'snapshot status');
    expect(rec.get('a')?.snapshotStatus).toEqual([['b', true]]);
    expect(net.stats()).toEqual({ delivered: 14, dropped: 0, invalid: 0 });
  });

  it('blocks a directed link: drops with onUnreachable (and a failed snapshot) until unblocked', async () => {
    const { net, rec, nodes } = await cluster(['a', 'b']);
    net.block('a', 'b');
    const snap = everyType('a', 'b').find((m) => m.type === MessageType.Snap);
    nodes.get('a')?.send([heartbeat('a', 'b', 1), ...(snap ? [snap] : [])]);
    nodes.get('b')?.send([heartbeat('b', 'a', 2)]);
    await until(() => rec.get('a')?.messages.length === 1 && (rec.get('a')?.snapshotStatus.length ?? 0) === 1, 'b → a still flows');
    expect(rec.get('b')?.messages).toEqual([]);
    expect(rec.get('a')?.unreachable).toEqual(['b', 'b']);
    expect(rec.get('a')?.snapshotStatus).toEqual([['b', false]]);
    net.unblock('a', 'b');
    nodes.get('a')?.send([heartbeat('a', 'b', 3)]);
    await until(() => rec.get('b')?.messages.length === 1, 'a → b after unblock');
    expect(rec.get('b')?.messages[0]?.commit).toBe(3);
  });

  it('isolate and heal; closed or unknown recipients and invalid messages are dropped', async () => {
    const { net, rec, nodes } = await cluster(['a', 'b', 'c']);
    net.isolate('c');
    nodes.get('c')?.send([heartbeat('c', 'a', 1)]);
    nodes.get('a')?.send([heartbeat('a', 'c', 1), heartbeat('a', 'x', 1)]);
    await until(() => rec.get('a')?.unreachable.length === 2 && rec.get('c')?.unreachable.length === 1, 'drops');
    net.heal();
    await nodes.get('b')?.close();
    nodes.get('a')?.send([heartbeat('a', 'b', 2), heartbeat('a', 'c', 2)]);
    // An App whose entries do not follow its index: the codec refuses it.
    nodes.get('a')?.send([makeMessage(MessageType.App, 'a', 'c', 1, { index: 1, entries: [{ term: 1, index: 5, type: 0, data: new Uint8Array(0) }] })]);
    await until(() => rec.get('c')?.messages.length === 1, 'a → c after heal');
    await sleep(5);
    expect(rec.get('b')?.messages).toEqual([]);
    expect(net.invalidMessages).toHaveLength(1);
    expect(net.stats().invalid).toBe(1);
    // A closed node's id can get a new transport (a restart).
    const b2 = net.createTransport('b', ['a']);
    const r2 = new Recorder();
    await b2.start(r2);
    nodes.get('a')?.send([heartbeat('a', 'b', 4)]);
    await until(() => r2.messages.length === 1, 'restarted b');
  });

  it('requires the sender in the recipient’s address book', async () => {
    const { rec, nodes } = await cluster(['a', 'b']);
    nodes.get('b')?.setPeers(new Map());
    nodes.get('a')?.send([heartbeat('a', 'b', 1)]);
    await until(() => rec.get('a')?.unreachable.length === 1, 'refused');
    expect(rec.get('b')?.messages).toEqual([]);
  });
});

describe('transport helpers', () => {
  it('the bounded queue evicts the oldest by count and by bytes', () => {
    const q = new BoundedMessageQueue(3, 100);
    const m = (n: number): { bytes: Uint8Array } => ({ bytes: new Uint8Array(n) });
    expect([q.push(m(10)), q.push(m(20)), q.push(m(30))]).toEqual([0, 0, 0]);
    expect(q.push(m(40))).toBe(1); // count bound: 10 evicted
    expect([q.length, q.bytes]).toEqual([3, 90]);
    expect(q.push(m(50))).toBe(2); // byte bound: 20 and 30 evicted
    expect([q.length, q.bytes]).toEqual([2, 90]);
    expect(q.push(m(101))).toBe(1); // too large on its own
    expect(q.take(60, 6).map((x) => x.bytes.length)).toEqual([40]);
    expect(q.take(1000, 6).map((x) => x.bytes.length)).toEqual([50]);
    expect(q.length).toBe(0);
  });

  it('backoff doubles to the cap, with jitter within bounds', () => {
    const mid = (): number => 0.5;
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffDelay(n, DEFAULT_BACKOFF, mid))).toEqual([50, 100, 200, 400, 800, 1600, 2000, 2000]);
    expect(backoffDelay(1, DEFAULT_BACKOFF, () => 0)).toBe(40);
    expect(backoffDelay(10, DEFAULT_BACKOFF, () => 1)).toBe(2400);
  });
});
