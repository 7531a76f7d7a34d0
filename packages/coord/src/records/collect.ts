import type { KeyValue } from '../state/types.js';
import type { ActiveHub, HandoverReady, HandoverRequest, HistoryEntry, HubReport, Paused, ReinitRequest, Rejoin, SyncStandby } from './records.js';
import {
  ACTIVE_HUB_KEY,
  ACTIVE_HUB_LEASE,
  HANDOVER_READY_KEY,
  HANDOVER_REQUEST_KEY,
  HISTORY_PREFIX,
  PAUSED_KEY,
  REINIT_PREFIX,
  REJOIN_PREFIX,
  REPORT_PREFIX,
  SYNC_STANDBY_KEY,
  activeHubSchema,
  handoverReadySchema,
  handoverRequestSchema,
  historyEntrySchema,
  hubReportSchema,
  parseRecord,
  pausedSchema,
  reinitRequestSchema,
  rejoinKey,
  rejoinSchema,
  syncStandbySchema,
} from './records.js';

/** The hubha/* records of one read, each validated; what failed validation is in `problems`. */
export interface HubhaRecords {
  /** With the revision it was published at (a re-publication shows as a new one). */
  readonly active: { readonly record: ActiveHub; readonly modRevision: number } | null;
  readonly sync: SyncStandby | null;
  readonly paused: Paused | null;
  readonly reports: readonly HubReport[];
  readonly history: readonly HistoryEntry[];
  readonly handover: HandoverRequest | null;
  /** The old primary's answer to `handover` (another request's answer is left out). */
  readonly handoverReady: HandoverReady | null;
  readonly reinit: ReadonlyMap<string, ReinitRequest>;
  /** How each promotion's former primary came back (any order). */
  readonly rejoins: readonly Rejoin[];
  readonly problems: readonly string[];
}

/**
 * Sorts the key-values of hubha/ reads (one range, or several pages) into validated records:
 * the one place the agent's view and the admin's status read them, so they cannot disagree on
 * what a record means or when it is invalid.
 */
export class HubhaRecordsCollector {
  private active: HubhaRecords['active'] = null;
  private sync: SyncStandby | null = null;
  private paused: Paused | null = null;
  private readonly reports: HubReport[] = [];
  private readonly history: HistoryEntry[] = [];
  private handover: HandoverRequest | null = null;
  private handoverReady: HandoverReady | null = null;
  private readonly reinit = new Map<string, ReinitRequest>();
  private readonly rejoins: Rejoin[] = [];
  private readonly problems: string[] = [];

  add(kv: KeyValue): void {
    const { key, value } = kv;
    if (key === ACTIVE_HUB_KEY) {
      const parsed = parseRecord(activeHubSchema, key, value);
      if (!parsed.ok) this.problems.push(parsed.error);
      else if (kv.lease === null || kv.lease.name !== ACTIVE_HUB_LEASE || kv.lease.epoch !== parsed.value.epoch) {
        // Published under the lease at its epoch, or not at all: anything else is not the active hub.
        this.problems.push(`${key}: must be attached to lease ${ACTIVE_HUB_LEASE} at epoch ${parsed.value.epoch}`);
      } else this.active = { record: parsed.value, modRevision: kv.modRevision };
    } else if (key === SYNC_STANDBY_KEY) this.keep(parseRecord(syncStandbySchema, key, value), (v) => (this.sync = v));
    else if (key === PAUSED_KEY) this.keep(parseRecord(pausedSchema, key, value), (v) => (this.paused = v));
    else if (key === HANDOVER_REQUEST_KEY) this.keep(parseRecord(handoverRequestSchema, key, value), (v) => (this.handover = v));
    else if (key === HANDOVER_READY_KEY) this.keep(parseRecord(handoverReadySchema, key, value), (v) => (this.handoverReady = v));
    else if (key.startsWith(REPORT_PREFIX)) this.keep(parseRecord(hubReportSchema, key, value), (v) => this.reports.push(v));
    else if (key.startsWith(HISTORY_PREFIX)) this.keep(parseRecord(historyEntrySchema, key, value), (v) => this.history.push(v));
    else if (key.startsWith(REJOIN_PREFIX)) {
      this.keep(parseRecord(rejoinSchema, key, value), (v) => {
        if (key === rejoinKey(v.epoch)) this.rejoins.push(v);
        else this.problems.push(`${key}: names epoch ${v.epoch}`);
      });
    } else if (key.startsWith(REINIT_PREFIX)) {
      this.keep(parseRecord(reinitRequestSchema, key, value), (v) => {
        if (key === `${REINIT_PREFIX}${v.member}`) this.reinit.set(v.member, v);
        else this.problems.push(`${key}: names member ${v.member}`);
      });
    }
  }

  result(): HubhaRecords {
    const ready = this.handoverReady !== null && this.handoverReady.id === this.handover?.id ? this.handoverReady : null;
    return { active: this.active, sync: this.sync, paused: this.paused, reports: this.reports, history: this.history, handover: this.handover, handoverReady: ready, reinit: this.reinit, rejoins: this.rejoins, problems: this.problems };
  }

  private keep<T>(parsed: { ok: true; value: T } | { ok: false; error: string }, use: (value: T) => void): void {
    if (parsed.ok) use(parsed.value);
    else this.problems.push(parsed.error);
  }
}
