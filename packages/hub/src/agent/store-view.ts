import type { Logger } from 'pino';
import type { ActiveHub, CoordSession, HandoverReady, HandoverRequest, HistoryEntry, HubReport, LeaseInfo, Paused, ReinitRequest, SyncStandby } from '@hubha/coord';
import { ACTIVE_HUB_LEASE, HubhaRecordsCollector } from '@hubha/coord';

/** What the agent knows of the cluster from one linearizable read of the store. */
export interface StoreView {
  readonly lease: LeaseInfo | null;
  readonly active: ActiveHub | null;
  readonly sync: SyncStandby | null;
  readonly paused: Paused | null;
  readonly reports: ReadonlyMap<string, HubReport>;
  /** The latest history entry (the last promotion), null when the cluster never had a primary. */
  readonly lastPromotion: HistoryEntry | null;
  /** A live switchover or manual failover request (its lease window has not ended). */
  readonly handover: HandoverRequest | null;
  /** The old primary's answer to that request (same id), when it has given one. */
  readonly handoverReady: HandoverReady | null;
  /** Re-clone requests, by member. */
  readonly reinit: ReadonlyMap<string, ReinitRequest>;
  /** Records that failed validation (reported, then ignored). */
  readonly problems: readonly string[];
}

/** At most this many records are read under hubha/ (reports, history, …) per loop. */
const MAX_RECORDS = 1000;

/** Reads everything the failover decision needs; null when the store cannot answer (no quorum). */
export async function readStoreView(session: CoordSession, logger: Logger, timeoutMs: number): Promise<StoreView | null> {
  try {
    const [leases, read] = await Promise.all([session.leaseList(ACTIVE_HUB_LEASE, { timeoutMs }), session.range('hubha/', { limit: MAX_RECORDS, timeoutMs })]);
    const lease = leases.leases.find((l) => l.lease.name === ACTIVE_HUB_LEASE)?.lease ?? null;
    const collector = new HubhaRecordsCollector();
    for (const kv of read.kvs) collector.add(kv);
    const records = collector.result();
    for (const problem of records.problems) logger.warn({ problem }, 'invalid record in the store (ignored)');
    let lastPromotion: HistoryEntry | null = null;
    for (const entry of records.history) if (lastPromotion === null || entry.epoch > lastPromotion.epoch) lastPromotion = entry;
    return {
      lease,
      active: records.active?.record ?? null,
      sync: records.sync,
      // A record saying paused: false is the same as none.
      paused: records.paused?.paused === true ? records.paused : null,
      reports: new Map(records.reports.map((r) => [r.name, r])),
      lastPromotion,
      handover: records.handover,
      handoverReady: records.handoverReady,
      reinit: records.reinit,
      problems: records.problems,
    };
  } catch (err) {
    logger.debug({ err: err instanceof Error ? err.message : String(err) }, 'store not readable this loop');
    return null;
  }
}
