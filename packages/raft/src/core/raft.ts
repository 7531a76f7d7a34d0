import type { ConfChange, ConfState, Entry, HardState, Message, NodeId, PersistedState, Ready, ReadState, SoftState, Snapshot } from './types.js';
import { EntryType, MessageType, NO_NODE, Role } from './types.js';
import type { RaftConfig, RaftConfigInput } from './config.js';
import { resolveRaftConfig } from './config.js';
import type { CampaignResult, ConfChangeResult, ProposeResult, ReadIndexResult, TransferResult } from './results.js';
import { RaftUsageError, invariant } from './results.js';
import { RaftLog, entryBytes } from './log.js';
import { Progress } from './progress.js';
import type { ProgressState } from './progress.js';
import { majorityMatchIndex, quorumActive, tallyVotes } from './quorum.js';
import { checkConfChange, encodeConfChange, isMember, isValidNodeId, sameConf } from './confchange.js';
import { MAX_PENDING_READS, ReadOnlyQueue } from './read-only.js';
import { TRANSFER_CONTEXT, isTransferContext, makeMessage } from './messages.js';
import type { MessageFields } from './messages.js';
import { randomBelow } from './prng.js';

/** Committed entries handed to the application in one Ready, at most (at least one entry). */
const MAX_APPLY_BYTES_PER_READY = 8 * 1024 * 1024;
/** Reads that arrive before the leader has committed in its term wait here, at most this many. */
const MAX_READS_BEFORE_COMMIT = 1024;
/** A snapshot not acknowledged after this many election timeouts is assumed lost and re-sent. */
const SNAPSHOT_RETRY_ELECTION_TIMEOUTS = 2;

export type StepResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly recentActive: boolean;
  readonly isLearner: boolean;
  readonly inflight: number;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly persistedIndex: number;
  readonly role: Role;
  readonly leader: NodeId;
  readonly conf: ConfState;
  readonly leadTransferee: NodeId;
  /** Leader only: each other member's replication progress. */
  readonly progress: ReadonlyMap<NodeId, ProgressStatus>;
}

type ElectionKind = 'pre-election' | 'election';

interface HandedOut {
  readonly lastEntry: { readonly index: number; readonly term: number } | null;
  readonly snapshot: Snapshot | null;
  readonly appliedTo: number;
  readonly hardState: HardState;
}

/**
 * The Raft consensus core: a pure, deterministic state machine in the style of etcd-io/raft.
 * Time arrives as tick(), messages as step(), randomness from the injected Prng; everything the
 * outside world must do comes back from ready(). See types.ts (Ready) for the contract and
 * docs/raft-divergences.md for where this departs from the Raft paper.
 */
export class RaftCore {
  readonly config: RaftConfig;
  private readonly id: NodeId;
  private term: number;
  private vote: NodeId;
  private leader: NodeId = NO_NODE;
  private role: Role = Role.Follower;
  private readonly log: RaftLog;
  private conf: ConfState;
  private progress = new Map<NodeId, Progress>();
  private votes = new Map<NodeId, boolean>();
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private leadTransferee: NodeId = NO_NODE;
  private uncommittedBytes = 0;
  private readonly readOnly = new ReadOnlyQueue();
  private readsBeforeCommit: { context: Uint8Array; from: NodeId }[] = [];

  private messagesNow: Message[] = [];
  private messagesAfterPersist: Message[] = [];
  private readStates: ReadState[] = [];
  /** The hard state as of the last advance() (or restart): what is known to be on disk. */
  private stableHardState: HardState;
  private lastSoftState: SoftState;
  private handedOut: HandedOut | null = null;

  /**
   * The persisted state of a brand-new member. The initial membership is written as committed
   * ConfChange entries of term 1 (add-learner then promote-learner per voter, as etcd-io/raft's
   * Bootstrap does), not only as a snapshot: a member that joins later replicates the log from
   * index 1 and must learn the whole membership history from it. Every initial member must be
   * bootstrapped with the same membership (sorted here), so their logs are identical.
   * A member that will join an existing cluster bootstraps with an empty membership.
   */
  static bootstrapState(conf: ConfState): PersistedState {
    const changes: ConfChange[] = [];
    for (const node of [...conf.voters].sort()) changes.push({ type: 'add-learner', node }, { type: 'promote-learner', node });
    for (const node of [...conf.learners].sort()) changes.push({ type: 'add-learner', node });
    const entries: Entry[] = changes.map((change, k) => ({ term: 1, index: k + 1, type: EntryType.ConfChange, data: encodeConfChange(change) }));
    return {
      hardState: { term: entries.length > 0 ? 1 : 0, vote: NO_NODE, commit: entries.length },
      snapshot: { meta: { index: 0, term: 0, conf: { voters: [], learners: [] } }, data: new Uint8Array(0) },
      entries,
    };
  }

