import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { RaftCore } from '../core/raft.js';
import type { RaftStatus } from '../core/raft.js';
import type { RaftConfigInput } from '../core/config.js';
import { SeededPrng } from '../core/prng.js';
import type { ConfChange, Entry, NodeId, Ready, Role } from '../core/types.js';
import { EntryType, NO_NODE } from '../core/types.js';
import type { RaftStorage } from '../storage/raft-storage.js';
import type { RaftTransport } from '../transport/transport.js';
import type { ReplicatedStateMachine } from './state-machine.js';
import type { Scheduler } from './scheduler.js';
import { realScheduler } from './scheduler.js';
import { Waiters } from './waiters.js';

export interface RaftNodeOptions<R> {
  readonly id: NodeId;
  /** Core settings (timeouts in ticks, flow control); id and randomness are the node's. */
  readonly raft?: Omit<RaftConfigInput, 'id' | 'random'>;
  /** Milliseconds per Raft tick: election timeout = electionTimeoutTicks × tickMs. */
  readonly tickMs?: number;
  readonly storage: RaftStorage;
  readonly transport: RaftTransport;
  readonly stateMachine: ReplicatedStateMachine<R>;
  readonly logger: Logger;
  readonly scheduler?: Scheduler;
  /** Seed for election jitter; random by default (a test passes one for repeatability). */
  readonly seed?: number;
  /** Take a snapshot (and compact the log) after this many applied entries. */
  readonly snapshotEveryEntries?: number;
  /** A proposal whose outcome is not known by then resolves as 'timeout'. */
  readonly proposalTimeoutMs?: number;
  /** Inbound peer messages waiting for the core beyond this are dropped (Raft retries). */
  readonly maxInboxMessages?: number;
}

export type NodeRefusal =
  | 'not-leader'
  | 'transferring-leadership'
  | 'too-many-uncommitted-bytes'
  | 'overloaded'
  /** The entry was overwritten by another leader's: it will never apply. Safe to retry. */
  | 'dropped'
  /** No answer in time, or a snapshot skipped past it: it may or may not have applied. */
  | 'timeout'
  | 'outcome-unknown'
  | 'closed'
  | 'no-leader'
  /** A read was waiting for a leader that no longer leads: safe to retry (on the new leader). */
  | 'leader-changed'
  | string;

export type ProposeOutcome<R> =
  | { readonly ok: true; readonly index: number; readonly term: number; readonly result: R }
  | { readonly ok: false; readonly reason: NodeRefusal; readonly leader: NodeId };

export type ReadOutcome = { readonly ok: true; readonly index: number } | { readonly ok: false; readonly reason: NodeRefusal; readonly leader: NodeId };

export interface LeaderChange {
  readonly leader: NodeId;
  readonly role: Role;
  readonly term: number;
}

export interface NodeStatus extends RaftStatus {
  readonly tickMs: number;
  readonly snapshotIndex: number;
  readonly failed: string | null;
}

export class RaftNodeError extends Error {
  constructor(
    readonly code: 'RAFT_NODE_FATAL' | 'RAFT_NODE_CLOSED',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RaftNodeError';
  }
}

const DEFAULT_TICK_MS = 100;
const DEFAULT_SNAPSHOT_EVERY_ENTRIES = 10_000;
const DEFAULT_PROPOSAL_TIMEOUT_MS = 5_000;
const DEFAULT_MAX_INBOX_MESSAGES = 10_000;
/** Pending proposals and reads per node, at most; beyond it callers are told 'overloaded'. */
const MAX_WAITERS = 100_000;

/**
 * Drives a RaftCore: real time becomes ticks, the transport's messages become steps, and each
 * Ready is carried out in the order the core demands — send what may go now, fsync, send the
 * rest, apply, advance. Inputs that arrive while a Ready is being persisted wait in the inbox and
 * go into the next batch (group commit). A storage failure is fatal: the node stops rather than
 * risk acknowledging what is not on disk.
 */
