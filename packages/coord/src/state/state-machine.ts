/**
 * The coordination store's replicated state machine.
 *
 * PURE and DETERMINISTIC: no I/O, clock or randomness, and no behaviour that depends on Map or
 * object iteration order that a restore could change (every list it emits or encodes is sorted,
 * or ordered by log index). Every replica that applies the same entries from the same starting
 * state (the same bootstrapMembers, or the same snapshot) reaches the same state, and
 * snapshot() of equal states are equal bytes.
 *
 * Semantics (see proto/coord.proto):
 *  - The revision counts the commands that changed the store: a put, a delete that found its key,
 *    a Txn that changed anything, and every change of a lease (grant, re-grant, renewal, release,
 *    expiry) are one revision each, whatever their number of keys. Refusals and no-ops are none.
 *  - Leases are named; the epoch issued at a grant is one more than the last epoch ever issued
 *    for the name (kept after release and expiry): the fencing token.
 *  - Exactly-once per client id: see CoordRequest and the session table (MAX_SESSIONS clients,
 *    least recently used first out, by log index).
 */
import { EntryType, decodeConfChange } from '@hubha/raft';
import { decodeRequestStaged } from './codec.js';
import { CoordUsageError } from './errors.js';
import { Keyspace } from './keyspace.js';
import { MAX_LEASE_NAMES, MAX_RANGE_LIMIT, MAX_SESSIONS } from './limits.js';
import { applyMemberChange, bootstrapTable, sortedMembers } from './members.js';
import type { SessionRecord, StateImage } from './snapshot.js';
import { decodeStateImage, encodeStateImage } from './snapshot.js';
import { compareBytes, compareKeys } from './text.js';
import type {
  ApplyEntry,
  ApplyOutcome,
  BootstrapMember,
  Command,
  CommandResult,
  Compare,
  DeleteResult,
  KeyValue,
  LeaseChange,
  LeaseExpireCommand,
  LeaseGrantCommand,
  LeaseInfo,
  LeaseReleaseCommand,
  LeaseRenewCommand,
  Member,
  PutCommand,
  TxnCommand,
  TxnOp,
  TxnOpResult,
  WatchEvent,
} from './types.js';
import { canonicalMetadata, errorResult } from './validate.js';

export interface CoordStateMachineOptions {
  /**
   * The initial configuration's members and addresses. Every replica that starts from an empty
   * state (rather than a snapshot) must be given the same list — including a member that joins
   * later and replays the log from its first entry — or their member tables differ.
   */
  readonly bootstrapMembers?: readonly BootstrapMember[];
}

/** One command's changes in progress: they all get revision `rev` if any happens. */
interface Batch {
  readonly rev: number;
  changed: boolean;
  readonly events: WatchEvent[];
  readonly leaseChanges: LeaseChange[];
}

const EMPTY = new Uint8Array(0);
const NOTHING: ApplyOutcome = Object.freeze({ result: null, events: Object.freeze([]), leaseChanges: Object.freeze([]) }) as ApplyOutcome;

export class CoordStateMachine {
  private readonly kv = new Keyspace();
  /** Held leases by name. */
  private readonly heldLeases = new Map<string, LeaseInfo>();
  /** The last epoch issued per lease name, forever. */
  private readonly lastEpochs = new Map<string, number>();
  /** Insertion order = ascending lastIndex (least recently used first). */
  private readonly sessions = new Map<string, SessionRecord>();
  private membersById: Map<string, Member>;
  private rev = 0;
  private index = 0;
  private term = 0;

  constructor(options: CoordStateMachineOptions = {}) {
    this.membersById = bootstrapTable(options.bootstrapMembers ?? []);
  }

  // ------------------------------------------------------------------------ reads

  /** The store revision: how many applied commands changed the store. */
  get revision(): number {
    return this.rev;
  }

  /** The index of the last entry applied (or of the snapshot restored). */
  get appliedIndex(): number {
    return this.index;
  }

  /** The term of the last entry applied. */
  get appliedTerm(): number {
    return this.term;
  }

  get keyCount(): number {
    return this.kv.size;
  }

  get(key: string): KeyValue | null {
    return this.kv.get(key);
  }

