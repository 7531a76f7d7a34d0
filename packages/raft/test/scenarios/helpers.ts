import type { Message, NodeId } from '../../src/core/types.js';
import type { TestCluster } from '../../src/testing/cluster.js';

/** Ticks every live node once per round and lets the cluster settle after each tick. */
export function tickAndSettle(c: TestCluster, rounds: number): void {
  for (let i = 0; i < rounds; i++) {
    c.tickAll();
    c.stabilize();
  }
}

/** Ticks (all live nodes, or only `ids`) and settles until `done()` holds; returns the ticks used. */
export function tickUntil(c: TestCluster, done: () => boolean, maxTicks = 200, ids?: readonly NodeId[]): number {
  for (let i = 0; i < maxTicks; i++) {
    if (done()) return i;
    if (ids === undefined) c.tickAll();
    else for (const id of ids) if (!c.node(id).crashed) c.tick(id);
    c.stabilize();
  }
  if (done()) return maxTicks;
  throw new Error(`condition not reached within ${maxTicks} ticks`);
}

/** A node's stored log as "index/term" (what survives a crash). */
export function storedLog(c: TestCluster, id: NodeId): string[] {
  return c.node(id).disk.entries.map((e) => `${e.index}/${e.term}`);
}

/** The term of the stored entry at `index`, or undefined. */
export function storedTerm(c: TestCluster, id: NodeId, index: number): number | undefined {
  return c.node(id).disk.entries.find((e) => e.index === index)?.term;
}

/** Runs `action` and returns the messages delivered (or dropped) meanwhile. */
export function traffic(c: TestCluster, action: () => void): Message[] {
  const before = c.delivered.length;
  action();
  return c.delivered.slice(before);
}

/** Processes the node's Ready until it has none (a partial, hand-driven stabilize). */
export function drain(c: TestCluster, ...ids: NodeId[]): void {
  for (const id of ids) while (c.processReady(id) !== null);
}

export function role(c: TestCluster, id: NodeId): string {
  return c.core(id).status().role;
}

export function term(c: TestCluster, id: NodeId): number {
  return c.core(id).status().term;
}

export function commit(c: TestCluster, id: NodeId): number {
  return c.core(id).status().commit;
}

export const encode = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Like stabilize(), but messages matching `drop` are lost on the way; returns those lost. */
export function stabilizeDropping(c: TestCluster, drop: (m: Message) => boolean): Message[] {
  const lost: Message[] = [];
  for (let round = 0; round < 1000; round++) {
    c.processReadies();
    const dropped = c.takeMessages(drop);
    c.delivered.push(...dropped);
    lost.push(...dropped);
    if (c.queue.length === 0) return lost;
    c.deliverAll();
  }
  throw new Error('cluster did not stabilize');
}
