import { describe, expect, it } from 'vitest';
import { SeededPrng } from '../src/core/prng.js';
import { SimNetwork } from '../src/sim/index.js';

interface Msg {
  readonly from: string;
  readonly to: string;
  readonly n: number;
}

const msg = (from: string, to: string, n: number): Msg => ({ from, to, n });

function drain(net: SimNetwork<Msg>, until: number): Msg[] {
  const out: Msg[] = [];
  for (let t = 0; t <= until; t++) out.push(...net.takeDue(t));
  return out;
}

describe('SimNetwork', () => {
  it('delivers after the delay, never early', () => {
    const net = new SimNetwork<Msg>(new SeededPrng(1), { minDelay: 3, maxDelay: 3 });
    net.send(msg('a', 'b', 1), 0);
    expect(net.takeDue(2)).toEqual([]);
    expect(net.takeDue(3)).toEqual([msg('a', 'b', 1)]);
    expect(net.size).toBe(0);
  });

  it('keeps each link FIFO unless reordering is on', () => {
    const fifo = new SimNetwork<Msg>(new SeededPrng(2), { minDelay: 0, maxDelay: 5, reorder: false });
    for (let n = 0; n < 200; n++) fifo.send(msg('a', 'b', n), Math.floor(n / 10));
    expect(drain(fifo, 100).map((m) => m.n)).toEqual(Array.from({ length: 200 }, (_, n) => n));

    const reordering = new SimNetwork<Msg>(new SeededPrng(2), { minDelay: 0, maxDelay: 5, reorder: true });
    for (let n = 0; n < 200; n++) reordering.send(msg('a', 'b', n), Math.floor(n / 10));
    const order = drain(reordering, 100).map((m) => m.n);
    expect(order).toHaveLength(200);
    expect(order).not.toEqual([...order].sort((x, y) => x - y));
  });

  it('drops and duplicates at the configured rates, deterministically per seed', () => {
    const run = (seed: number): Msg[] => {
      const net = new SimNetwork<Msg>(new SeededPrng(seed), { dropRate: 0.2, duplicateRate: 0.2, maxDelay: 2 });
      for (let n = 0; n < 1000; n++) net.send(msg('a', 'b', n), n);
      return drain(net, 1010);
    };
    const a = run(3);
    expect(run(3)).toEqual(a);
    expect(run(4)).not.toEqual(a);
    const distinct = new Set(a.map((m) => m.n)).size;
    expect(distinct).toBeGreaterThan(700);
    expect(distinct).toBeLessThan(900);
    expect(a.length - distinct).toBeGreaterThan(100);
  });

  it('blocks symmetric partitions, one-way cuts and isolated nodes, and heals', () => {
    const net = new SimNetwork<Msg>(new SeededPrng(5), { minDelay: 0, maxDelay: 0 });
    net.partition([['a'], ['b', 'c']]);
    expect(net.isBlocked('a', 'b')).toBe(true);
    expect(net.isBlocked('c', 'a')).toBe(true);
    expect(net.isBlocked('b', 'c')).toBe(false);
    net.heal();
    net.cutOneWay(['a'], ['b']);
    expect(net.isBlocked('a', 'b')).toBe(true);
    expect(net.isBlocked('b', 'a')).toBe(false);
    net.heal();
    net.isolate('c');
    expect(net.isBlocked('c', 'z')).toBe(true);
    expect(net.isBlocked('z', 'c')).toBe(true);
    expect(net.send(msg('c', 'a', 1), 0)).toBe('blocked');
    net.heal();
    expect(net.isPartitioned()).toBe(false);
    expect(net.send(msg('c', 'a', 2), 0)).toBe('queued');
    expect(net.takeDue(0)).toEqual([msg('c', 'a', 2)]);
  });

  it('drops messages whose link is cut while they are in flight', () => {
    const net = new SimNetwork<Msg>(new SeededPrng(6), { minDelay: 2, maxDelay: 2 });
    net.send(msg('a', 'b', 1), 0);
    net.isolate('b');
    expect(net.takeDue(5)).toEqual([]);
    expect(net.stats.blocked).toBe(1);
  });

  it('bounds the queue', () => {
    const net = new SimNetwork<Msg>(new SeededPrng(7), { maxQueue: 3 });
    const outcomes = [1, 2, 3, 4].map((n) => net.send(msg('a', 'b', n), 0));
    expect(outcomes).toEqual(['queued', 'queued', 'queued', 'overflow']);
    expect(net.size).toBe(3);
  });
});