export class RaftNode<R = unknown> {
  private readonly core: RaftCore;
  private readonly scheduler: Scheduler;
  private readonly logger: Logger;
  private readonly tickMs: number;
  private readonly snapshotEveryEntries: number;
  private readonly proposalTimeoutMs: number;
  private readonly maxInboxMessages: number;
  private inbox: (() => void)[] = [];
  private inboxMessages = 0;
  private pendingTicks = 0;
  private processing = false;
  private closed = false;
  private failure: Error | null = null;
  private ticker: { cancel(): void } | null = null;
  private snapshotIndex: number;
  private appliedIndex: number;
  private readonly proposals = new Waiters<{ term: number; resolve: (outcome: ProposeOutcome<R>) => void }>();
  private readonly reads = new Map<string, (outcome: ReadOutcome) => void>();
  /**
   * Reads not yet confirmed by a leader (no ReadState yet). A leader change means they never
   * will be — the old leader is gone or no longer leads — so they are refused at once with
   * 'leader-changed' (retryable) instead of waiting out their deadline.
   */
  private readonly unconfirmedReads = new Set<string>();
  private readonly appliedWaiters: { index: number; resolve: () => void; reject: (err: Error) => void }[] = [];
  private readonly fatalListeners = new Set<(err: Error) => void>();
  private readonly leaderListeners = new Set<(change: LeaderChange) => void>();
  private readonly appliedListeners = new Set<(entry: Entry, result: R) => void>();
  private nextReadId = 0;
  /** Read contexts must be unique cluster-wide, also across this process's restarts. */
  private readonly readNonce = randomInt(0, 2 ** 47).toString(36);
  private lastLeader: NodeId = NO_NODE;
  private lastTerm = 0;

  private constructor(
    private readonly options: RaftNodeOptions<R>,
    core: RaftCore,
    snapshotIndex: number,
  ) {
    this.core = core;
    this.scheduler = options.scheduler ?? realScheduler;
    this.logger = options.logger;
    this.tickMs = options.tickMs ?? DEFAULT_TICK_MS;
    this.snapshotEveryEntries = options.snapshotEveryEntries ?? DEFAULT_SNAPSHOT_EVERY_ENTRIES;
    this.proposalTimeoutMs = options.proposalTimeoutMs ?? DEFAULT_PROPOSAL_TIMEOUT_MS;
    this.maxInboxMessages = options.maxInboxMessages ?? DEFAULT_MAX_INBOX_MESSAGES;
    this.snapshotIndex = snapshotIndex;
    this.appliedIndex = snapshotIndex;
  }

  /** Loads the persisted state, restores the state machine from its snapshot and starts ticking. */
  static async start<R>(options: RaftNodeOptions<R>): Promise<RaftNode<R>> {
    const persisted = await options.storage.load();
    const snapshotIndex = persisted.snapshot?.meta.index ?? 0;
    if (persisted.snapshot !== null && snapshotIndex > 0) options.stateMachine.restore(persisted.snapshot.data);
    const seed = options.seed ?? randomInt(0, 2 ** 31);
    const core = new RaftCore({ ...options.raft, id: options.id, random: new SeededPrng(seed) }, persisted);
    const node = new RaftNode(options, core, snapshotIndex);
    const status = core.status();
    node.lastTerm = status.term;
    node.logger.info({ node: options.id, term: status.term, commit: status.commit, lastIndex: status.lastIndex, snapshotIndex, voters: status.conf.voters, learners: status.conf.learners }, 'raft node starting');
    options.transport.setPeers(node.peersWithoutSelf());
    await options.transport.start({
      onMessage: (m) => node.receive(m),
      onUnreachable: (peer) => node.enqueue(() => node.core.reportUnreachable(peer)),
      onSnapshotStatus: (peer, ok) => node.enqueue(() => node.core.reportSnapshot(peer, ok)),
    });
    node.ticker = node.scheduler.every(node.tickMs, () => node.tick());
    return node;
  }

  get id(): NodeId {
    return this.options.id;
  }

  // ---------------------------------------------------------------- public API

  /** Proposes a command; resolves with the state machine's result once it is applied here. */
  propose(data: Uint8Array, timeoutMs = this.proposalTimeoutMs): Promise<ProposeOutcome<R>> {
    return this.proposeWith((core) => core.propose(data), timeoutMs);
  }

  proposeConfChange(change: ConfChange, timeoutMs = this.proposalTimeoutMs): Promise<ProposeOutcome<R>> {
    return this.proposeWith((core) => core.proposeConfChange(change), timeoutMs);
  }

