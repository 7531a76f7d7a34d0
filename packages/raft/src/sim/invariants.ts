import type { Entry, NodeId, SnapshotMeta } from '../core/types.js';
import { bytesKey, FNV_OFFSET, showBytes } from './hash.js';
import type { SmState } from './state-machine.js';
import { foldPayload, isAppPayload } from './state-machine.js';

/**
 * The safety checker. It is fed by the simulated nodes as things happen (every persisted entry,
 * every applied entry, every leader) and by the runner after every step (commit indexes), and it
 * keeps whole-run history: term → leader, every (index, term) ever persisted anywhere, and the
 * committed log as observed on any node. The first broken invariant throws a SimViolation,
 * which ends the run.
 */

export type InvariantName =
  | 'election-safety'
  | 'double-vote'
  | 'log-matching'
  | 'leader-completeness'
  | 'state-machine-safety'
  | 'snapshot-state'
  | 'acked-proposal-lost'
  | 'read-index-stale'
  | 'apply-order'
  | 'storage-contract'
  | 'liveness'
  | 'core-exception';

export class SimViolation extends Error {
  constructor(
    readonly invariant: InvariantName,
    readonly detail: string,
  ) {
    super(`${invariant}: ${detail}`);
    this.name = 'SimViolation';
  }
}

/** A log-matching record: what (index, term) held, and the term of the entry before it. */
interface PersistRecord {
  readonly entry: Entry;
  readonly prevTerm: number;
  readonly node: NodeId;
}

export interface Proposal {
  readonly seq: number;
  readonly node: NodeId;
  readonly index: number;
  readonly term: number;
  readonly data: Uint8Array;
}

/** A node's log as the checker needs to see it. */
export interface LogView {
  snapIndex(): number;
  lastIndex(): number;
  term(index: number): number | undefined;
  entry(index: number): Entry | undefined;
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameEntry(a: Entry, b: Entry): boolean {
  return a.index === b.index && a.term === b.term && a.type === b.type && sameBytes(a.data, b.data);
}

function showEntry(e: Entry): string {
  return `(${e.index},t${e.term}${e.type === 0 ? '' : ',conf'} ${showBytes(e.data)})`;
}

export class InvariantChecker {
  /** (voter, term) → the candidate it granted its vote to. */
  private readonly votes = new Map<string, NodeId>();
  /** term → the node that led it. */
  private readonly leaders = new Map<number, NodeId>();
  /** index → term → the first persisted record of (index, term). */
  private readonly persisted: (Map<number, PersistRecord> | undefined)[] = [];
  /** The committed log, as first observed (by an apply or on a node's disk below its commit). */
  private readonly committed: (Entry | undefined)[] = [];
  private committedSource: (string | undefined)[] = [];
  /**
   * For each committed index, the lowest current term of a node that saw it committed: the
   * leader that committed it had a term at most this. Leader completeness binds leaders of
   * later terms only — a leader of an older term may still be elected by stale votes.
   */
  private readonly commitTermBound: (number | undefined)[] = [];
  /** Highest index known committed. */
  private maxCommitted = 0;
  /** Prefix state-machine states over the committed log: smAt[i] = state after applying 1..i. */
  private readonly smAt: { count: number; hash: number }[] = [{ count: 0, hash: FNV_OFFSET }];
  /** Proposals awaiting an outcome, per proposing node: index → proposal. */
  private readonly pending = new Map<NodeId, Map<number, Proposal>>();
  /** Acknowledged proposals by index. */
  private readonly acked = new Map<number, Proposal>();
  private maxAckedIndex = 0;
  /** Read requests: context key → the highest acknowledged write index when the read began. */
  private readonly reads = new Map<string, { node: NodeId; minIndex: number }>();

  readonly counts = { leaders: 0, persistedEntries: 0, applied: 0, acked: 0, readsServed: 0, snapshotsChecked: 0 };

  fail(invariant: InvariantName, detail: string): never {
    throw new SimViolation(invariant, detail);
  }

  // ---- election safety --------------------------------------------------------------------

  /** `node` is leader in `term` (seen in a Ready's soft state or in status()). */
  onLeader(node: NodeId, term: number): boolean {
    const existing = this.leaders.get(term);
    if (existing === undefined) {
      this.leaders.set(term, node);
      this.counts.leaders++;
      return true;
    }
    if (existing !== node) this.fail('election-safety', `term ${term} has two leaders: ${existing} and ${node}`);
    return false;
  }

  /** `voter` granted its vote in `term` to `candidate` (a VoteResp left it). Once per term, ever. */
  onVoteGranted(voter: NodeId, term: number, candidate: NodeId): void {
    const key = `${voter}\u0000${term}`;
    const previous = this.votes.get(key);
    if (previous === undefined) this.votes.set(key, candidate);
    else if (previous !== candidate) this.fail('double-vote', `${voter} granted its term-${term} vote to ${previous} and then to ${candidate}`);
  }