  /**
   * Key-values starting with `prefix` (empty: all) in UTF-8 byte order, at most `limit` (0,
   * negative or above MAX_RANGE_LIMIT: MAX_RANGE_LIMIT), after `startAfter` when given.
   */
  range(prefix: string, limit: number = MAX_RANGE_LIMIT, startAfter?: string): { readonly kvs: readonly KeyValue[]; readonly more: boolean } {
    const n = Number.isFinite(limit) && limit >= 1 ? Math.min(Math.floor(limit), MAX_RANGE_LIMIT) : MAX_RANGE_LIMIT;
    return this.kv.range(prefix, n, startAfter ?? null);
  }

  lease(name: string): LeaseInfo | null {
    return this.heldLeases.get(name) ?? null;
  }

  /** Held leases whose name starts with `prefix`, in name order. */
  leases(prefix = ''): LeaseInfo[] {
    return [...this.heldLeases.values()].filter((l) => l.name.startsWith(prefix)).sort((a, b) => compareKeys(a.name, b.name));
  }

  /** The last epoch ever issued for `name` (0: never granted). */
  lastEpoch(name: string): number {
    return this.lastEpochs.get(name) ?? 0;
  }

  /** Members in id order. */
  members(): Member[] {
    return sortedMembers(this.membersById);
  }

