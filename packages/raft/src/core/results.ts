import type { NodeId } from './types.js';

/** Expected refusals are values, not exceptions: the caller decides (redirect, retry, report). */
export type Refusal<R extends string> = { readonly ok: false; readonly reason: R; readonly leader: NodeId };

export type ProposeResult =
  | { readonly ok: true; readonly index: number; readonly term: number }
  | Refusal<'not-leader' | 'transferring-leadership' | 'too-many-uncommitted-bytes'>;

export type ConfChangeResult =
  | { readonly ok: true; readonly index: number; readonly term: number }
  | Refusal<
      | 'not-leader'
      | 'transferring-leadership'
      | 'conf-change-pending'
      | 'no-commit-in-current-term'
      | 'already-member'
      | 'not-a-learner'
      | 'not-a-member'
      | 'cannot-remove-leader'
      | 'learner-not-caught-up'
      | 'invalid-node-id'
      | 'invalid-context'
    >;

export type TransferResult =
  | { readonly ok: true }
  | Refusal<'not-leader' | 'already-leader' | 'not-a-voter' | 'target-not-recently-active' | 'transfer-in-progress'>;

export type ReadIndexResult = { readonly ok: true } | Refusal<'no-leader'>;

export type CampaignResult = { readonly ok: true } | Refusal<'not-a-voter' | 'campaign-disabled' | 'already-leader'>;

/** Broken core invariants. Never caught: an assertion failure is a bug. */
export class RaftInvariantError extends Error {
  readonly code = 'RAFT_INVARIANT_VIOLATED';
  constructor(message: string) {
    super(message);
    this.name = 'RaftInvariantError';
  }
}

/** Misuse of the core's API (e.g. input between ready() and advance()). */
export class RaftUsageError extends Error {
  readonly code = 'RAFT_USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'RaftUsageError';
  }
}

export function invariant(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new RaftInvariantError(message());
}