  /**
   * A linearizable read barrier (ReadIndex): resolves once this node has applied everything
   * committed when the read began, so reading the local state machine is then linearizable.
   */
  readBarrier(timeoutMs = this.proposalTimeoutMs): Promise<ReadOutcome> {
    return new Promise((resolve) => {
      if (this.failedOrClosed(resolve)) return;
      if (this.reads.size >= MAX_WAITERS) return resolve(this.refusal('overloaded'));
      const key = `${this.options.id}:${this.readNonce}:${this.nextReadId++}`;
      const timer = this.scheduler.after(timeoutMs, () => this.settleRead(key, this.refusal('timeout')));
      this.unconfirmedReads.add(key);
      this.reads.set(key, (outcome) => {
        timer.cancel();
        resolve(outcome);
      });
      this.enqueue(() => {
        const result = this.core.readIndex(new TextEncoder().encode(key));
        if (!result.ok) this.settleRead(key, this.refusal(result.reason));
      });
    });
  }

  /** Asks the leader (this node) to hand leadership to `to`; resolves when it has, or fails. */
  transferLeadership(to: NodeId, timeoutMs = this.proposalTimeoutMs): Promise<{ ok: true } | { ok: false; reason: NodeRefusal; leader: NodeId }> {
    return new Promise((resolve) => {
      if (this.failedOrClosed(resolve)) return;
      this.enqueue(() => {
        const result = this.core.transferLeadership(to);
        if (!result.ok) return resolve({ ok: false, reason: result.reason, leader: result.leader });
        const started = this.scheduler.now();
        const check = this.scheduler.every(Math.max(10, Math.floor(this.tickMs / 2)), () => {
          const status = this.core.status();
          if (status.leader === to) {
            check.cancel();
            resolve({ ok: true });
          } else if (status.role === 'leader' && status.leadTransferee === NO_NODE) {
            check.cancel();
            resolve({ ok: false, reason: 'transfer-aborted', leader: status.leader });
          } else if (this.scheduler.now() - started > timeoutMs || this.closed) {
            check.cancel();
            resolve({ ok: false, reason: 'timeout', leader: status.leader });
          }
        });
      });
    });
  }

  /** Starts an election now (operator action or tests). */
  campaign(): void {
    this.enqueue(() => void this.core.campaign());
  }

  status(): NodeStatus {
    return { ...this.core.status(), tickMs: this.tickMs, snapshotIndex: this.snapshotIndex, failed: this.failure?.message ?? null };
  }

  isLeader(): boolean {
    return !this.closed && this.failure === null && this.core.currentRole === 'leader';
  }

  leader(): NodeId {
    return this.core.currentLeader;
  }

  onLeaderChange(listener: (change: LeaderChange) => void): () => void {
    this.leaderListeners.add(listener);
    return () => this.leaderListeners.delete(listener);
  }

  /** Called after every entry is applied (watch fan-out, lease timers), in apply order. */
  onApplied(listener: (entry: Entry, result: R) => void): () => void {
    this.appliedListeners.add(listener);
    return () => this.appliedListeners.delete(listener);
  }

  /** Called once if the node stops on a fault (e.g. a failed fsync); the process should exit. */
  onFatal(listener: (err: Error) => void): () => void {
    this.fatalListeners.add(listener);
    return () => this.fatalListeners.delete(listener);
  }