  constructor(configInput: RaftConfigInput, persisted: PersistedState) {
    this.config = resolveRaftConfig(configInput);
    this.id = this.config.id;
    const snapshot = persisted.snapshot ?? { meta: { index: 0, term: 0, conf: { voters: [], learners: [] } }, data: new Uint8Array(0) };
    this.log = new RaftLog(snapshot, persisted.entries, persisted.hardState.commit);
    this.term = persisted.hardState.term;
    this.vote = persisted.hardState.vote;
    invariant(this.term >= this.log.lastTerm(), () => `persisted term ${this.term} below last log term ${this.log.lastTerm()}`);
    this.conf = this.log.confAt(this.log.lastIndex());
    this.stableHardState = this.hardState();
    this.lastSoftState = this.softState();
    this.resetRandomizedElectionTimeout();
  }

  // ---------------------------------------------------------------- inputs

  /** One unit of logical time. */
  tick(): void {
    this.assertNotInReady('tick');
    if (this.role === Role.Leader) this.tickLeader();
    else this.tickElection();
  }

  /** A message from a peer. Malformed or misaddressed messages are refused and change nothing. */
  step(m: Message): StepResult {
    this.assertNotInReady('step');
    if (m.to !== this.id) return { ok: false, reason: `message addressed to ${JSON.stringify(m.to)}, not ${JSON.stringify(this.id)}` };
    if (!isValidNodeId(m.from) || m.from === this.id) return { ok: false, reason: `invalid sender ${JSON.stringify(m.from)}` };
    if (!Number.isSafeInteger(m.term) || m.term < 0) return { ok: false, reason: `invalid term ${m.term}` };
    this.stepMessage(m);
    this.assertInvariants();
    return { ok: true };
  }

  propose(data: Uint8Array): ProposeResult {
    this.assertNotInReady('propose');
    return this.proposeEntry(EntryType.Normal, data);
  }

  proposeConfChange(change: ConfChange): ConfChangeResult {
    this.assertNotInReady('proposeConfChange');
    if (this.role !== Role.Leader) return this.refuse('not-leader');
    if (this.leadTransferee !== NO_NODE) return this.refuse('transferring-leadership');
    // Single-server changes are safe only one at a time, and only after the leader has committed
    // an entry of its own term (the fix to the thesis' single-server algorithm, raft-dev 2015).
    if (this.log.lastConfIndex() > this.log.committed) return this.refuse('conf-change-pending');
    if (this.log.term(this.log.committed) !== this.term) return this.refuse('no-commit-in-current-term');
    const check = checkConfChange(this.conf, change);
    if (check !== 'ok') return this.refuse(check);
    if (change.type === 'remove-node' && change.node === this.id) return this.refuse('cannot-remove-leader');
    // A voter that cannot yet acknowledge what is committed would stall commits as soon as it
    // counts towards the majority: promote only a learner that has caught up.
    if (change.type === 'promote-learner' && (this.progress.get(change.node)?.match ?? 0) < this.log.committed) return this.refuse('learner-not-caught-up');
    const result = this.proposeEntry(EntryType.ConfChange, encodeConfChange(change));
    if (!result.ok) return this.refuse(result.reason === 'transferring-leadership' ? 'transferring-leadership' : 'not-leader');
    return result;
  }

  /**
   * Hands leadership to `to` (Raft thesis §3.10). The leader stops taking proposals, brings the
   * target up to date, and sends it TimeoutNow; if that does not happen within an election
   * timeout the transfer is abandoned and the leader carries on.
   */
  transferLeadership(to: NodeId): TransferResult {
    this.assertNotInReady('transferLeadership');
    if (this.role !== Role.Leader) return this.refuse('not-leader');
    if (to === this.id) return this.refuse('already-leader');
    if (!this.conf.voters.includes(to)) return this.refuse('not-a-voter');
    if (this.leadTransferee !== NO_NODE) return this.leadTransferee === to ? { ok: true } : this.refuse('transfer-in-progress');
    const pr = this.progress.get(to);
    if (pr === undefined || !pr.recentActive) return this.refuse('target-not-recently-active');
    this.leadTransferee = to;
    this.electionElapsed = 0;
    if (pr.match === this.log.lastIndex()) this.send(to, MessageType.TimeoutNow);
    else this.sendAppend(to, true);
    return { ok: true };
  }