  leaderOf(term: number): NodeId | undefined {
    return this.leaders.get(term);
  }

  // ---- log matching -----------------------------------------------------------------------

  /** `node` durably wrote `entry`, preceded in its log by an entry of term `prevTerm`. */
  onPersist(node: NodeId, entry: Entry, prevTerm: number): void {
    this.counts.persistedEntries++;
    let byTerm = this.persisted[entry.index];
    if (byTerm === undefined) {
      byTerm = new Map();
      this.persisted[entry.index] = byTerm;
    }
    const first = byTerm.get(entry.term);
    if (first === undefined) {
      byTerm.set(entry.term, { entry, prevTerm, node });
      return;
    }
    if (first.entry === entry) {
      if (first.prevTerm !== prevTerm) this.failMatch(node, entry, prevTerm, first);
      return;
    }
    if (first.prevTerm !== prevTerm || !sameEntry(first.entry, entry)) this.failMatch(node, entry, prevTerm, first);
  }

  private failMatch(node: NodeId, entry: Entry, prevTerm: number, first: PersistRecord): never {
    this.fail(
      'log-matching',
      `${node} persisted ${showEntry(entry)} after term ${prevTerm}, but ${first.node} persisted ${showEntry(first.entry)} after term ${first.prevTerm}`,
    );
  }

  // ---- committed log, state machine safety --------------------------------------------------

  /** Records that `entry` is committed (seen by `source`); any disagreement is a violation. */
  private recordCommitted(entry: Entry, source: string, observerTerm: number): void {
    const bound = this.commitTermBound[entry.index];
    if (bound === undefined || observerTerm < bound) this.commitTermBound[entry.index] = observerTerm;
    const known = this.committed[entry.index];
    if (known !== undefined) {
      if (!sameEntry(known, entry)) {
        this.fail(
          'state-machine-safety',
          `index ${entry.index} committed as ${showEntry(known)} (${this.committedSource[entry.index] ?? '?'}) but ${source} has ${showEntry(entry)}`,
        );
      }
      return;
    }
    this.committed[entry.index] = entry;
    this.committedSource[entry.index] = source;
    if (entry.index > this.maxCommitted) this.maxCommitted = entry.index;
    const acked = this.acked.get(entry.index);
    if (acked !== undefined && (acked.term !== entry.term || !sameBytes(acked.data, entry.data))) {
      this.fail('acked-proposal-lost', `acknowledged p${acked.seq} at ${acked.index} (term ${acked.term}), but ${source} committed ${showEntry(entry)}`);
    }
  }

  /** A node's commit index reached `commit`: everything on its log up to there is committed. */
  observeCommit(node: NodeId, commit: number, log: LogView, fromIndex: number, observerTerm: number): void {
    const start = Math.max(fromIndex, log.snapIndex() + 1);
    const end = Math.min(commit, log.lastIndex());
    if (commit > log.lastIndex()) this.fail('storage-contract', `${node} hard state commit ${commit} beyond its last stored index ${log.lastIndex()}`);
    for (let i = start; i <= end; i++) this.recordCommitted(log.entry(i)!, `${node} commit ${commit}`, observerTerm);
  }

  /** `node` applied `entry` (the node checks the order). */
  onApply(node: NodeId, entry: Entry, observerTerm: number): void {
    this.counts.applied++;
    this.recordCommitted(entry, `${node} applied`, observerTerm);
    const mine = this.pending.get(node);
    const proposal = mine?.get(entry.index);
    if (proposal !== undefined) {
      mine!.delete(entry.index);
      if (proposal.term === entry.term && sameBytes(proposal.data, entry.data)) {
        this.acked.set(entry.index, proposal);
        if (entry.index > this.maxAckedIndex) this.maxAckedIndex = entry.index;
        this.counts.acked++;
      }
    }
  }

  highestCommitted(): number {
    return this.maxCommitted;
  }

  committedEntry(index: number): Entry | undefined {
    return this.committed[index];
  }

  /** State-machine state after applying the committed log up to `index`, if all of it is known. */
  stateAt(index: number): { count: number; hash: number } | undefined {
    while (this.smAt.length <= index) {
      const i = this.smAt.length;
      const entry = this.committed[i];
      if (entry === undefined) return undefined;
      const prev = this.smAt[i - 1]!;
      this.smAt.push(isAppPayload(entry) ? foldPayload(prev, entry.data) : prev);
    }
    return this.smAt[index];
  }

