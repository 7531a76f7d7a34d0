import type { ActiveHub, HistoryEntry, Paused, SyncStandby } from '../records/records.js';
import type { ClusterStatus } from '../status/model.js';
import type { AdminEvent, RecordsRead } from './admin-service.js';

/**
 * The events of WatchEvents, pure: what changed between two reads of the hubha/* records. The
 * stream re-reads the records whenever something under hubha/ (or the active-hub lease) changes
 * as this member applies it, and sends the differences. Intermediate states between two reads may
 * be merged, never invented; a snapshot that replaced the state shows as the differences too.
 */

interface HubSummary {
  readonly role: string;
  readonly streaming: boolean;
  readonly up: boolean;
}

export interface RecordsSummary {
  readonly revision: number;
  readonly lease: { readonly holder: string; readonly epoch: number } | null;
  readonly active: ActiveHub | null;
  readonly activeModRevision: number;
  readonly sync: SyncStandby | null;
  readonly paused: Paused | null;
  readonly history: ReadonlyMap<number, HistoryEntry>;
  readonly hubs: ReadonlyMap<string, HubSummary>;
  readonly problems: ReadonlySet<string>;
}

export function summarize(read: RecordsRead): RecordsSummary {
  const r = read.records;
  return {
    revision: read.revision,
    lease: r.lease === null ? null : { holder: r.lease.holder, epoch: r.lease.epoch },
    active: r.active,
    activeModRevision: read.activeModRevision,
    sync: r.sync,
    paused: r.paused,
    history: new Map(r.history.map((h) => [h.epoch, h])),
    hubs: new Map(r.reports.map((rep) => [rep.name, { role: rep.role, streaming: rep.postgres.streaming, up: rep.postgres.up }])),
    problems: new Set(r.problems),
  };
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The first event of a stream: where it starts and what it starts from. */
export function watchingEvent(servedBy: string, s: RecordsSummary, at: string): AdminEvent {
  const active = s.active === null ? 'no active hub' : `active hub ${s.active.name} (epoch ${s.active.epoch})`;
  const paused = s.paused?.paused === true ? `, paused by ${s.paused.by}` : '';
  return { type: 'watching', member: servedBy, message: `watching hubha/* on ${servedBy} from revision ${s.revision}: ${active}${paused}`, at, revision: s.revision, recordJson: null };
}

/** The events that turn `before` into `after`, in a fixed order. */
export function diffSummaries(before: RecordsSummary, after: RecordsSummary, at: string): AdminEvent[] {
  const events: AdminEvent[] = [];
  const revision = after.revision;
  const push = (type: string, member: string | null, message: string, record: unknown): void =>
    void events.push({ type, member, message, at, revision, recordJson: record === null || record === undefined ? null : JSON.stringify(record) });

  if (!same(before.lease, after.lease)) {
    if (after.lease !== null) push('lease-granted', after.lease.holder, `${after.lease.holder} was granted the active-hub lease at epoch ${after.lease.epoch}`, after.lease);
    else if (before.lease !== null) push('lease-freed', before.lease.holder, `the active-hub lease is free (${before.lease.holder}'s epoch ${before.lease.epoch} ended)`, null);
  }
  if (before.activeModRevision !== after.activeModRevision || !same(before.active, after.active)) {
    if (after.active !== null) push('active-hub', after.active.name, `${after.active.name} is the active hub (epoch ${after.active.epoch}, PostgreSQL at ${after.active.address}${after.active.vip === null ? '' : `, VIP ${after.active.vip}`})`, after.active);
    else if (before.active !== null) push('active-hub-gone', before.active.name, `no active hub: ${before.active.name}'s record (epoch ${before.active.epoch}) is gone with its lease`, null);
  }
  const epochs = [...after.history.keys()].filter((e) => !before.history.has(e)).sort((a, b) => a - b);
  for (const epoch of epochs) {
    const h = after.history.get(epoch)!;
    const loss = h.dataLossBytes === null ? 'data loss bound unknown' : `data loss bound ${h.dataLossBytes} bytes`;
    push('promotion', h.to, `${h.kind}: ${h.to} became the active hub at epoch ${h.epoch}${h.from === null ? '' : ` after ${h.from}`} (${h.reason}; ${loss})`, h);
  }
  if (!same(before.sync, after.sync) && after.sync !== null) {
    const s = after.sync;
    push('sync-standby', s.standby, s.standby === null ? `${s.primary} (epoch ${s.epoch}) has no synchronous standby: it replicates asynchronously` : `${s.standby} is the synchronous standby of ${s.primary} (epoch ${s.epoch})`, s);
  }
  const wasPaused = before.paused?.paused === true;
  const isPaused = after.paused?.paused === true;
  if (wasPaused !== isPaused) {
    const p = after.paused;
    const why = p === null || p.reason === '' ? '' : `: ${p.reason}`;
    if (isPaused) push('paused', null, `the cluster was paused by ${p!.by}${why} (no automatic failover)`, p);
    else push('resumed', null, `the cluster was resumed${p === null ? '' : ` by ${p.by}`}${why}`, p);
  }
  const names = [...new Set([...before.hubs.keys(), ...after.hubs.keys()])].sort();
  for (const name of names) {
    const was = before.hubs.get(name);
    const now = after.hubs.get(name);
    if (now === undefined) continue;
    if (was === undefined) push('hub-role', name, `${name} reports for the first time: role ${now.role}`, now);
    else if (was.role !== now.role) push('hub-role', name, `${name} reports the role ${now.role} (was ${was.role})`, now);
    if (now.role === 'standby' && (was === undefined || was.streaming !== now.streaming || was.role !== 'standby')) {
      push(now.streaming ? 'standby-streaming' : 'standby-not-streaming', name, now.streaming ? `${name} streams WAL from the primary` : `${name} does not stream WAL from the primary`, now);
    }
  }
  for (const problem of after.problems) if (!before.problems.has(problem)) push('invalid-record', null, `invalid record in the store (ignored): ${problem}`, null);
  return events;
}

/** An ha-state event when the HA state changes (from the status monitor). */
export function haStateEvent(before: ClusterStatus['state'] | null, status: ClusterStatus): AdminEvent | null {
  if (before === status.state) return null;
  const reasons = status.reasons.map((r) => r.code).join(', ');
  return {
    type: 'ha-state',
    member: null,
    message: `the HA state is ${status.state}${before === null ? '' : ` (was ${before})`}${reasons === '' ? '' : `: ${reasons}`}`,
    at: status.at,
    revision: status.revision,
    recordJson: JSON.stringify({ state: status.state, reasons: status.reasons.map((r) => ({ code: r.code, member: r.member, message: r.message, since: r.since })) }),
  };
}