  /** Starts a linearizable read; its ReadState comes out of ready() once it is safe. */
  readIndex(context: Uint8Array): ReadIndexResult {
    this.assertNotInReady('readIndex');
    if (this.role === Role.Leader) {
      this.handleReadRequest(context, this.id);
      return { ok: true };
    }
    if (this.leader === NO_NODE) return this.refuse('no-leader');
    this.send(this.leader, MessageType.ReadIndex, { context });
    return { ok: true };
  }

  /** Starts an election now (with PreVote first when enabled). */
  campaign(): CampaignResult {
    this.assertNotInReady('campaign');
    if (this.role === Role.Leader) return this.refuse('already-leader');
    if (!this.promotable()) return this.refuse('not-a-voter');
    if (!this.config.canCampaign) return this.refuse('campaign-disabled');
    this.hup(false);
    return { ok: true };
  }

  /**
   * The application took a snapshot of its state machine at `index` (at most the applied index);
   * the log before it is dropped. The snapshot is what lagging followers will be sent; the
   * application stores it (and may then delete the entries it covers).
   */
  createSnapshot(index: number, data: Uint8Array): Snapshot {
    this.assertNotInReady('createSnapshot');
    if (!Number.isSafeInteger(index) || index < 0) throw new RaftUsageError(`snapshot index must be a non-negative integer, got ${index}`);
    if (index > this.log.applied) throw new RaftUsageError(`snapshot index ${index} is beyond the applied index ${this.log.applied}`);
    this.log.compact(index, data);
    return this.log.snapshot();
  }

  /** Transport feedback: the peer could not be reached; stop pipelining to it. */
  reportUnreachable(id: NodeId): void {
    this.assertNotInReady('reportUnreachable');
    const pr = this.progress.get(id);
    if (this.role === Role.Leader && pr !== undefined && pr.state === 'replicate') pr.becomeProbe();
  }

  /** Transport feedback on a snapshot sent to `id`: on failure, probe again (and re-send). */
  reportSnapshot(id: NodeId, ok: boolean): void {
    this.assertNotInReady('reportSnapshot');
    const pr = this.progress.get(id);
    if (this.role !== Role.Leader || pr === undefined || pr.state !== 'snapshot') return;
    if (!ok) pr.pendingSnapshot = 0;
    // Either way wait for the follower's response before sending more (probe, paused).
    pr.becomeProbe();
    pr.probeSent = true;
  }

  // ---------------------------------------------------------------- output

  hasReady(): boolean {
    if (this.handedOut !== null) return false;
    const soft = this.softState();
    return (
      soft.role !== this.lastSoftState.role ||
      soft.leader !== this.lastSoftState.leader ||
      !sameHardState(this.hardState(), this.stableHardState) ||
      this.log.hasUnstable() ||
      this.messagesNow.length > 0 ||
      this.messagesAfterPersist.length > 0 ||
      this.log.hasNextCommitted() ||
      this.readStates.length > 0
    );
  }

  ready(): Ready {
    this.assertNotInReady('ready');
    const soft = this.softState();
    const hard = this.hardState();
    const snapshot = this.log.takePendingSnapshot();
    const entries = this.log.unstableEntries();
    const committedEntries = this.log.nextCommittedEntries(MAX_APPLY_BYTES_PER_READY);
    const lastEntry = entries[entries.length - 1];
    const softChanged = soft.role !== this.lastSoftState.role || soft.leader !== this.lastSoftState.leader;
    const rd: Ready = {
      softState: softChanged ? soft : null,
      hardState: sameHardState(hard, this.stableHardState) ? null : hard,
      snapshot,
      entries,
      messagesNow: this.messagesNow,
      messagesAfterPersist: this.messagesAfterPersist,
      committedEntries,
      readStates: this.readStates,
    };
    this.lastSoftState = soft;
    this.messagesNow = [];
    this.messagesAfterPersist = [];
    this.readStates = [];
    const lastCommitted = committedEntries[committedEntries.length - 1];
    this.handedOut = {
      lastEntry: lastEntry === undefined ? null : { index: lastEntry.index, term: lastEntry.term },
      snapshot,
      appliedTo: lastCommitted?.index ?? (snapshot?.meta.index ?? this.log.applied),
      hardState: hard,
    };
    return rd;
  }

