import type { RaftConfigInput } from '../core/config.js';
import type { Prng } from '../core/prng.js';
import { RaftCore } from '../core/raft.js';
import type { ConfChange, Entry, Message, NodeId, PersistedState, Ready, Role, Snapshot } from '../core/types.js';
import { Role as Roles } from '../core/types.js';
import type { Durability } from './disk.js';
import { SimDisk } from './disk.js';
import type { InvariantChecker } from './invariants.js';
import { SimStateMachine, decodeSmState, encodeSmState } from './state-machine.js';
import type { TraceKind } from './trace.js';

/**
 * One simulated server: a RaftCore, its simulated disk and state machine, and the driver loop
 * that processes Ready batches in the documented order. A crash drops the core and everything
 * that is not durable; a restart builds a new core from the disk.
 */

export interface NodeEnv {
  readonly checker: InvariantChecker;
  send(message: Message): void;
  note(kind: TraceKind, node: NodeId, detail: string): void;
}

/** Where an armed crash strikes inside the next Ready: before step 1, after step 1, 2, 3, or mid-apply. */
export type CrashPoint = 'before-send' | 'after-send' | 'after-persist' | 'after-send-persisted' | 'mid-apply';
export const CRASH_POINTS: readonly CrashPoint[] = ['before-send', 'after-send', 'after-persist', 'after-send-persisted', 'mid-apply'];

export type NodeConfig = Omit<RaftConfigInput, 'id' | 'random'>;

export class SimNode {
  readonly disk: SimDisk;
  readonly sm = new SimStateMachine();
  private core: RaftCore | null = null;
  private armedCrash: CrashPoint | null = null;
  /** Last role seen in a Ready's soft state. */
  role: Role = Roles.Follower;
  incarnation = 0;
  /** This node's commit index as last recorded by the checker (per incarnation). */
  observedCommit = 0;

  constructor(
    readonly id: NodeId,
    initial: PersistedState,
    durability: Durability,
    private readonly config: NodeConfig,
    private readonly env: NodeEnv,
  ) {
    this.disk = new SimDisk(initial, durability);
  }

  get alive(): boolean {
    return this.core !== null;
  }

  /** The running core (throws when crashed: the scheduler only drives live nodes). */
  get raft(): RaftCore {
    if (this.core === null) throw new Error(`${this.id} is not running`);
    return this.core;
  }

  /** Starts (or restarts) the node from what its disk holds. */
  start(random: Prng): void {
    if (this.core !== null) throw new Error(`${this.id} is already running`);
    this.incarnation++;
    const persisted = this.disk.persistedState();
    const snap = persisted.snapshot;
    const state = snap === null ? decodeSmState(new Uint8Array(0)) : decodeSmState(snap.data);
    if (snap !== null) this.env.checker.checkSnapshot(this.id, 'restored', snap.meta, state);
    this.sm.restore(state ?? decodeSmState(new Uint8Array(0))!);
    this.role = Roles.Follower;
    this.observedCommit = 0;
    this.core = new RaftCore({ ...this.config, id: this.id, random }, persisted);
    this.processReady();
  }

  /** The process dies now: the core, the state machine and non-durable writes are lost. */
  crash(): void {
    this.core = null;
    this.armedCrash = null;
    this.disk.crash();
    this.role = Roles.Follower;
    this.env.checker.abandonProposals(this.id);
  }

  /** The next Ready processed will crash the node at `point`. */
  armCrash(point: CrashPoint): void {
    this.armedCrash = point;
  }

  disarmCrash(): void {
    this.armedCrash = null;
  }

  get crashArmed(): boolean {
    return this.armedCrash !== null;
  }

  // ---- inputs (each followed by Ready processing) -----------------------------------------

  tick(): void {
    this.raft.tick();
    this.processReady();
  }

  deliver(message: Message): ReturnType<RaftCore['step']> {
    const result = this.raft.step(message);
    this.processReady();
    return result;
  }

  /** `accepted` runs before the Ready is processed (so a proposal is registered before it applies). */
  propose(data: Uint8Array, accepted?: (index: number, term: number) => void): ReturnType<RaftCore['propose']> {
    const result = this.raft.propose(data);
    if (result.ok && accepted !== undefined) accepted(result.index, result.term);
    this.processReady();
    return result;
  }

  proposeConfChange(change: ConfChange): ReturnType<RaftCore['proposeConfChange']> {
    const result = this.raft.proposeConfChange(change);
    this.processReady();
    return result;
  }

  transferLeadership(to: NodeId): ReturnType<RaftCore['transferLeadership']> {
    const result = this.raft.transferLeadership(to);
    this.processReady();
    return result;
  }

  readIndex(context: Uint8Array): ReturnType<RaftCore['readIndex']> {
    const result = this.raft.readIndex(context);
    this.processReady();
    return result;
  }

  campaign(): ReturnType<RaftCore['campaign']> {
    const result = this.raft.campaign();
    this.processReady();
    return result;
  }

  reportUnreachable(to: NodeId): void {
    this.raft.reportUnreachable(to);
    this.processReady();
  }

  reportSnapshot(to: NodeId, ok: boolean): void {
    this.raft.reportSnapshot(to, ok);
    this.processReady();
  }