  /** Resolves once this node has applied `index` (or rejects when the node stops). */
  waitApplied(index: number): Promise<void> {
    if (index <= this.appliedIndex) return Promise.resolve();
    return new Promise((resolve, reject) => {
      if (this.closed || this.failure !== null) return reject(new RaftNodeError('RAFT_NODE_CLOSED', 'node stopped'));
      this.appliedWaiters.push({ index, resolve, reject });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.ticker?.cancel();
    this.rejectAll('closed');
    await this.options.transport.close();
    // Wait for a Ready in progress so storage is not closed under it.
    for (let i = 0; i < 1000 && this.processing; i++) await new Promise((r) => setTimeout(r, 5));
    await this.options.storage.close();
    this.logger.info({ node: this.options.id }, 'raft node stopped');
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---------------------------------------------------------------- the loop

  private proposeWith(
    call: (core: RaftCore) => { ok: true; index: number; term: number } | { ok: false; reason: string; leader: NodeId },
    timeoutMs: number,
  ): Promise<ProposeOutcome<R>> {
    return new Promise((resolve) => {
      if (this.failedOrClosed(resolve)) return;
      if (this.proposals.size() >= MAX_WAITERS) return resolve(this.refusal('overloaded'));
      this.enqueue(() => {
        const result = call(this.core);
        if (!result.ok) return resolve({ ok: false, reason: result.reason, leader: result.leader });
        const timer = this.scheduler.after(timeoutMs, () => {
          if (this.proposals.take(result.index) !== undefined) resolve(this.refusal('timeout'));
        });
        this.proposals.set(result.index, {
          term: result.term,
          resolve: (outcome) => {
            timer.cancel();
            resolve(outcome);
          },
        });
      });
    });
  }

  private receive(message: Parameters<RaftCore['step']>[0]): void {
    if (this.inboxMessages >= this.maxInboxMessages) return;
    this.inboxMessages++;
    this.enqueue(() => {
      this.inboxMessages--;
      const result = this.core.step(message);
      if (!result.ok) this.logger.warn({ node: this.options.id, from: message.from, type: message.type, reason: result.reason }, 'peer message refused');
    });
  }

  private tick(): void {
    this.pendingTicks++;
    this.kick();
  }

  private enqueue(input: () => void): void {
    if (this.closed || this.failure !== null) return;
    this.inbox.push(input);
    this.kick();
  }

  private kick(): void {
    if (this.processing || this.closed || this.failure !== null) return;
    this.processing = true;
    void this.run();
  }

  private async run(): Promise<void> {
    try {
      for (;;) {
        if (this.closed || this.failure !== null) return;
        const ticks = this.pendingTicks;
        this.pendingTicks = 0;
        // Many missed ticks (a stalled event loop) count as at most one election timeout's worth.
        for (let i = 0; i < Math.min(ticks, this.core.config.electionTimeoutTicks); i++) this.core.tick();
        const inputs = this.inbox;
        this.inbox = [];
        for (const input of inputs) input();
        this.afterInputs();
        if (!this.core.hasReady()) {
          if (this.inbox.length === 0 && this.pendingTicks === 0) return;
          continue;
        }
        await this.handleReady(this.core.ready());
        this.maybeSnapshot();
      }
    } catch (err) {
      this.fail(err);
    } finally {
      this.processing = false;
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    const { transport, storage, stateMachine } = this.options;
    if (rd.softState !== null) this.noteSoftState(rd.softState.leader, rd.softState.role);
    if (rd.messagesNow.length > 0) transport.send(rd.messagesNow);
    if (rd.snapshot !== null || rd.entries.length > 0 || rd.hardState !== null) {
      await storage.persist({ hardState: rd.hardState, snapshot: rd.snapshot, entries: rd.entries });
    }
    if (this.closed) return;
    if (rd.messagesAfterPersist.length > 0) transport.send(rd.messagesAfterPersist);
    if (rd.snapshot !== null) {
      stateMachine.restore(rd.snapshot.data);
      this.snapshotIndex = rd.snapshot.meta.index;
      this.appliedIndex = rd.snapshot.meta.index;
      // Proposals the snapshot skipped past may or may not have applied.
      for (const [, waiter] of this.proposals.takeUpTo(rd.snapshot.meta.index)) waiter.resolve(this.refusal('outcome-unknown'));
      transport.setPeers(this.peersWithoutSelf());
      this.logger.info({ node: this.options.id, term: this.lastTerm, index: rd.snapshot.meta.index }, 'restored snapshot from leader');
    }
    let membershipChanged = false;
    for (const entry of rd.committedEntries) {
      const result = stateMachine.apply(entry);
      this.appliedIndex = entry.index;
      if (entry.type === EntryType.ConfChange) membershipChanged = true;
      const waiter = this.proposals.take(entry.index);
      if (waiter !== undefined) {
        waiter.resolve(waiter.term === entry.term ? { ok: true, index: entry.index, term: entry.term, result } : this.refusal('dropped'));
      }
      for (const listener of this.appliedListeners) listener(entry, result);
    }
    if (membershipChanged) transport.setPeers(this.peersWithoutSelf());
    for (const read of rd.readStates) {
      const key = new TextDecoder().decode(read.context);
      this.unconfirmedReads.delete(key); // confirmed: it completes whoever leads from now on
      void this.waitApplied(read.index).then(
        () => this.settleRead(key, { ok: true, index: read.index }),
        () => this.settleRead(key, this.refusal('closed')),
      );
    }
    this.core.advance();
    this.releaseAppliedWaiters();
  }

  private afterInputs(): void {
    const core = this.core;
    if (core.currentTerm !== this.lastTerm || core.currentLeader !== this.lastLeader) this.noteSoftState(core.currentLeader, core.currentRole);
  }

  private noteSoftState(leader: NodeId, role: Role): void {
    const term = this.core.currentTerm;
    if (leader === this.lastLeader && term === this.lastTerm) return;
    const previous = this.lastLeader;
    this.lastLeader = leader;
    this.lastTerm = term;
    this.logger.info({ node: this.options.id, term, leader: leader || null, previousLeader: previous || null, role }, leader === NO_NODE ? 'no leader' : 'leader changed');
    for (const key of [...this.unconfirmedReads]) this.settleRead(key, this.refusal('leader-changed'));
    for (const listener of this.leaderListeners) listener({ leader, role, term });
  }

  private maybeSnapshot(): void {
    if (this.appliedIndex - this.snapshotIndex < this.snapshotEveryEntries || this.closed || this.failure !== null) return;
    const index = this.appliedIndex;
    const snapshot = this.core.createSnapshot(index, this.options.stateMachine.snapshot());
    this.snapshotIndex = index;
    // Compaction may lag a crash: the log still holds the entries, so nothing is lost.
    this.options.storage.saveSnapshot(snapshot).then(
      () => this.logger.debug({ node: this.options.id, index }, 'snapshot saved, log compacted'),
      (err: unknown) => this.fail(err),
    );
  }

  private releaseAppliedWaiters(): void {
    if (this.appliedWaiters.length === 0) return;
    const remaining = this.appliedWaiters.filter((w) => w.index > this.appliedIndex);
    for (const waiter of this.appliedWaiters) if (waiter.index <= this.appliedIndex) waiter.resolve();
    this.appliedWaiters.length = 0;
    this.appliedWaiters.push(...remaining);
  }

  private settleRead(key: string, outcome: ReadOutcome): void {
    this.unconfirmedReads.delete(key);
    const resolve = this.reads.get(key);
    if (resolve === undefined) return;
    this.reads.delete(key);
    resolve(outcome);
  }

  private peersWithoutSelf(): Map<NodeId, string> {
    const peers = new Map(this.options.stateMachine.peerAddresses());
    peers.delete(this.options.id);
    return peers;
  }

  private refusal(reason: NodeRefusal): { ok: false; reason: NodeRefusal; leader: NodeId } {
    return { ok: false, reason, leader: this.core.currentLeader };
  }

  private failedOrClosed(resolve: (outcome: { ok: false; reason: NodeRefusal; leader: NodeId }) => void): boolean {
    if (this.closed) resolve(this.refusal('closed'));
    else if (this.failure !== null) resolve(this.refusal('closed'));
    else return false;
    return true;
  }

  private rejectAll(reason: NodeRefusal): void {
    for (const [, waiter] of this.proposals.takeUpTo(Number.MAX_SAFE_INTEGER)) waiter.resolve(this.refusal(reason));
    for (const key of [...this.reads.keys()]) this.settleRead(key, this.refusal(reason));
    const waiters = this.appliedWaiters.splice(0);
    for (const waiter of waiters) waiter.reject(new RaftNodeError('RAFT_NODE_CLOSED', `node ${this.options.id} stopped (${reason})`));
  }

  private fail(err: unknown): void {
    if (this.failure !== null) return;
    this.failure = new RaftNodeError('RAFT_NODE_FATAL', `raft node ${this.options.id} stopped: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    this.logger.fatal({ node: this.options.id, term: this.lastTerm, err }, 'raft node failed; it stops rather than risk acknowledging what is not durable');
    this.ticker?.cancel();
    this.rejectAll('closed');
    void this.options.transport.close();
    for (const listener of this.fatalListeners) listener(this.failure);
  }
}
