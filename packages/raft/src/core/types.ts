/**
 * Data types of the Raft core. Everything here is plain data: no classes with I/O, no timers.
 * Node ids are strings (the node's name, e.g. "hub1", "witness"); the empty string means "none".
 */

export type NodeId = string;
export const NO_NODE: NodeId = '';

export const EntryType = {
  /** An application command (or the empty entry a new leader appends: data.length === 0). */
  Normal: 0,
  /** A membership change: data is an encoded ConfChange (see confchange.ts). */
  ConfChange: 1,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** What Raft must persist (fsync) before any message that depends on it leaves the node. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

/** The membership. Voters decide elections and commits; learners only receive the log. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  /** The membership as of `index`. */
  readonly conf: ConfState;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  /** The application's state machine as of meta.index, opaque to Raft. */
  readonly data: Uint8Array;
}

export const ConfChangeType = {
  AddLearner: 'add-learner',
  PromoteLearner: 'promote-learner',
  RemoveNode: 'remove-node',
} as const;
export type ConfChangeType = (typeof ConfChangeType)[keyof typeof ConfChangeType];

/**
 * A single-server membership change. A voter is added as a learner first, then promoted once it
 * has caught up, so that no change ever moves the voter set by more than one member.
 */
export interface ConfChange {
  readonly type: ConfChangeType;
  readonly node: NodeId;
  /**
   * Opaque to Raft, replicated with the change: the application's description of the member
   * (e.g. its peer address), so every node learns how to reach a new member from the log.
   */
  readonly context?: string;
}

export const MessageType = {
  /** Leader → follower: entries after (index, logTerm), and the leader's commit index. */
  App: 'app',
  /** Follower → leader: ack (index = last matching index) or reject (with a hint). */
  AppResp: 'app-resp',
  Vote: 'vote',
  VoteResp: 'vote-resp',
  PreVote: 'pre-vote',
  PreVoteResp: 'pre-vote-resp',
  Heartbeat: 'heartbeat',
  HeartbeatResp: 'heartbeat-resp',
  /** Leader → follower: the whole snapshot (the transport chunks it on the wire). */
  Snap: 'snap',
  /** Leader → transfer target: start an election now, bypassing PreVote and leases. */
  TimeoutNow: 'timeout-now',
  /** Follower → leader: a read index request on behalf of a local reader. */
  ReadIndex: 'read-index',
  /** Leader → follower: the read index for the request with the same context. */
  ReadIndexResp: 'read-index-resp',
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/**
 * One peer message. Fields that a type does not use are zero/empty; keeping one flat shape
 * (as etcd-io/raft does) makes the wire codec and the simulator simple.
 */
export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  /** App: term of the entry at `index`. Vote/PreVote: term of the candidate's last entry. */
  readonly logTerm: number;
  /** App: index preceding `entries`. AppResp: last index matched, or the rejected index. */
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly reject: boolean;
  /** AppResp reject: a hint of where the follower's log may match (fast backtracking). */
  readonly rejectHint: number;
  readonly snapshot: Snapshot | null;
  /**
   * Vote/PreVote: "transfer" when the election was started by TimeoutNow (it may then override
   * the receivers' leader lease). Heartbeat/ReadIndex: the read request context.
   */
  readonly context: Uint8Array;
}

export const Role = {
  Follower: 'follower',
  PreCandidate: 'pre-candidate',
  Candidate: 'candidate',
  Leader: 'leader',
} as const;
export type Role = (typeof Role)[keyof typeof Role];

/** A linearizable read is safe to serve once the local state machine has applied `index`. */
export interface ReadState {
  readonly index: number;
  readonly context: Uint8Array;
}

/** Volatile state the application may display or log; it need not be persisted. */
export interface SoftState {
  readonly leader: NodeId;
  readonly role: Role;
}

/**
 * One batch of work for the application. Process it in this order, then call `advance()`:
 *  1. send `messagesNow` (they do not depend on this batch's persistence);
 *  2. persist `snapshot` (if any: it replaces the whole stored log), then `entries` (overwriting
 *     any stored entries from the first index on) and `hardState` (if any) durably — fsync;
 *  3. send `messagesAfterPersist`;
 *  4. apply `snapshot` to the state machine if any, then `committedEntries` in order;
 *     hand `readStates` to waiting readers once their index is applied.
 * No input may be given to the core between `ready()` and `advance()`.
 */
export interface Ready {
  readonly softState: SoftState | null;
  readonly hardState: HardState | null;
  readonly snapshot: Snapshot | null;
  readonly entries: readonly Entry[];
  readonly messagesNow: readonly Message[];
  readonly messagesAfterPersist: readonly Message[];
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
}

/** What a persisted node hands the core on restart. */
export interface PersistedState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  /** The stored entries after the snapshot (or from index 1), contiguous. */
  readonly entries: readonly Entry[];
}