  /** Local compaction: snapshot the state machine at its applied index. False when nothing to do. */
  compact(): boolean {
    const index = this.sm.appliedIndex;
    if (index <= this.disk.snapIndex()) return false;
    const term = this.disk.term(index);
    if (term === undefined) this.env.checker.fail('storage-contract', `${this.id} applied ${index} but has no entry there (log ${this.disk.snapIndex()}..${this.disk.lastIndex()})`);
    const data = encodeSmState(this.sm.current);
    const snapshot: Snapshot = { meta: { index, term, conf: this.disk.confAt(index) }, data };
    this.env.checker.checkSnapshot(this.id, 'created', snapshot.meta, this.sm.current);
    this.raft.createSnapshot(index, data);
    this.disk.compact(snapshot);
    this.processReady();
    return true;
  }

  /** The delayed fsync of the lazy-durability bug. */
  syncDisk(): void {
    this.disk.sync();
  }

  // ---- the Ready loop -----------------------------------------------------------------------

  private processReady(): void {
    let guard = 0;
    while (this.core !== null && this.core.hasReady()) {
      if (++guard > 10_000) throw new Error(`${this.id}: hasReady() stays true after 10000 rounds`);
      const core = this.core;
      const rd = core.ready();
      if (!this.handle(rd)) return; // crashed mid-Ready
      core.advance();
      if (rd.softState !== null) this.onSoftState(rd);
    }
  }

  /** Processes one Ready; false when an armed crash struck. */
  private handle(rd: Ready): boolean {
    const crashAt = this.armedCrash;
    const checker = this.env.checker;
    if (crashAt === 'before-send') return this.crashNow(crashAt);
    // 1. messages that do not depend on this batch's persistence
    for (const m of rd.messagesNow) this.send(m);
    if (crashAt === 'after-send') return this.crashNow(crashAt);
    // 2. persist snapshot, entries, hard state
    if (rd.snapshot !== null) this.disk.writeSnapshot(rd.snapshot);
    if (rd.entries.length > 0) {
      const error = this.disk.writeEntries(rd.entries);
      if (error !== null) checker.fail('storage-contract', `${this.id}: ${error}`);
      for (const entry of rd.entries) checker.onPersist(this.id, entry, this.disk.term(entry.index - 1) ?? -1);
    }
    if (rd.hardState !== null) this.disk.writeHardState(rd.hardState);
    if (crashAt === 'after-persist') return this.crashNow(crashAt);
    // 3. messages that needed the persistence
    for (const m of rd.messagesAfterPersist) this.send(m);
    if (crashAt === 'after-send-persisted') return this.crashNow(crashAt);
    // 4. apply
    if (rd.snapshot !== null) this.restoreSnapshot(rd.snapshot);
    const applyLimit = crashAt === 'mid-apply' ? Math.floor(rd.committedEntries.length / 2) : rd.committedEntries.length;
    for (let k = 0; k < applyLimit; k++) this.apply(rd.committedEntries[k]!);
    if (crashAt === 'mid-apply') return this.crashNow(crashAt);
    for (const rs of rd.readStates) checker.onReadState(this.id, rs.context, rs.index);
    return true;
  }

  private crashNow(point: CrashPoint): false {
    this.env.note('crash', this.id, `inside Ready at ${point}`);
    this.crash();
    return false;
  }

  private send(m: Message): void {
    if (m.from !== this.id) this.env.checker.fail('storage-contract', `${this.id} emitted a message from ${m.from}`);
    this.env.send(m);
  }

  private restoreSnapshot(snapshot: Snapshot): void {
    const state = decodeSmState(snapshot.data);
    this.env.checker.checkSnapshot(this.id, 'received', snapshot.meta, state);
    if (snapshot.meta.index <= this.sm.appliedIndex) {
      this.env.checker.fail('apply-order', `${this.id} handed snapshot at ${snapshot.meta.index} but has applied ${this.sm.appliedIndex}`);
    }
    this.sm.restore(state!);
    this.env.note('snapshot', this.id, `installed (${snapshot.meta.index},t${snapshot.meta.term}) voters=${snapshot.meta.conf.voters.join(',')} learners=${snapshot.meta.conf.learners.join(',')}`);
  }

  private apply(entry: Entry): void {
    const checker = this.env.checker;
    if (entry.index !== this.sm.appliedIndex + 1) {
      checker.fail('apply-order', `${this.id} handed entry ${entry.index} to apply after applying ${this.sm.appliedIndex}`);
    }
    const stored = this.disk.entry(entry.index);
    if (stored !== undefined && stored.term !== entry.term) {
      checker.fail('storage-contract', `${this.id} applies (${entry.index},t${entry.term}) but its log has term ${stored.term} there`);
    }
    checker.onApply(this.id, entry, this.raft.status().term);
    this.sm.apply(entry);
  }

  private onSoftState(rd: Ready): void {
    const soft = rd.softState!;
    const previous = this.role;
    this.role = soft.role;
    if (soft.role === previous) return;
    const status = this.core!.status();
    this.env.note('role', this.id, `${previous} -> ${soft.role} term=${status.term} last=${status.lastIndex} commit=${status.commit}`);
    if (soft.role === Roles.Leader) this.onLeader(status.term);
  }

  /** Called when this node is seen as leader of `term` (Ready soft state or a status() poll). */
  onLeader(term: number): void {
    if (this.env.checker.onLeader(this.id, term)) this.env.checker.checkLeaderCompleteness(this.id, term, this.disk);
  }
}