  /** A client's session: its last applied seq and the log index that last touched it. */
  session(clientId: string): { readonly lastSeq: number; readonly lastIndex: number; readonly lastResult: CommandResult } | null {
    return this.sessions.get(clientId) ?? null;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  // ------------------------------------------------------------------------ apply

  /**
   * Applies one committed entry; entries must come in index order without gaps (a caller bug
   * throws CoordUsageError and changes nothing). Never throws on the entry's content.
   */
  apply(entry: ApplyEntry): ApplyOutcome {
    if (!Number.isSafeInteger(entry.index) || entry.index !== this.index + 1) {
      throw new CoordUsageError(`apply: expected entry ${this.index + 1}, got ${String(entry.index)}`);
    }
    if (!Number.isSafeInteger(entry.term) || entry.term < this.term || entry.term < 1) {
      throw new CoordUsageError(`apply: entry ${entry.index} has term ${String(entry.term)}, below the last applied term ${this.term}`);
    }
    let outcome: ApplyOutcome;
    if (entry.type === EntryType.ConfChange) {
      const change = decodeConfChange(entry.data);
      if (change === null) {
        outcome = { result: errorResult('malformed-entry', `entry ${entry.index}: undecodable membership change`), events: [], leaseChanges: [] };
      } else {
        applyMemberChange(this.membersById, change);
        outcome = NOTHING;
      }
    } else if (entry.type !== EntryType.Normal) {
      outcome = { result: errorResult('malformed-entry', `entry ${entry.index}: unknown entry type ${String(entry.type)}`), events: [], leaseChanges: [] };
    } else if (entry.data.length === 0) {
      outcome = NOTHING;
    } else {
      outcome = this.applyRequest(entry.index, entry.data);
    }
    this.index = entry.index;
    this.term = entry.term;
    return outcome;
  }

  private applyRequest(index: number, data: Uint8Array): ApplyOutcome {
    const decoded = decodeRequestStaged(data);
    if (decoded.stage === 'envelope') return { result: decoded.error, events: [], leaseChanges: [] };
    const { clientId, seq } = decoded.stage === 'ok' ? decoded.request : decoded;
    if (clientId !== '') {
      const session = this.sessions.get(clientId);
      if (session !== undefined && seq === session.lastSeq) {
        // A retry: the same answer, not applied again.
        this.touchSession({ ...session, lastIndex: index });
        return { result: session.lastResult, events: [], leaseChanges: [] };
      }
      if (session !== undefined && seq < session.lastSeq) {
        return { result: errorResult('stale-sequence', `seq ${seq} of client ${JSON.stringify(clientId)} is older than its last applied seq ${session.lastSeq}`), events: [], leaseChanges: [] };
      }
    }
    let outcome: ApplyOutcome;
    if (decoded.stage === 'command') outcome = { result: decoded.error, events: [], leaseChanges: [] };
    else outcome = this.execute(decoded.request.command);
    if (clientId !== '' && outcome.result !== null) this.touchSession({ clientId, lastSeq: seq, lastIndex: index, lastResult: outcome.result });
    return outcome;
  }

  private touchSession(record: SessionRecord): void {
    this.sessions.delete(record.clientId);
    this.sessions.set(record.clientId, record);
    while (this.sessions.size > MAX_SESSIONS) {
      const oldest = this.sessions.keys().next();
      if (oldest.done === true) break;
      this.sessions.delete(oldest.value);
    }
  }

  private begin(): Batch {
    return { rev: this.rev + 1, changed: false, events: [], leaseChanges: [] };
  }

  /** Ends a batch: the revision moves only if something changed. */
  private finish(batch: Batch, result: CommandResult): ApplyOutcome {
    if (batch.changed) this.rev = batch.rev;
    return { result, events: batch.events, leaseChanges: batch.leaseChanges };
  }

  private refuse(result: CommandResult): ApplyOutcome {
    return { result, events: [], leaseChanges: [] };
  }

  private execute(cmd: Command): ApplyOutcome {
    switch (cmd.type) {
      case 'put': {
        const refusal = this.leaseRefusal(cmd, 'put');
        if (refusal !== null) return this.refuse(refusal);
        const batch = this.begin();
        const prev = this.doPut(batch, cmd);
        return this.finish(batch, { type: 'put', revision: batch.rev, prevKv: cmd.prevKv === true ? prev : null });
      }
      case 'delete': {
        const batch = this.begin();
        const prev = this.doDelete(batch, cmd.key);
        return this.finish(batch, this.deleteResult('delete', batch, prev === null ? [] : [prev], cmd.prevKv === true));
      }
      case 'delete-range': {
        const batch = this.begin();
        const prevs: KeyValue[] = [];
        for (const key of this.kv.keysWithPrefix(cmd.prefix)) {
          const prev = this.doDelete(batch, key);
          if (prev !== null) prevs.push(prev);
        }
        return this.finish(batch, this.deleteResult('delete-range', batch, prevs, cmd.prevKv === true));
      }
      case 'txn':
        return this.txn(cmd);
      case 'lease-grant':
        return this.grant(cmd);
      case 'lease-renew':
        return this.renew(cmd);
      case 'lease-release':
        return this.release(cmd);
      case 'lease-expire':
        return this.expire(cmd);
    }
  }

  private deleteResult<T extends 'delete' | 'delete-range'>(type: T, batch: Batch, prevs: KeyValue[], withPrev: boolean): DeleteResult & { type: T } {
    return { type, revision: batch.changed ? batch.rev : this.rev, deleted: prevs.length, prevKvs: withPrev ? prevs : [] };
  }

  /** Why a put may not attach its key to its lease, or null. */
  private leaseRefusal(put: PutCommand, field: string): CommandResult | null {
    if (put.lease === undefined) return null;
    const held = this.heldLeases.get(put.lease.name);
    if (held === undefined) return errorResult('lease-not-held', `${field}.lease: lease ${JSON.stringify(put.lease.name)} is not held`);
    if (held.epoch !== put.lease.epoch) {
      return errorResult('lease-epoch-mismatch', `${field}.lease: lease ${JSON.stringify(put.lease.name)} is held at epoch ${held.epoch}, not ${put.lease.epoch}`);
    }
    return null;
  }

  /** Puts (lease already checked); returns the previous key-value. */
  private doPut(batch: Batch, put: PutCommand): KeyValue | null {
    const prev = this.kv.get(put.key);
    const kv: KeyValue = {
      key: put.key,
      value: put.value,
      createRevision: prev === null ? batch.rev : prev.createRevision,
      modRevision: batch.rev,
      version: prev === null ? 1 : prev.version + 1,
      lease: put.lease === undefined ? null : { name: put.lease.name, epoch: put.lease.epoch },
    };
    this.kv.set(kv);
    batch.changed = true;
    batch.events.push({
      type: 'put',
      key: kv.key,
      value: kv.value,
      ...(prev === null ? {} : { prevValue: prev.value }),
      createRevision: kv.createRevision,
      modRevision: kv.modRevision,
      version: kv.version,
      ...(kv.lease === null ? {} : { lease: kv.lease }),
      revision: batch.rev,
    });
    return prev;
  }

  private doDelete(batch: Batch, key: string): KeyValue | null {
    const prev = this.kv.delete(key);
    if (prev === null) return null;
    batch.changed = true;
    batch.events.push({
      type: 'delete',
      key,
      value: EMPTY,
      prevValue: prev.value,
      createRevision: prev.createRevision,
      modRevision: batch.rev,
      version: 0,
      ...(prev.lease === null ? {} : { lease: prev.lease }),
      revision: batch.rev,
    });
    return prev;
  }

  private holds(c: Compare): boolean {
    const kv = this.kv.get(c.key);
    let order: number;
    switch (c.target) {
      case 'value':
        if (kv === null) return false;
        order = compareBytes(kv.value, c.value);
        break;
      case 'mod-revision':
        order = (kv?.modRevision ?? 0) - c.number;
        break;
      case 'create-revision':
        order = (kv?.createRevision ?? 0) - c.number;
        break;
      case 'version':
        order = (kv?.version ?? 0) - c.number;
        break;
      case 'exists':
        return (kv !== null) === c.exists ? c.op === 'equal' : c.op === 'not-equal';
    }
    switch (c.op) {
      case 'equal':
        return order === 0;
      case 'not-equal':
        return order !== 0;
      case 'greater':
        return order > 0;
      case 'less':
        return order < 0;
    }
  }

  private txn(cmd: TxnCommand): ApplyOutcome {
    const succeeded = cmd.compare.every((c) => this.holds(c));
    const ops: readonly TxnOp[] = succeeded ? cmd.success : cmd.failure;
    const branch = succeeded ? 'success' : 'failure';
    // Leases cannot change within a Txn, so checking them first is checking them in order.
    for (const [i, op] of ops.entries()) {
      if (op.type !== 'put') continue;
      const refusal = this.leaseRefusal(op, `txn.${branch}[${i}].put`);
      if (refusal !== null) return this.refuse(refusal);
    }
    const batch = this.begin();
    const raw: ({ type: 'put'; prev: KeyValue | null; withPrev: boolean } | { type: 'delete'; prev: KeyValue | null; withPrev: boolean } | { type: 'get'; kv: KeyValue | null })[] = [];
    for (const op of ops) {
      switch (op.type) {
        case 'put':
          raw.push({ type: 'put', prev: this.doPut(batch, op), withPrev: op.prevKv === true });
          break;
        case 'delete':
          raw.push({ type: 'delete', prev: this.doDelete(batch, op.key), withPrev: op.prevKv === true });
          break;
        case 'get':
          raw.push({ type: 'get', kv: this.kv.get(op.key) });
          break;
      }
    }
    const revision = batch.changed ? batch.rev : this.rev;
    const results = raw.map((r): TxnOpResult => {
      switch (r.type) {
        case 'put':
          return { type: 'put', revision, prevKv: r.withPrev ? r.prev : null };
        case 'delete':
          return { type: 'delete', revision, deleted: r.prev === null ? 0 : 1, prevKvs: r.withPrev && r.prev !== null ? [r.prev] : [] };
        case 'get':
          return { type: 'get', kv: r.kv };
      }
    });
    return this.finish(batch, { type: 'txn', revision, succeeded, results });
  }

  // ---------------------------------------------------------------------- leases

  private setLease(batch: Batch, lease: LeaseInfo): void {
    this.heldLeases.set(lease.name, lease);
    batch.changed = true;
    batch.leaseChanges.push({ name: lease.name, lease });
  }

  /** Frees a held lease and deletes its keys (with events); returns how many. */
  private freeLease(batch: Batch, lease: LeaseInfo): number {
    let deleted = 0;
    for (const key of this.kv.keysOfLease(lease.name)) if (this.doDelete(batch, key) !== null) deleted++;
    this.heldLeases.delete(lease.name);
    batch.changed = true;
    batch.leaseChanges.push({ name: lease.name, lease: null });
    return deleted;
  }

  private grant(cmd: LeaseGrantCommand): ApplyOutcome {
    const metadata = canonicalMetadata(cmd.metadata, compareKeys);
    const held = this.heldLeases.get(cmd.name);
    if (held !== undefined && held.holder !== cmd.holder) {
      return this.refuse({ type: 'lease-grant', revision: this.rev, granted: false, reason: 'held-by-other', lease: held });
    }
    const batch = this.begin();
    let lease: LeaseInfo;
    if (held !== undefined) {
      // The holder again (e.g. after losing our answer): the same epoch, counted as a renewal.
      lease = { ...held, ttlMs: cmd.ttlMs, metadata, renewCount: held.renewCount + 1 };
    } else {
      const last = this.lastEpochs.get(cmd.name);
      if (last === undefined && this.lastEpochs.size >= MAX_LEASE_NAMES) {
        return this.refuse(errorResult('too-many-leases', `leaseGrant.name: ${MAX_LEASE_NAMES} lease names are in use; ${JSON.stringify(cmd.name)} would be one more`));
      }
      lease = { name: cmd.name, holder: cmd.holder, ttlMs: cmd.ttlMs, metadata, epoch: (last ?? 0) + 1, grantRevision: batch.rev, renewCount: 0 };
      this.lastEpochs.set(cmd.name, lease.epoch);
    }
    this.setLease(batch, lease);
    return this.finish(batch, { type: 'lease-grant', revision: batch.rev, granted: true, lease });
  }

  private matches(name: string, holder: string, epoch: number): LeaseInfo | null {
    const held = this.heldLeases.get(name);
    return held !== undefined && held.holder === holder && held.epoch === epoch ? held : null;
  }

  private renew(cmd: LeaseRenewCommand): ApplyOutcome {
    const held = this.matches(cmd.name, cmd.holder, cmd.epoch);
    if (held === null) {
      return this.refuse({ type: 'lease-renew', revision: this.rev, renewed: false, reason: 'lease-lost', lease: this.heldLeases.get(cmd.name) ?? null });
    }
    const batch = this.begin();
    const lease: LeaseInfo = {
      ...held,
      renewCount: held.renewCount + 1,
      ...(cmd.metadata === undefined ? {} : { metadata: canonicalMetadata(cmd.metadata, compareKeys) }),
    };
    this.setLease(batch, lease);
    return this.finish(batch, { type: 'lease-renew', revision: batch.rev, renewed: true, lease });
  }

  private release(cmd: LeaseReleaseCommand): ApplyOutcome {
    const held = this.matches(cmd.name, cmd.holder, cmd.epoch);
    if (held === null) {
      return this.refuse({ type: 'lease-release', revision: this.rev, released: false, reason: 'lease-lost', lease: this.heldLeases.get(cmd.name) ?? null, deleted: 0 });
    }
    const batch = this.begin();
    const deleted = this.freeLease(batch, held);
    return this.finish(batch, { type: 'lease-release', revision: batch.rev, released: true, lease: held, deleted });
  }

  private expire(cmd: LeaseExpireCommand): ApplyOutcome {
    const held = this.heldLeases.get(cmd.name);
    if (held === undefined || held.epoch !== cmd.epoch || held.renewCount !== cmd.renewCount) {
      return this.refuse({ type: 'lease-expire', revision: this.rev, expired: false, reason: 'stale', lease: held ?? null, deleted: 0 });
    }
    const batch = this.begin();
    const deleted = this.freeLease(batch, held);
    return this.finish(batch, { type: 'lease-expire', revision: batch.rev, expired: true, lease: held, deleted });
  }

  // -------------------------------------------------------------------- snapshots

  /** The whole state as bytes (canonical: equal states give equal bytes). */
  snapshot(): Uint8Array {
    return encodeStateImage(this.image());
  }

  /** The state as values, in canonical order. */
  image(): StateImage {
    return {
      appliedIndex: this.index,
      appliedTerm: this.term,
      revision: this.rev,
      kvs: this.kv.all(),
      leases: this.leases(),
      lastEpochs: [...this.lastEpochs.entries()].sort(([a], [b]) => compareKeys(a, b)),
      sessions: [...this.sessions.values()],
      members: this.members(),
    };
  }

  /** A state machine from snapshot() bytes; throws CoordSnapshotError when they are not valid. */
  static restore(data: Uint8Array): CoordStateMachine {
    const img = decodeStateImage(data);
    const sm = new CoordStateMachine();
    sm.index = img.appliedIndex;
    sm.term = img.appliedTerm;
    sm.rev = img.revision;
    for (const kv of img.kvs) sm.kv.set(kv);
    for (const lease of img.leases) sm.heldLeases.set(lease.name, lease);
    for (const [name, epoch] of img.lastEpochs) sm.lastEpochs.set(name, epoch);
    for (const s of img.sessions) sm.sessions.set(s.clientId, s);
    sm.membersById = new Map(img.members.map((m) => [m.id, m]));
    return sm;
  }
}