  /** The application finished the last Ready (persisted, sent, applied). */
  advance(): void {
    const handed = this.handedOut;
    if (handed === null) throw new RaftUsageError('advance() without a ready() in progress');
    this.handedOut = null;
    if (handed.snapshot !== null) this.log.stableSnapshot(handed.snapshot);
    if (handed.lastEntry !== null) this.log.stableTo(handed.lastEntry.index, handed.lastEntry.term);
    this.log.appliedTo(handed.appliedTo);
    this.stableHardState = handed.hardState;
    // The leader's own persisted entries now count towards the commit quorum.
    if (this.role === Role.Leader && this.maybeCommit()) this.broadcastAppend();
    this.assertInvariants();
  }

  /** Cheap accessors for hot paths (status() builds a full snapshot, progress included). */
  get currentRole(): Role {
    return this.role;
  }

  get currentLeader(): NodeId {
    return this.leader;
  }

  get currentTerm(): number {
    return this.term;
  }

  status(): RaftStatus {
    const progress = new Map<NodeId, ProgressStatus>();
    if (this.role === Role.Leader) {
      for (const [id, pr] of this.progress) {
        progress.set(id, { match: pr.match, next: pr.next, state: pr.state, recentActive: pr.recentActive, isLearner: pr.isLearner, inflight: pr.inflights.count() });
      }
    }
    return {
      id: this.id,
      term: this.term,
      vote: this.vote,
      commit: this.log.committed,
      applied: this.log.applied,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      persistedIndex: this.log.persistedIndex(),
      role: this.role,
      leader: this.leader,
      conf: this.conf,
      leadTransferee: this.leadTransferee,
      progress,
    };
  }

