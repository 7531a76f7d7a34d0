import { RaftCore } from '../core/raft.js';
import type { RaftConfigInput } from '../core/config.js';
import { SeededPrng } from '../core/prng.js';
import type { ConfState, Entry, HardState, Message, NodeId, PersistedState, Snapshot } from '../core/types.js';
import { EntryType } from '../core/types.js';

/** What one in-memory node has "on disk", updated exactly as the Ready contract says. */
export interface MemoryDisk {
  hardState: HardState;
  snapshot: Snapshot | null;
  entries: Entry[];
}

export interface ClusterNode {
  readonly id: NodeId;
  core: RaftCore;
  readonly disk: MemoryDisk;
  /** Normal entries with data, in apply order, as "index/term:payload". */
  readonly applied: string[];
  /** Read states handed out, as "index:context". */
  readonly reads: string[];
  crashed: boolean;
}

export type ClusterConfig = Omit<RaftConfigInput, 'id' | 'random'>;

const decoder = new TextDecoder();

/**
 * A synchronous in-process cluster for scenario tests: every message goes into one FIFO queue
 * and is delivered only when the test says so (or by stabilize()), through per-link filters.
 * Deterministic: the seed fixes every election jitter.
 */
export class TestCluster {
  readonly nodes = new Map<NodeId, ClusterNode>();
  /** Messages sent and not yet delivered, in send order. */
  queue: Message[] = [];
  /** Directed links that drop everything: "from->to". */
  private readonly cut = new Set<string>();
  /** Every message ever delivered or dropped, for transcripts. */
  readonly delivered: Message[] = [];

  constructor(
    voters: readonly NodeId[],
    private readonly config: ClusterConfig = {},
    private readonly seed = 1,
    perNode: Readonly<Record<NodeId, ClusterConfig>> = {},
  ) {
    const conf: ConfState = { voters, learners: [] };
    for (const id of voters) this.addNode(id, RaftCore.bootstrapState(conf), perNode[id]);
  }

  /** Adds a node (e.g. a future learner) with the given persisted state. */
  addNode(id: NodeId, persisted: PersistedState = RaftCore.bootstrapState({ voters: [], learners: [] }), extra: ClusterConfig = {}): ClusterNode {
    const disk: MemoryDisk = { hardState: persisted.hardState, snapshot: persisted.snapshot, entries: [...persisted.entries] };
    const node: ClusterNode = { id, core: this.makeCore(id, disk, extra), disk, applied: [], reads: [], crashed: false };
    this.nodes.set(id, node);
    return node;
  }

  private makeCore(id: NodeId, disk: MemoryDisk, extra: ClusterConfig = {}): RaftCore {
    const seed = this.seed * 7919 + [...id].reduce((sum, c) => sum * 31 + c.charCodeAt(0), 0);
    return new RaftCore({ ...this.config, ...extra, id, random: new SeededPrng(seed) }, { hardState: disk.hardState, snapshot: disk.snapshot, entries: disk.entries });
  }

  node(id: NodeId): ClusterNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  core(id: NodeId): RaftCore {
    return this.node(id).core;
  }

  /** Processes every pending Ready of every live node, queueing the messages they send. */
  processReadies(): void {
    for (const node of this.nodes.values()) {
      if (node.crashed) continue;
      for (let guard = 0; guard < 100 && node.core.hasReady(); guard++) {
        const rd = node.core.ready();
        this.queue.push(...rd.messagesNow);
        if (rd.snapshot !== null) {
          // A snapshot from the leader replaces the whole stored log.
          node.disk.snapshot = rd.snapshot;
          node.disk.entries = [];
        }
        if (rd.entries.length > 0) {
          const first = rd.entries[0]!.index;
          node.disk.entries = [...node.disk.entries.filter((e) => e.index < first), ...rd.entries];
        }
        if (rd.hardState !== null) node.disk.hardState = rd.hardState;
        this.queue.push(...rd.messagesAfterPersist);
        if (rd.snapshot !== null) node.applied.push(`snapshot@${rd.snapshot.meta.index}`);
        for (const entry of rd.committedEntries) {
          if (entry.type === EntryType.Normal && entry.data.length > 0) node.applied.push(`${entry.index}/${entry.term}:${decoder.decode(entry.data)}`);
        }
        for (const read of rd.readStates) node.reads.push(`${read.index}:${decoder.decode(read.context)}`);
        node.core.advance();
      }
    }
  }

  /** Delivers the queued messages (one round); returns how many were delivered. */
  deliverAll(): number {
    const batch = this.queue;
    this.queue = [];
    let count = 0;
    for (const m of batch) if (this.deliver(m)) count++;
    return count;
  }

  deliver(m: Message): boolean {
    this.delivered.push(m);
    const target = this.nodes.get(m.to);
    if (target === undefined || target.crashed || this.cut.has(`${m.from}->${m.to}`)) return false;
    const result = target.core.step(m);
    if (!result.ok) throw new Error(`step refused: ${result.reason}`);
    return true;
  }

  /** Processes readies and delivers messages until nothing moves (bounded). */
  stabilize(maxRounds = 1000): void {
    for (let round = 0; round < maxRounds; round++) {
      this.processReadies();
      if (this.queue.length === 0) return;
      this.deliverAll();
    }
    throw new Error(`cluster did not stabilize in ${maxRounds} rounds`);
  }

  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) this.core(id).tick();
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) for (const node of this.nodes.values()) if (!node.crashed) node.core.tick();
  }

  /** Drops every message between `id` and every other node, both ways. */
  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) if (other !== id) this.cutLink(id, other), this.cutLink(other, id);
  }

  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}->${to}`);
  }

  /** Splits the nodes into groups that cannot talk to each other. */
  partition(...groups: readonly (readonly NodeId[])[]): void {
    for (const a of groups) for (const b of groups) if (a !== b) for (const x of a) for (const y of b) this.cutLink(x, y);
  }

  heal(): void {
    this.cut.clear();
  }

  /** Loses everything not on disk; queued messages to the node are dropped on delivery. */
  crash(id: NodeId): void {
    this.node(id).crashed = true;
  }

  restart(id: NodeId, extra: ClusterConfig = {}): void {
    const node = this.node(id);
    node.core = this.makeCore(id, node.disk, extra);
    node.applied.length = 0;
    node.crashed = false;
  }

  leader(): NodeId | undefined {
    let leader: NodeId | undefined;
    for (const node of this.nodes.values()) {
      if (node.crashed || node.core.status().role !== 'leader') continue;
      // Several may think so in different terms; report the highest term's.
      if (leader === undefined || node.core.status().term > this.core(leader).status().term) leader = node.id;
    }
    return leader;
  }

  /** Elects `id` by campaigning and running the cluster until it settles. */
  elect(id: NodeId): void {
    const result = this.core(id).campaign();
    if (!result.ok) throw new Error(`campaign refused: ${result.reason}`);
    this.stabilize();
  }

  propose(id: NodeId, payload: string): ReturnType<RaftCore['propose']> {
    return this.core(id).propose(new TextEncoder().encode(payload));
  }
}
