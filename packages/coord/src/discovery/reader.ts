import type { ReadOutcome } from '@hubha/raft';
import type { Logger } from 'pino';
import { ACTIVE_HUB_KEY, ACTIVE_HUB_LEASE, activeHubSchema, parseRecord } from '../records/records.js';
import type { KeyValue } from '../state/types.js';
import type { ActiveHubAnswer } from './answer.js';

/** What the reader needs of a member (CoordNode has it; tests pass fakes). */
export interface DiscoveryHost {
  readonly id: string;
  readonly state: { get(key: string): KeyValue | null; readonly revision: number };
  readonly raft: {
    readBarrier(timeoutMs?: number): Promise<ReadOutcome>;
    status(): { readonly applied: number; readonly failed: string | null };
  };
}

/** The member cannot answer at all (HTTP 503, gRPC UNAVAILABLE). */
export class DiscoveryUnavailableError extends Error {
  override readonly name = 'DiscoveryUnavailableError';
  constructor(
    /** 'closed' | 'failed' | 'nothing-applied' */
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ActiveHubReaderOptions {
  /**
   * How long a linearizable read waits for its read barrier before answering serializable
   * instead (default 1000 ms). Without a leader the barrier fails at once.
   */
  readonly barrierTimeoutMs?: number;
}

export const DEFAULT_BARRIER_TIMEOUT_MS = 1_000;

/**
 * Reads `hubha/active-hub` from this member's state machine: after a read barrier (ReadIndex,
 * served by followers too) unless serializable is asked for or the barrier cannot complete (no
 * leader, no quorum, timeout) — the answer then comes from the applied state and says
 * `linearizable: false`.
 *
 * The record must validate (activeHubSchema) and be attached to the `active-hub` lease at the
 * record's own epoch; anything else is answered as absent and logged (once per record version).
 */
export class ActiveHubReader {
  private readonly barrierTimeoutMs: number;
  private lastReported = -1;

  constructor(
    private readonly host: DiscoveryHost,
    private readonly logger: Logger,
    options: ActiveHubReaderOptions = {},
  ) {
    this.barrierTimeoutMs = options.barrierTimeoutMs ?? DEFAULT_BARRIER_TIMEOUT_MS;
  }

  async read(options: { readonly serializable?: boolean } = {}): Promise<ActiveHubAnswer> {
    this.checkServing();
    if (options.serializable !== true) {
      const outcome = await this.host.raft.readBarrier(this.barrierTimeoutMs);
      if (outcome.ok) return this.current(true);
      if (outcome.reason === 'closed') throw new DiscoveryUnavailableError('closed', 'the member is shutting down');
      this.logger.debug({ reason: outcome.reason, leader: outcome.leader || null }, 'active hub: read barrier failed, answering serializable');
    }
    this.checkServing();
    return this.current(false);
  }

  /** The answer from the applied state as it is now (no barrier). */
  current(linearizable: boolean): ActiveHubAnswer {
    const revision = this.host.state.revision;
    const meta = { revision, servedBy: this.host.id, linearizable };
    const kv = this.host.state.get(ACTIVE_HUB_KEY);
    if (kv === null) return { present: false, ...meta };
    const parsed = parseRecord(activeHubSchema, ACTIVE_HUB_KEY, kv.value);
    if (!parsed.ok) {
      this.reportBad(kv, parsed.error);
      return { present: false, ...meta };
    }
    const record = parsed.value;
    if (kv.lease === null || kv.lease.name !== ACTIVE_HUB_LEASE || kv.lease.epoch !== record.epoch) {
      const attached = kv.lease === null ? 'no lease' : `lease ${kv.lease.name} at epoch ${kv.lease.epoch}`;
      this.reportBad(kv, `${ACTIVE_HUB_KEY}: must be attached to lease ${ACTIVE_HUB_LEASE} at epoch ${record.epoch} (the record's), is attached to ${attached}`);
      return { present: false, ...meta };
    }
    return { present: true, ...record, modRevision: kv.modRevision, ...meta };
  }

  private checkServing(): void {
    const status = this.host.raft.status();
    if (status.failed !== null) throw new DiscoveryUnavailableError('failed', 'the member has stopped after a fault');
    // A member that has applied nothing knows nothing: "absent" would be a guess.
    if (status.applied === 0) throw new DiscoveryUnavailableError('nothing-applied', 'the member has not applied any of the log yet');
  }

  private reportBad(kv: KeyValue, error: string): void {
    if (kv.modRevision === this.lastReported) return;
    this.lastReported = kv.modRevision;
    this.logger.warn({ key: kv.key, modRevision: kv.modRevision, error }, 'active hub record is invalid: answering "no active hub"');
  }
}