  // ---------------------------------------------------------------- time

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.config.canCampaign && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    for (const [id, pr] of this.progress) {
      if (pr.removedAt > 0 && this.log.committed >= pr.removedAt && ++pr.removalGraceTicks >= this.config.electionTimeoutTicks) {
        this.progress.delete(id);
        continue;
      }
      if (pr.state !== 'snapshot') continue;
      pr.snapshotTicks++;
      if (pr.snapshotTicks >= SNAPSHOT_RETRY_ELECTION_TIMEOUTS * this.config.electionTimeoutTicks) pr.becomeProbe();
    }
    if (this.electionElapsed >= this.config.electionTimeoutTicks) {
      this.electionElapsed = 0;
      if (this.config.checkQuorum) {
        const active = quorumActive(this.conf.voters, (id) => id === this.id || this.progress.get(id)?.recentActive === true);
        for (const pr of this.progress.values()) pr.recentActive = false;
        if (!active) {
          this.becomeFollower(this.term, NO_NODE);
          return;
        }
      }
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.leadTransferee !== NO_NODE) this.leadTransferee = NO_NODE;
    }
    if (this.heartbeatElapsed >= this.config.heartbeatIntervalTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat(this.readOnly.lastContext());
    }
  }

  private resetRandomizedElectionTimeout(): void {
    const base = this.config.electionTimeoutTicks;
    this.randomizedElectionTimeout = base + randomBelow(this.config.random, base);
  }

  // ---------------------------------------------------------------- roles

  private reset(term: number): void {
    if (term !== this.term) {
      invariant(term > this.term, () => `term moving backwards from ${this.term} to ${term}`);
      this.term = term;
      this.vote = NO_NODE;
    }
    this.leader = NO_NODE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.leadTransferee = NO_NODE;
    this.votes = new Map();
    this.progress = new Map();
    this.readOnly.reset();
    this.readsBeforeCommit = [];
    this.uncommittedBytes = 0;
  }

  private becomeFollower(term: number, leader: NodeId): void {
    this.reset(term);
    this.role = Role.Follower;
    this.leader = leader;
  }

  private becomePreCandidate(): void {
    invariant(this.role !== Role.Leader, () => 'leader becoming pre-candidate');
    // PreVote changes neither term nor vote: a failed pre-election leaves no trace on disk.
    this.votes = new Map();
    this.role = Role.PreCandidate;
    this.leader = NO_NODE;
    this.resetRandomizedElectionTimeout();
  }

  private becomeCandidate(): void {
    invariant(this.role !== Role.Leader, () => 'leader becoming candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = Role.Candidate;
  }

  private becomeLeader(): void {
    invariant(this.role === Role.Candidate, () => `becoming leader from ${this.role}`);
    invariant(this.conf.voters.includes(this.id), () => 'becoming leader while not a voter');
    this.reset(this.term);
    this.role = Role.Leader;
    this.leader = this.id;
    for (const id of [...this.conf.voters, ...this.conf.learners]) if (id !== this.id) this.addProgress(id);
    // An empty entry of the new term lets the leader commit (and so learn) everything before it.
    this.appendEntries([{ type: EntryType.Normal, data: new Uint8Array(0) }]);
  }

  private addProgress(id: NodeId): void {
    const pr = new Progress(this.log.lastIndex() + 1, this.conf.learners.includes(id), this.config.maxInflightMsgs, this.config.maxInflightBytes);
    this.progress.set(id, pr);
  }

  private promotable(): boolean {
    return this.conf.voters.includes(this.id);
  }

  private hup(transfer: boolean): void {
    if (this.role === Role.Leader || !this.promotable()) return;
    this.startElection(this.config.preVote && !transfer ? 'pre-election' : 'election', transfer);
  }

  private startElection(kind: ElectionKind, transfer: boolean): void {
    let voteTerm: number;
    let type: typeof MessageType.PreVote | typeof MessageType.Vote;
    if (kind === 'pre-election') {
      this.becomePreCandidate();
      voteTerm = this.term + 1;
      type = MessageType.PreVote;
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
      type = MessageType.Vote;
    }
    this.votes.set(this.id, true);
    if (this.afterVote(kind)) return;
    for (const id of this.conf.voters) {
      if (id === this.id) continue;
      this.send(id, type, { term: voteTerm, index: this.log.lastIndex(), logTerm: this.log.lastTerm(), ...(transfer ? { context: TRANSFER_CONTEXT } : {}) });
    }
  }

  /** Tallies the votes; returns true when the election is decided. */
  private afterVote(kind: ElectionKind): boolean {
    const outcome = tallyVotes(this.conf.voters, this.votes);
    if (outcome === 'won') {
      if (kind === 'pre-election') this.startElection('election', false);
      else {
        this.becomeLeader();
        this.broadcastAppend();
      }
      return true;
    }
    if (outcome === 'lost') {
      this.becomeFollower(this.term, NO_NODE);
      return true;
    }
    return false;
  }

  // ---------------------------------------------------------------- messages

  private stepMessage(m: Message): void {
    if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        // Leader lease (CheckQuorum): a follower that heard from a live leader within the
        // election timeout ignores elections, unless the leader itself asked for one.
        const inLease = this.config.checkQuorum && this.leader !== NO_NODE && this.electionElapsed < this.config.electionTimeoutTicks;
        if (inLease && !isTransferContext(m.context)) return;
      }
      if (m.type === MessageType.PreVote) {
        // Never raise our term for a pre-vote request.
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // A granted pre-vote carries the term we will campaign for; we raise it when we win.
      } else {
        const leader = m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap ? m.from : NO_NODE;
        this.becomeFollower(m.term, leader);
      }
    } else if (m.term < this.term) {
      if ((this.config.checkQuorum || this.config.preVote) && (m.type === MessageType.App || m.type === MessageType.Heartbeat)) {
        // A stale leader cut off for a while: tell it our term so it steps down. Without this,
        // PreVote/CheckQuorum could leave it unable ever to learn it was replaced.
        this.send(m.from, MessageType.AppResp);
      } else if (m.type === MessageType.PreVote) {
        this.send(m.from, MessageType.PreVoteResp, { reject: true });
      }
      return;
    }

    if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
      this.handleVoteRequest(m);
      return;
    }
    switch (this.role) {
      case Role.Leader:
        this.stepLeader(m);
        break;
      case Role.Candidate:
      case Role.PreCandidate:
        this.stepCandidate(m);
        break;
      case Role.Follower:
        this.stepFollower(m);
        break;
    }
  }

  private handleVoteRequest(m: Message): void {
    const isPreVote = m.type === MessageType.PreVote;
    const respType = isPreVote ? MessageType.PreVoteResp : MessageType.VoteResp;
    const canVote =
      this.vote === m.from ||
      (this.vote === NO_NODE && this.leader === NO_NODE) ||
      (isPreVote && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // The response carries the request's term: for a pre-vote, our own term is unchanged.
      this.send(m.from, respType, { term: m.term });
      if (!isPreVote) {
        invariant(this.vote === NO_NODE || this.vote === m.from, () => `voting for ${m.from} in term ${this.term} after voting for ${this.vote}`);
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send(m.from, respType, { reject: true });
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.App:
        this.electionElapsed = 0;
        this.leader = m.from;
        this.handleAppend(m);
        break;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.leader = m.from;
        this.handleHeartbeat(m);
        break;
      case MessageType.Snap:
        this.electionElapsed = 0;
        this.leader = m.from;
        this.handleSnapshot(m);
        break;
      case MessageType.TimeoutNow:
        // The leader asked us to take over: skip PreVote and override leases.
        if (this.promotable() && this.config.canCampaign) this.hup(true);
        break;
      case MessageType.ReadIndexResp:
        this.readStates.push({ index: m.index, context: m.context });
        break;
      default:
        break;
    }
  }

  private stepCandidate(m: Message): void {
    const myResponse = this.role === Role.PreCandidate ? MessageType.PreVoteResp : MessageType.VoteResp;
    switch (m.type) {
      case MessageType.App:
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        break;
      case MessageType.Heartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        break;
      case MessageType.Snap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        break;
      case MessageType.VoteResp:
      case MessageType.PreVoteResp:
        if (m.type !== myResponse) break;
        this.votes.set(m.from, !m.reject);
        this.afterVote(this.role === Role.PreCandidate ? 'pre-election' : 'election');
        break;
      default:
        break;
    }
  }

  private stepLeader(m: Message): void {
    if (m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap) {
      invariant(false, () => `leader ${this.id} of term ${this.term} got ${m.type} from ${m.from} in the same term: two leaders`);
    }
    if (m.type === MessageType.ReadIndex) {
      this.handleReadRequest(m.context, m.from);
      return;
    }
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    switch (m.type) {
      case MessageType.AppResp:
        pr.recentActive = true;
        this.handleAppendResponse(m, pr);
        break;
      case MessageType.HeartbeatResp:
        pr.recentActive = true;
        this.handleHeartbeatResponse(m, pr);
        break;
      default:
        break;
    }
  }

  private handleAppend(m: Message): void {
    if (m.index < this.log.committed) {
      this.send(m.from, MessageType.AppResp, { index: this.log.committed });
      return;
    }
    const result = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (result !== null) {
      // Recomputing the membership scans the log: only when a ConfChange came or went.
      if (result.confChanged) this.onLogChanged();
      this.send(m.from, MessageType.AppResp, { index: result.lastNewIndex });
      return;
    }
    // Reject with a hint: the last index at or before the probe whose term is <= the leader's
    // term there, so the leader can skip a whole divergent term in one round trip.
    const hintIndex = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send(m.from, MessageType.AppResp, { index: m.index, reject: true, rejectHint: hintIndex, logTerm: this.log.term(hintIndex) ?? 0 });
  }

  private handleHeartbeat(m: Message): void {
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.send(m.from, MessageType.HeartbeatResp, { context: m.context });
  }

  private handleSnapshot(m: Message): void {
    const snapshot = m.snapshot;
    if (snapshot === null) return;
    if (this.restore(snapshot)) this.send(m.from, MessageType.AppResp, { index: this.log.lastIndex() });
    else this.send(m.from, MessageType.AppResp, { index: this.log.committed });
  }

  private restore(snapshot: Snapshot): boolean {
    const { index, term } = snapshot.meta;
    if (index <= this.log.committed) return false;
    if (this.log.matchTerm(index, term)) {
      // We already have this prefix: just learn that it is committed.
      this.log.commitTo(index);
      return false;
    }
    this.log.restore(snapshot);
    this.onLogChanged();
    return true;
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    if (m.reject) {
      let probeFrom = m.rejectHint;
      if (m.logTerm > 0) probeFrom = this.log.findConflictByTerm(m.rejectHint, m.logTerm);
      if (pr.maybeDecrTo(m.index, probeFrom)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from, false);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) {
      if (wasPaused && !pr.isPaused()) this.sendAppend(m.from, false);
      return;
    }
    if (pr.state === 'probe') pr.becomeReplicate();
    else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') pr.inflights.freeLE(m.index);

    if (this.maybeCommit()) this.broadcastAppend();
    // Keep the pipeline full.
    while (this.sendAppend(m.from, false)) {
      // sendAppend returns false once the follower is paused or fully caught up.
    }
    // A late acknowledgement: the commit index moved on without this follower; tell it now
    // rather than at the next heartbeat.
    if (pr.sentCommit < Math.min(pr.match, this.log.committed)) this.sendAppend(m.from, true);
    if (pr.removedAt > 0 && pr.match >= pr.removedAt && pr.sentCommit >= pr.removedAt) this.progress.delete(m.from);
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.send(m.from, MessageType.TimeoutNow);
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.probeSent = false;
    if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from, true);
    if (m.context.length === 0) return;
    const acks = this.readOnly.recvAck(m.from, m.context);
    if (acks === undefined || !quorumActive(this.conf.voters, (id) => acks.has(id))) return;
    for (const read of this.readOnly.advance(m.context)) this.releaseRead(read.context, read.index, read.from);
  }

  private handleReadRequest(context: Uint8Array, from: NodeId): void {
    if (this.log.term(this.log.committed) !== this.term) {
      // A new leader does not yet know the commit index of its term; wait for its first commit.
      if (this.readsBeforeCommit.length < MAX_READS_BEFORE_COMMIT) this.readsBeforeCommit.push({ context, from });
      return;
    }
    if (this.conf.voters.length === 1) {
      this.releaseRead(context, this.log.committed, from);
      return;
    }
    if (this.readOnly.size() >= MAX_PENDING_READS) return;
    if (this.readOnly.add(this.log.committed, context, from, this.id)) this.broadcastHeartbeat(context);
  }

  private releaseRead(context: Uint8Array, index: number, from: NodeId): void {
    if (from === this.id) this.readStates.push({ index, context });
    else this.send(from, MessageType.ReadIndexResp, { index, context });
  }

  // ---------------------------------------------------------------- replication

  private proposeEntry(type: EntryType, data: Uint8Array): ProposeResult {
    if (this.role !== Role.Leader) return this.refuse('not-leader');
    if (this.leadTransferee !== NO_NODE) return this.refuse('transferring-leadership');
    if (this.config.maxUncommittedBytes > 0 && this.uncommittedBytes > 0 && this.uncommittedBytes + data.length > this.config.maxUncommittedBytes) {
      return this.refuse('too-many-uncommitted-bytes');
    }
    const entry = this.appendEntries([{ type, data }]);
    this.broadcastAppend();
    return { ok: true, index: entry.index, term: entry.term };
  }

  private appendEntries(items: readonly { type: EntryType; data: Uint8Array }[]): Entry {
    let index = this.log.lastIndex();
    const entries = items.map(({ type, data }) => ({ term: this.term, index: ++index, type, data }));
    this.log.append(entries);
    for (const entry of entries) this.uncommittedBytes += entryBytes(entry);
    if (entries.some((e) => e.type === EntryType.ConfChange)) this.onLogChanged();
    // With a single voter the leader commits on its own persistence, in advance().
    return entries[entries.length - 1]!;
  }

  private maybeCommit(): boolean {
    const before = this.log.committed;
    const index = majorityMatchIndex(this.conf.voters, (id) => (id === this.id ? this.log.persistedIndex() : (this.progress.get(id)?.match ?? 0)));
    if (!this.log.maybeCommit(index, this.term)) return false;
    for (let i = before + 1; i <= this.log.committed; i++) {
      const entry = this.log.entry(i);
      if (entry !== undefined && entry.term === this.term) this.uncommittedBytes = Math.max(0, this.uncommittedBytes - entryBytes(entry));
    }
    if (before < this.log.committed && this.log.term(before) !== this.term && this.readsBeforeCommit.length > 0) {
      const waiting = this.readsBeforeCommit;
      this.readsBeforeCommit = [];
      for (const read of waiting) this.handleReadRequest(read.context, read.from);
    }
    return true;
  }

  private broadcastAppend(): void {
    for (const id of this.progress.keys()) this.sendAppend(id, true);
  }

  private broadcastHeartbeat(context: Uint8Array | undefined): void {
    for (const [id, pr] of this.progress) {
      // Never tell a follower to commit beyond what it is known to hold.
      const commit = Math.min(pr.match, this.log.committed);
      pr.sentCommit = Math.max(pr.sentCommit, commit);
      this.send(id, MessageType.Heartbeat, { commit, ...(context === undefined ? {} : { context }) });
    }
  }

  /**
   * Sends the follower its next App (or the snapshot when the entries it needs are compacted).
   * With `sendIfEmpty` an App without entries goes out too (to carry the commit index or to
   * probe). Returns whether something was sent.
   */
  private sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    const entries = this.log.slice(pr.next, this.config.maxMsgBytes);
    if (prevTerm === undefined || entries === undefined) return this.sendSnapshot(to, pr);
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send(to, MessageType.App, { index: prevIndex, logTerm: prevTerm, entries, commit: this.log.committed });
    // The follower commits at most up to what this message makes it hold.
    pr.sentCommit = Math.max(pr.sentCommit, Math.min(this.log.committed, prevIndex + entries.length));
    const last = entries[entries.length - 1];
    switch (pr.state) {
      case 'replicate':
        if (last !== undefined) {
          pr.next = last.index + 1;
          pr.inflights.add(last.index, entries.reduce((sum, e) => sum + entryBytes(e), 0));
        }
        break;
      case 'probe':
        pr.probeSent = true;
        break;
      case 'snapshot':
        invariant(false, () => 'append sent in snapshot state');
    }
    return entries.length > 0;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) return false;
    const snapshot = this.log.snapshot();
    pr.becomeSnapshot(snapshot.meta.index);
    this.send(to, MessageType.Snap, { snapshot });
    return false;
  }

  private send(to: NodeId, type: Message['type'], fields: MessageFields & { term?: number } = {}): void {
    const { term, ...rest } = fields;
    const m = makeMessage(type, this.id, to, term ?? this.term, rest);
    // A leader's replication traffic at an already-persisted term may leave before its own
    // fsync (Raft thesis §10.2.1): the leader counts itself only once its entries are on disk.
    // Everything else (votes, acknowledgements) waits until the state it reflects is durable.
    const leaderTraffic = type === MessageType.App || type === MessageType.Heartbeat || type === MessageType.Snap || type === MessageType.TimeoutNow;
    if (this.role === Role.Leader && leaderTraffic && this.term === this.stableHardState.term && this.vote === this.stableHardState.vote) {
      this.messagesNow.push(m);
    } else {
      this.messagesAfterPersist.push(m);
    }
  }

  /** The log's membership may have changed: recompute it and the leader's progress set. */
  private onLogChanged(): void {
    const conf = this.log.confAt(this.log.lastIndex());
    if (sameConf(conf, this.conf)) return;
    this.conf = conf;
    if (this.role !== Role.Leader) return;
    for (const [id, pr] of this.progress) {
      if (!isMember(conf, id) && pr.removedAt === 0) {
        // Keep replicating to it until it holds its own removal (see Progress.removedAt).
        pr.removedAt = this.log.lastConfIndex();
        pr.isLearner = true;
      }
    }
    for (const id of [...conf.voters, ...conf.learners]) {
      if (id === this.id) continue;
      const pr = this.progress.get(id);
      if (pr === undefined) this.addProgress(id);
      else {
        pr.isLearner = conf.learners.includes(id);
        pr.removedAt = 0;
        pr.removalGraceTicks = 0;
      }
    }
    if (this.leadTransferee !== NO_NODE && !conf.voters.includes(this.leadTransferee)) this.leadTransferee = NO_NODE;
  }

  // ---------------------------------------------------------------- helpers

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  private softState(): SoftState {
    return { leader: this.leader, role: this.role };
  }

  private refuse<R extends string>(reason: R): { ok: false; reason: R; leader: NodeId } {
    return { ok: false, reason, leader: this.leader };
  }

  private assertNotInReady(what: string): void {
    if (this.handedOut !== null) throw new RaftUsageError(`${what}() called between ready() and advance()`);
  }

  /** Cheap invariants checked after every input; a failure is a bug in the core. */
  private assertInvariants(): void {
    invariant(this.log.committed <= this.log.lastIndex(), () => `commit ${this.log.committed} beyond last index ${this.log.lastIndex()}`);
    invariant(this.log.applied <= this.log.committed, () => `applied ${this.log.applied} beyond commit ${this.log.committed}`);
    invariant(this.term >= this.log.lastTerm(), () => `term ${this.term} below last log term ${this.log.lastTerm()}`);
    invariant(this.term >= this.stableHardState.term, () => `term ${this.term} below persisted term ${this.stableHardState.term}`);
    invariant(
      this.term !== this.stableHardState.term || this.stableHardState.vote === NO_NODE || this.vote === this.stableHardState.vote,
      () => `vote changed within term ${this.term}: ${this.stableHardState.vote} -> ${this.vote}`,
    );
    if (this.role === Role.Leader) {
      invariant(this.leader === this.id, () => 'leader does not know itself as leader');
      invariant(this.conf.voters.includes(this.id), () => 'leader is not a voter');
      invariant(this.vote === this.id, () => 'leader did not vote for itself');
    }
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
