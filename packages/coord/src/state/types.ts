/**
 * Values of the coordination store's state machine: the commands it applies (what a Raft entry
 * carries), their results, the state it exposes, and the watch events it emits.
 * All plain data. Integers are JS numbers, at most Number.MAX_SAFE_INTEGER.
 */
import type { EntryType, NodeId } from '@hubha/raft';

// ------------------------------------------------------------------------------ state

/** A key's attachment to a lease, which must be held at exactly `epoch`. */
export interface LeaseRef {
  readonly name: string;
  readonly epoch: number;
}

export interface KeyValue {
  readonly key: string;
  /** Do not mutate: the store hands out its own copy. */
  readonly value: Uint8Array;
  /** The revision that created the key (since it last did not exist). */
  readonly createRevision: number;
  /** The revision of the key's last put. */
  readonly modRevision: number;
  /** Puts since the key was created: 1 after the creating put. */
  readonly version: number;
  /** The lease the key lives with; null when not attached. */
  readonly lease: LeaseRef | null;
}

/** Lease metadata (e.g. the holder's address): string keys and values, bounded in size. */
export type Metadata = Readonly<Record<string, string>>;

/** A held lease. A free lease has no LeaseInfo (but its last epoch is kept, see lastEpoch()). */
export interface LeaseInfo {
  readonly name: string;
  readonly holder: string;
  readonly ttlMs: number;
  readonly metadata: Metadata;
  /** The fencing epoch: one more than the last epoch ever issued for this name. */
  readonly epoch: number;
  /** The revision of the grant that issued `epoch`. */
  readonly grantRevision: number;
  /** Renewals (and re-grants by the holder) since the grant. */
  readonly renewCount: number;
}

export type MemberRole = 'voter' | 'learner';

export interface Member {
  readonly id: NodeId;
  readonly role: MemberRole;
  /** The raw context of the change that added the member (or of its bootstrap entry). */
  readonly context: string | null;
  /** From `context` when it is a JSON object with a string "peer" field. */
  readonly peerAddress: string | null;
  /** From `context` when it is a JSON object with a string "client" field. */
  readonly clientAddress: string | null;
}

// --------------------------------------------------------------------------- commands

export type CompareOp = 'equal' | 'not-equal' | 'greater' | 'less';

/**
 * One condition of a Txn. A missing key has revisions and version 0; a `value` compare on a
 * missing key is false whatever the op (compare `exists` first).
 */
export type Compare =
  | { readonly key: string; readonly target: 'value'; readonly op: CompareOp; readonly value: Uint8Array }
  | { readonly key: string; readonly target: 'mod-revision' | 'create-revision' | 'version'; readonly op: CompareOp; readonly number: number }
  | { readonly key: string; readonly target: 'exists'; readonly op: 'equal' | 'not-equal'; readonly exists: boolean };

export type CompareTarget = Compare['target'];

export interface PutCommand {
  readonly type: 'put';
  readonly key: string;
  readonly value: Uint8Array;
  /** Attach the key to this lease (refused unless held at this epoch). Absent: unattached. */
  readonly lease?: LeaseRef;
  /** Return the previous key-value in the result. */
  readonly prevKv?: boolean;
}

export interface DeleteCommand {
  readonly type: 'delete';
  readonly key: string;
  readonly prevKv?: boolean;
}

export interface GetOp {
  readonly type: 'get';
  readonly key: string;
}

export type TxnOp = PutCommand | DeleteCommand | GetOp;

export interface DeleteRangeCommand {
  readonly type: 'delete-range';
  /** Non-empty. */
  readonly prefix: string;
  readonly prevKv?: boolean;
}

export interface TxnCommand {
  readonly type: 'txn';
  readonly compare: readonly Compare[];
  readonly success: readonly TxnOp[];
  readonly failure: readonly TxnOp[];
}

export interface LeaseGrantCommand {
  readonly type: 'lease-grant';
  readonly name: string;
  readonly holder: string;
  readonly ttlMs: number;
  /** Absent: empty. A re-grant by the holder replaces the metadata with this. */
  readonly metadata?: Metadata;
}

export interface LeaseRenewCommand {
  readonly type: 'lease-renew';
  readonly name: string;
  readonly holder: string;
  readonly epoch: number;
  /** Present: replaces the lease's metadata. */
  readonly metadata?: Metadata;
}

export interface LeaseReleaseCommand {
  readonly type: 'lease-release';
  readonly name: string;
  readonly holder: string;
  readonly epoch: number;
}

/** Proposed only by the Raft leader's lease timer. */
export interface LeaseExpireCommand {
  readonly type: 'lease-expire';
  readonly name: string;
  readonly epoch: number;
  readonly renewCount: number;
}

export type Command =
  | PutCommand
  | DeleteCommand
  | DeleteRangeCommand
  | TxnCommand
  | LeaseGrantCommand
  | LeaseRenewCommand
  | LeaseReleaseCommand
  | LeaseExpireCommand;

/** What a Normal entry carries. */
export interface CoordRequest {
  /** Empty: no deduplication. */
  readonly clientId: string;
  /** At least 1 when clientId is set; 0 otherwise. */
  readonly seq: number;
  readonly command: Command;
}

// ---------------------------------------------------------------------------- results

