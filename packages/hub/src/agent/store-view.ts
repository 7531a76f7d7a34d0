import type { Logger } from 'pino';
import type { CoordSession, HistoryEntry, HubReport, LeaseInfo, SyncStandby, ActiveHub, Paused, HandoverReady, HandoverRequest, ReinitRequest } from '@hubha/coord';
import {
  ACTIVE_HUB_KEY,
  HANDOVER_READY_KEY,
  HANDOVER_REQUEST_KEY,
  REINIT_PREFIX,
  handoverReadySchema,
  handoverRequestSchema,
  reinitRequestSchema,
  ACTIVE_HUB_LEASE,
  HISTORY_PREFIX,
  PAUSED_KEY,
  REPORT_PREFIX,
  SYNC_STANDBY_KEY,
  activeHubSchema,
  historyEntrySchema,
  hubReportSchema,
  parseRecord,
  pausedSchema,
  syncStandbySchema,
} from '@hubha/coord';

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
    const [leases, records] = await Promise.all([session.leaseList(ACTIVE_HUB_LEASE, { timeoutMs }), session.range('hubha/', { limit: MAX_RECORDS, timeoutMs })]);
    const lease = leases.leases.find((l) => l.lease.name === ACTIVE_HUB_LEASE)?.lease ?? null;
    let active: ActiveHub | null = null;
    let sync: SyncStandby | null = null;
    let paused: Paused | null = null;
    let lastPromotion: HistoryEntry | null = null;
    let handover: HandoverRequest | null = null;
    let handoverReady: HandoverReady | null = null;
    const reinit = new Map<string, ReinitRequest>();
    const reports = new Map<string, HubReport>();
    const problems: string[] = [];
    for (const kv of records.kvs) {
      if (kv.key === ACTIVE_HUB_KEY) {
        const parsed = parseRecord(activeHubSchema, kv.key, kv.value);
        if (parsed.ok) active = parsed.value;
        else problems.push(parsed.error);
      } else if (kv.key === SYNC_STANDBY_KEY) {
        const parsed = parseRecord(syncStandbySchema, kv.key, kv.value);
        if (parsed.ok) sync = parsed.value;
        else problems.push(parsed.error);
      } else if (kv.key === PAUSED_KEY) {
        const parsed = parseRecord(pausedSchema, kv.key, kv.value);
        if (parsed.ok) paused = parsed.value.paused ? parsed.value : null;
        else problems.push(parsed.error);
      } else if (kv.key.startsWith(REPORT_PREFIX)) {
        const parsed = parseRecord(hubReportSchema, kv.key, kv.value);
        if (parsed.ok) reports.set(parsed.value.name, parsed.value);
        else problems.push(parsed.error);
      } else if (kv.key === HANDOVER_REQUEST_KEY) {
        const parsed = parseRecord(handoverRequestSchema, kv.key, kv.value);
        if (parsed.ok) handover = parsed.value;
        else problems.push(parsed.error);
      } else if (kv.key === HANDOVER_READY_KEY) {
        const parsed = parseRecord(handoverReadySchema, kv.key, kv.value);
        if (parsed.ok) handoverReady = parsed.value;
        else problems.push(parsed.error);
      } else if (kv.key.startsWith(REINIT_PREFIX)) {
        const parsed = parseRecord(reinitRequestSchema, kv.key, kv.value);
        if (parsed.ok && kv.key === `${REINIT_PREFIX}${parsed.value.member}`) reinit.set(parsed.value.member, parsed.value);
        else problems.push(parsed.ok ? `${kv.key}: names member ${parsed.value.member}` : parsed.error);
      } else if (kv.key.startsWith(HISTORY_PREFIX)) {
        const parsed = parseRecord(historyEntrySchema, kv.key, kv.value);
        if (parsed.ok) {
          if (lastPromotion === null || parsed.value.epoch > lastPromotion.epoch) lastPromotion = parsed.value;
        } else problems.push(parsed.error);
      }
    }
    for (const problem of problems) logger.warn({ problem }, 'invalid record in the store (ignored)');
    // An answer to another request (a stale one, or one whose request just ended) is no answer.
    if (handoverReady !== null && handoverReady.id !== handover?.id) handoverReady = null;
    return { lease, active, sync, paused, reports, lastPromotion, handover, handoverReady, reinit, problems };
  } catch (err) {
    logger.debug({ err: err instanceof Error ? err.message : String(err) }, 'store not readable this loop');
    return null;
  }
}