  /** A snapshot (created, received or restored) must hold exactly the history's state. */
  checkSnapshot(node: NodeId, what: string, meta: SnapshotMeta, state: SmState | null): void {
    this.counts.snapshotsChecked++;
    if (state === null) this.fail('snapshot-state', `${node} ${what} snapshot at ${meta.index} has undecodable data`);
    if (meta.index === 0) {
      if (state.count !== 0 || state.hash !== FNV_OFFSET) this.fail('snapshot-state', `${node} ${what} bootstrap snapshot is not empty`);
      return;
    }
    if (state.index !== meta.index) this.fail('snapshot-state', `${node} ${what} snapshot at ${meta.index} holds state as of ${state.index}`);
    const committed = this.committed[meta.index];
    if (committed !== undefined && committed.term !== meta.term) {
      this.fail('snapshot-state', `${node} ${what} snapshot (${meta.index},t${meta.term}) but index ${meta.index} was committed in term ${committed.term}`);
    }
    const expected = this.stateAt(meta.index);
    if (expected === undefined) this.fail('snapshot-state', `${node} ${what} snapshot at ${meta.index} is beyond the known committed history`);
    if (expected.count !== state.count || expected.hash !== state.hash) {
      this.fail('snapshot-state', `${node} ${what} snapshot at ${meta.index}: count=${state.count} hash=${state.hash.toString(16)}, history says count=${expected.count} hash=${expected.hash.toString(16)}`);
    }
  }

  /** A live state machine must equal the history's state at its applied index. */
  checkStateMachine(node: NodeId, state: SmState): void {
    const expected = this.stateAt(state.index);
    if (expected === undefined) this.fail('state-machine-safety', `${node} applied up to ${state.index}, beyond the known committed history`);
    if (expected.count !== state.count || expected.hash !== state.hash) {
      this.fail('state-machine-safety', `${node} state at ${state.index}: count=${state.count}, history says count=${expected.count} (hashes ${state.hash.toString(16)} vs ${expected.hash.toString(16)})`);
    }
  }

  // ---- leader completeness ------------------------------------------------------------------

  /** A new leader's log must hold every entry committed in an earlier term (Raft §5.4). */
  checkLeaderCompleteness(node: NodeId, term: number, log: LogView): void {
    for (let i = log.snapIndex() + 1; i <= this.maxCommitted; i++) {
      const committed = this.committed[i];
      if (committed === undefined) continue;
      // Committed by a leader of a term >= ours (or not known to be earlier): not binding.
      if ((this.commitTermBound[i] ?? Number.MAX_SAFE_INTEGER) >= term) continue;
      const has = log.term(i);
      if (has !== committed.term) {
        this.fail(
          'leader-completeness',
          `${node} became leader of term ${term} with ${has === undefined ? `no entry at ${i}` : `term ${has} at ${i}`}, but ${showEntry(committed)} is committed (${this.committedSource[i] ?? '?'}); its last index is ${log.lastIndex()}`,
        );
      }
    }
  }

  // ---- proposals ----------------------------------------------------------------------------

  onPropose(proposal: Proposal): void {
    let mine = this.pending.get(proposal.node);
    if (mine === undefined) {
      mine = new Map();
      this.pending.set(proposal.node, mine);
    }
    mine.set(proposal.index, proposal);
  }

  /** The node crashed: its clients never hear back. */
  abandonProposals(node: NodeId): void {
    this.pending.delete(node);
  }

  ackedCount(): number {
    return this.acked.size;
  }

  /** Every acknowledged write must still be at its index on every log that covers it. */
  checkAckedOn(node: NodeId, log: LogView, commit: number): void {
    for (const proposal of this.acked.values()) {
      if (proposal.index <= log.snapIndex() || proposal.index > Math.min(commit, log.lastIndex())) continue;
      const entry = log.entry(proposal.index)!;
      if (entry.term !== proposal.term || !sameBytes(entry.data, proposal.data)) {
        this.fail('acked-proposal-lost', `acknowledged p${proposal.seq} at ${proposal.index} (term ${proposal.term}), but ${node} has ${showEntry(entry)} there below its commit ${commit}`);
      }
    }
  }

  /** Every acknowledged write is in the committed history. */
  checkAckedInHistory(): void {
    for (const proposal of this.acked.values()) {
      const entry = this.committed[proposal.index];
      if (entry === undefined || entry.term !== proposal.term || !sameBytes(entry.data, proposal.data)) {
        this.fail('acked-proposal-lost', `acknowledged p${proposal.seq} at ${proposal.index} is not in the committed history`);
      }
    }
  }

  // ---- reads --------------------------------------------------------------------------------

  onReadRequest(node: NodeId, context: Uint8Array): void {
    this.reads.set(bytesKey(context), { node, minIndex: this.maxAckedIndex });
  }

  /** A read state came out: its index must cover every write acknowledged before the read began. */
  onReadState(node: NodeId, context: Uint8Array, index: number): void {
    const key = bytesKey(context);
    const request = this.reads.get(key);
    if (request === undefined) return;
    this.counts.readsServed++;
    if (request.node !== node) this.fail('read-index-stale', `${node} got read state ${showBytes(context)} requested by ${request.node}`);
    if (index < request.minIndex) {
      this.fail('read-index-stale', `${node} read ${showBytes(context)} served at index ${index}, but a write acknowledged before it began is at ${request.minIndex}`);
    }
    this.reads.delete(key);
  }
}