export const COORD_ERROR_CODES = [
  'malformed-entry',
  'invalid-client-id',
  'invalid-sequence',
  'stale-sequence',
  'invalid-command',
  'invalid-key',
  'value-too-large',
  'invalid-prefix',
  'invalid-lease-name',
  'invalid-holder',
  'invalid-ttl',
  'invalid-metadata',
  'invalid-epoch',
  'invalid-renew-count',
  'invalid-compare',
  'invalid-op',
  'too-many-ops',
  'too-many-leases',
  'lease-not-held',
  'lease-epoch-mismatch',
] as const;
export type CoordErrorCode = (typeof COORD_ERROR_CODES)[number];

/** A refused command: nothing changed (no revision). */
export interface ErrorResult {
  readonly type: 'error';
  readonly code: CoordErrorCode;
  readonly message: string;
}

export interface PutResult {
  readonly type: 'put';
  /** The revision after the command: the put's modRevision. */
  readonly revision: number;
  /** Only when requested and the key existed. */
  readonly prevKv: KeyValue | null;
}

export interface DeleteResult {
  readonly type: 'delete' | 'delete-range';
  /** The revision after the command (unchanged when nothing was deleted). */
  readonly revision: number;
  readonly deleted: number;
  /** Only when requested; in key order. */
  readonly prevKvs: readonly KeyValue[];
}

export interface GetResult {
  readonly type: 'get';
  readonly kv: KeyValue | null;
}

export type TxnOpResult = PutResult | (DeleteResult & { readonly type: 'delete' }) | GetResult;

export interface TxnResult {
  readonly type: 'txn';
  readonly revision: number;
  readonly succeeded: boolean;
  /** One per op of the branch that ran; their revisions are the Txn's. */
  readonly results: readonly TxnOpResult[];
}

export type LeaseGrantResult =
  | { readonly type: 'lease-grant'; readonly revision: number; readonly granted: true; readonly lease: LeaseInfo }
  /** Held by another holder: `lease` is theirs. */
  | { readonly type: 'lease-grant'; readonly revision: number; readonly granted: false; readonly reason: 'held-by-other'; readonly lease: LeaseInfo };

export type LeaseRenewResult =
  | { readonly type: 'lease-renew'; readonly revision: number; readonly renewed: true; readonly lease: LeaseInfo }
  /** Not held by this holder at this epoch: `lease` is the current one (null when free). */
  | { readonly type: 'lease-renew'; readonly revision: number; readonly renewed: false; readonly reason: 'lease-lost'; readonly lease: LeaseInfo | null };

export type LeaseReleaseResult =
  /** `lease` is the lease as it was; `deleted` keys went with it. */
  | { readonly type: 'lease-release'; readonly revision: number; readonly released: true; readonly lease: LeaseInfo; readonly deleted: number }
  | { readonly type: 'lease-release'; readonly revision: number; readonly released: false; readonly reason: 'lease-lost'; readonly lease: LeaseInfo | null; readonly deleted: 0 };

export type LeaseExpireResult =
  | { readonly type: 'lease-expire'; readonly revision: number; readonly expired: true; readonly lease: LeaseInfo; readonly deleted: number }
  /** Renewed, released or re-granted since the timer started: nothing changed. */
  | { readonly type: 'lease-expire'; readonly revision: number; readonly expired: false; readonly reason: 'stale'; readonly lease: LeaseInfo | null; readonly deleted: 0 };

export type CommandResult =
  | PutResult
  | DeleteResult
  | TxnResult
  | LeaseGrantResult
  | LeaseRenewResult
  | LeaseReleaseResult
  | LeaseExpireResult
  | ErrorResult;

// ------------------------------------------------------------------------------ apply

/** One change of one key. A Txn or a freed lease emits several, all with the same revision. */
export interface WatchEvent {
  readonly type: 'put' | 'delete';
  readonly key: string;
  /** The new value; empty for a delete. */
  readonly value: Uint8Array;
  /** The value before the change; absent when the key did not exist. */
  readonly prevValue?: Uint8Array;
  /** The key's create revision (for a delete: that of the deleted key). */
  readonly createRevision: number;
  /** The revision of this change. */
  readonly modRevision: number;
  /** The key's version after the change; 0 for a delete. */
  readonly version: number;
  /** Put: the lease the key is attached to. Delete: the lease it was attached to. */
  readonly lease?: LeaseRef;
  readonly revision: number;
}

/** A lease whose state changed in an entry: its new state, null when freed. */
export interface LeaseChange {
  readonly name: string;
  readonly lease: LeaseInfo | null;
}

export interface ApplyOutcome {
  /** The command's result; null for an empty (leader no-op) entry or a membership change. */
  readonly result: CommandResult | null;
  /** In apply order. */
  readonly events: readonly WatchEvent[];
  /**
   * Leases granted, renewed, re-granted, released or expired by this entry, for the leader's
   * lease timer: restart the timer of a lease at (epoch, renewCount); stop it when freed.
   */
  readonly leaseChanges: readonly LeaseChange[];
}

/** What the state machine applies (the shape of the Raft core's Entry). */
export interface ApplyEntry {
  readonly index: number;
  readonly term: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** A member of the initial configuration, given to the constructor. */
export interface BootstrapMember {
  readonly id: NodeId;
  /** Default: voter. */
  readonly role?: MemberRole;
  /** The raw context, as a membership change would carry it. */
  readonly context?: string;
  /** When no context is given: it is made as {"peer": peer, "client": client}. */
  readonly peer?: string;
  readonly client?: string;
}
