import { RaftCore } from '../core/raft.js';
import type { RaftConfigInput } from '../core/config.js';
import { SeededPrng } from '../core/prng.js';
import type { ConfState, Entry, HardState, Message, NodeId, PersistedState, Ready, Snapshot } from '../core/types.js';
import { EntryType } from '../core/types.js';
import { applyConfChange, decodeConfChange } from '../core/confchange.js';

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
  /**
   * The replicated state machine: the applied Normal entries with data, as "index/term:payload",
   * including those restored from a snapshot (unlike `applied`, which logs "snapshot@N").
   */
  state: string[];
  /** This node's configuration overrides; kept across restarts. */
  readonly config: ClusterConfig;
  crashed: boolean;
}

export type ClusterConfig = Omit<RaftConfigInput, 'id' | 'random'>;

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Snapshot data of the test state machine: a JSON array of "index/term:payload" (empty: none). */
export function encodeStateMachine(state: readonly string[]): Uint8Array {
  return encoder.encode(JSON.stringify(state));
}

export function decodeStateMachine(data: Uint8Array): string[] {
  if (data.length === 0) return [];
  try {
    const parsed: unknown = JSON.parse(decoder.decode(data));
    if (Array.isArray(parsed) && parsed.every((s) => typeof s === 'string')) return parsed as string[];
  } catch {
    // fall through
  }
  return [`<opaque ${data.length} bytes>`];
}

/** The index of a state machine item "index/term:payload". */
function itemIndex(item: string): number {
  return Number.parseInt(item, 10);
}

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
    for (const id of voters) this.addNode(id, RaftCore.bootstrapState(conf), perNode[id] ?? {});
  }

  /** Adds a node (e.g. a future learner) with the given persisted state. */
  addNode(id: NodeId, persisted: PersistedState = RaftCore.bootstrapState({ voters: [], learners: [] }), extra: ClusterConfig = {}): ClusterNode {
    const disk: MemoryDisk = { hardState: persisted.hardState, snapshot: persisted.snapshot, entries: [...persisted.entries] };
    const state = persisted.snapshot === null ? [] : decodeStateMachine(persisted.snapshot.data);
    const node: ClusterNode = { id, core: this.makeCore(id, disk, extra), disk, applied: [], reads: [], state, config: extra, crashed: false };
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
      for (let guard = 0; guard < 100 && this.processReady(node.id) !== null; guard++) {
        // one Ready at a time until the node has none
      }
    }
  }

  /**
   * Handles one Ready of one live node exactly as the contract says (send now, persist, send
   * after persist, apply, advance) and returns it; null when the node is crashed or has none.
   */
  processReady(id: NodeId): Ready | null {
    const node = this.node(id);
    if (node.crashed || !node.core.hasReady()) return null;
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
    if (rd.snapshot !== null) {
      node.applied.push(`snapshot@${rd.snapshot.meta.index}`);
      node.state = decodeStateMachine(rd.snapshot.data);
    }
    for (const entry of rd.committedEntries) {
      if (entry.type === EntryType.Normal && entry.data.length > 0) {
        const item = `${entry.index}/${entry.term}:${decoder.decode(entry.data)}`;
        node.applied.push(item);
        node.state.push(item);
      }
    }
    for (const read of rd.readStates) node.reads.push(`${read.index}:${decoder.decode(read.context)}`);
    node.core.advance();
    return rd;
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
    if (this.dropReason(m) !== null) return false;
    const target = this.node(m.to);
    const result = target.core.step(m);
    if (!result.ok) throw new Error(`step refused: ${result.reason}`);
    return true;
  }

  /** Why `m` would be dropped on delivery now ('cut', 'crashed', 'unknown node'), or null. */
  dropReason(m: Message): string | null {
    const target = this.nodes.get(m.to);
    if (target === undefined) return 'unknown node';
    if (target.crashed) return 'crashed';
    if (this.cut.has(`${m.from}->${m.to}`)) return 'cut';
    return null;
  }

  /** Removes and returns the queued messages that match `filter`, keeping the rest in order. */
  takeMessages(filter: (m: Message) => boolean = () => true): Message[] {
    const taken: Message[] = [];
    const kept: Message[] = [];
    for (const m of this.queue) (filter(m) ? taken : kept).push(m);
    this.queue = kept;
    return taken;
  }

  /** Delivers the queued messages that match `filter` (one round); returns how many arrived. */
  deliverWhere(filter: (m: Message) => boolean): number {
    let count = 0;
    for (const m of this.takeMessages(filter)) if (this.deliver(m)) count++;
    return count;
  }

  /** Drops (never delivers) the queued messages that match `filter`; returns how many. */
  dropWhere(filter: (m: Message) => boolean): number {
    const dropped = this.takeMessages(filter);
    this.delivered.push(...dropped);
    return dropped.length;
  }

  /** Whether the directed link from -> to is cut. */
  isCut(from: NodeId, to: NodeId): boolean {
    return this.cut.has(`${from}->${to}`);
  }

  /**
   * The application snapshots its state machine at `index` (at most applied): the core drops the
   * log before it and the node's disk stores the snapshot in place of those entries.
   */
  compact(id: NodeId, index: number): Snapshot {
    const node = this.node(id);
    const data = encodeStateMachine(node.state.filter((item) => itemIndex(item) <= index));
    node.core.createSnapshot(index, data);
    const disk = node.disk;
    const base = disk.snapshot ?? { meta: { index: 0, term: 0, conf: { voters: [], learners: [] } }, data: new Uint8Array(0) };
    if (index <= base.meta.index) return base;
    const term = disk.entries.find((e) => e.index === index)?.term;
    if (term === undefined) throw new Error(`node ${id} has no persisted entry ${index} to snapshot`);
    let conf = base.meta.conf;
    for (const e of disk.entries) {
      if (e.index > index || e.type !== EntryType.ConfChange) continue;
      const change = decodeConfChange(e.data);
      if (change !== null) conf = applyConfChange(conf, change);
    }
    const snapshot: Snapshot = { meta: { index, term, conf }, data };
    disk.snapshot = snapshot;
    disk.entries = disk.entries.filter((e) => e.index > index);
    return snapshot;
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

  /**
   * Rebuilds the node from its disk alone (with its own config overrides, then `extra`). Its
   * state machine restarts from the stored snapshot; committed entries after it are re-applied.
   */
  restart(id: NodeId, extra: ClusterConfig = {}): void {
    const node = this.node(id);
    node.core = this.makeCore(id, node.disk, { ...node.config, ...extra });
    node.applied.length = 0;
    node.state = node.disk.snapshot === null ? [] : decodeStateMachine(node.disk.snapshot.data);
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
