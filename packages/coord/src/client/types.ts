/**
 * What the client's API returns: plain values (numbers, strings, Uint8Array), no protobuf types.
 * Integers are JS numbers at most Number.MAX_SAFE_INTEGER (larger ones are refused as
 * malformed-response).
 */
import type { KeyValue, LeaseInfo, Member, Metadata, TxnOpResult } from '../state/types.js';

/** The header of every answer. */
export interface ResponseHeader {
  readonly clusterId: string;
  /** The member that answered. */
  readonly member: string;
  /** The store's revision: for a mutation, the revision it was applied at (or the current one). */
  readonly revision: number;
  readonly raftTerm: number;
  /** The leader as the answering member knows it; '' when unknown. */
  readonly leader: string;
  /** Served from the member's replica without a linearizability check. */
  readonly serializable: boolean;
}

export interface PutResponse {
  readonly header: ResponseHeader;
  /** The put's revision (its modRevision). */
  readonly revision: number;
  /** Only when prevKv was asked for and the key existed. */
  readonly prevKv: KeyValue | null;
}

export interface GetResponse {
  readonly header: ResponseHeader;
  /** null: no such key. */
  readonly kv: KeyValue | null;
}

export interface RangeResponse {
  readonly header: ResponseHeader;
  readonly kvs: readonly KeyValue[];
  /** More keys match beyond the limit: ask again with startAfter = the last key. */
  readonly more: boolean;
}

export interface DeleteResponse {
  readonly header: ResponseHeader;
  readonly revision: number;
  readonly deleted: number;
  /** Only when prevKv was asked for. */
  readonly prevKvs: readonly KeyValue[];
}

export interface TxnResponse {
  readonly header: ResponseHeader;
  readonly revision: number;
  readonly succeeded: boolean;
  /** One per op of the branch that ran. */
  readonly results: readonly TxnOpResult[];
}

export type LeaseGrantResponse =
  | { readonly header: ResponseHeader; readonly revision: number; readonly granted: true; readonly lease: LeaseInfo }
  /** Held by another holder: `lease` is theirs. */
  | { readonly header: ResponseHeader; readonly revision: number; readonly granted: false; readonly lease: LeaseInfo };

export type LeaseKeepAliveResponse =
  | { readonly header: ResponseHeader; readonly revision: number; readonly renewed: true; readonly lease: LeaseInfo }
  /** Lost: stop acting as the holder at once. `lease` is the current one, null when free. */
  | { readonly header: ResponseHeader; readonly revision: number; readonly renewed: false; readonly lease: LeaseInfo | null };

export interface LeaseReleaseResponse {
  readonly header: ResponseHeader;
  readonly revision: number;
  /** False: not held by this holder at this epoch (`lease` is the current one, null when free). */
  readonly released: boolean;
  readonly lease: LeaseInfo | null;
  /** Keys deleted with the lease. */
  readonly deleted: number;
}

export interface LeaseStatus {
  readonly lease: LeaseInfo;
  /** Time left before the leader's timer expires it; null unless the leader answered. */
  readonly remainingMs: number | null;
}

export interface LeaseListResponse {
  readonly header: ResponseHeader;
  readonly leases: readonly LeaseStatus[];
}

export interface StatusResponse {
  readonly header: ResponseHeader;
  /** The endpoint that answered. */
  readonly endpoint: string;
  /** 'leader', 'follower', 'candidate', 'pre-candidate'. */
  readonly role: string;
  readonly isLearner: boolean;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  /** The member's software version. */
  readonly version: string;
}

export interface MembersResponse {
  readonly header: ResponseHeader;
  readonly members: readonly Member[];
}

export interface TransferLeaderResponse {
  readonly header: ResponseHeader;
}

export interface LeaseGrantRequest {
  readonly name: string;
  readonly holder: string;
  readonly ttlMs: number;
  readonly metadata?: Metadata;
}

export interface LeaseKeepAliveRequest {
  readonly name: string;
  readonly holder: string;
  readonly epoch: number;
  /** Present: replaces the lease's metadata. */
  readonly metadata?: Metadata;
}

export interface LeaseReleaseRequest {
  readonly name: string;
  readonly holder: string;
  readonly epoch: number;
}

/** Options every call takes. */
export interface CallOptions {
  /** The call's deadline, retries included. Default: the client's requestTimeoutMs. */
  readonly timeoutMs?: number;
  /** The deadline of each attempt within the call. Default: the client's attemptTimeoutMs. */
  readonly attemptTimeoutMs?: number;
}

/** Options of a session's mutations. */
export interface MutationOptions extends CallOptions {
  /**
   * Go ahead of the session's queued (not yet sent) mutations; still after the one in flight.
   * Not counted against maxQueuedMutations. The LeaseKeeper's grants and renewals use it so that
   * a backlog of writes cannot starve them.
   */
  readonly priority?: boolean;
}
