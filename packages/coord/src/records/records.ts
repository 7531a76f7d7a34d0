import { z } from 'zod';

/**
 * The records hubha keeps in the coordination store, and their keys. Every reader validates what
 * it reads with these schemas: a record written by another version or damaged is reported, never
 * trusted blindly.
 */

export const KEY_PREFIX = 'hubha/';
/** The name of the lease whose holder is the active hub. */
export const ACTIVE_HUB_LEASE = 'active-hub';
/** Published by the active hub after promotion, attached to the lease at its epoch. */
export const ACTIVE_HUB_KEY = 'hubha/active-hub';
export const REPORT_PREFIX = 'hubha/reports/';
export const SYNC_STANDBY_KEY = 'hubha/sync-standby';
export const HISTORY_PREFIX = 'hubha/history/';
export const PAUSED_KEY = 'hubha/paused';

export const reportKey = (hub: string): string => `${REPORT_PREFIX}${hub}`;
/** Keys of per-epoch records sort by epoch (zero-padded) so a range read is the timeline. */
const epochSuffix = (epoch: number): string => String(epoch).padStart(12, '0');
export const historyKey = (epoch: number): string => `${HISTORY_PREFIX}${epochSuffix(epoch)}`;

const isoTime = z.string().datetime({ offset: true });
const hostPort = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/);
const lsn = z.string().regex(/^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/i);

/** Where clients find the writable PostgreSQL. */
export const activeHubSchema = z.strictObject({
  name: z.string().min(1),
  /** PostgreSQL's "host:port" on the active hub. */
  address: hostPort,
  /** The virtual IP (address/prefix), when one is configured. */
  vip: z.string().nullable(),
  /** The fencing epoch of the lease under which it was promoted. */
  epoch: z.number().int().positive(),
  /** When it became active (wall clock of the promoting hub). */
  since: isoTime,
});
export type ActiveHub = z.infer<typeof activeHubSchema>;

export const standbyReplicationSchema = z.strictObject({
  name: z.string(),
  state: z.string(),
  syncState: z.string(),
  flushLsn: lsn.nullable(),
  replayLsn: lsn.nullable(),
  lagBytes: z.number().int().nonnegative().nullable(),
  replayLagMs: z.number().nonnegative().nullable(),
});

/** What each hub reports about itself every loop (the failover decision reads these). */
export const hubReportSchema = z.strictObject({
  name: z.string().min(1),
  at: isoTime,
  /** The report loop's sequence number (a stuck loop shows as an old `at`). */
  seq: z.number().int().nonnegative(),
  role: z.enum(['primary', 'standby', 'stopped', 'unknown']),
  /** The epoch of the lease this hub acts under (primary), else null. */
  epoch: z.number().int().positive().nullable(),
  postgres: z.strictObject({
    up: z.boolean(),
    inRecovery: z.boolean().nullable(),
    timeline: z.number().int().positive().nullable(),
    systemId: z.string().nullable(),
    /** Primary: pg_current_wal_lsn; standby: last received. */
    lsn: lsn.nullable(),
    replayLsn: lsn.nullable(),
    /** Standby: streaming from the primary right now. */
    streaming: z.boolean(),
    address: hostPort,
  }),
  /** Primary: its standbys as pg_stat_replication shows them. */
  standbys: z.array(standbyReplicationSchema),
  tags: z.strictObject({ nofailover: z.boolean(), priority: z.number().int() }),
  /** Whether the VIP is on this host, as the hub last saw it. */
  vipHeld: z.boolean().nullable(),
  /** The last hook run, if it failed. */
  lastHookFailure: z.string().nullable(),
});
export type HubReport = z.infer<typeof hubReportSchema>;

/**
 * Which standby is synchronous. The primary writes this BEFORE weakening replication (dropping a
 * standby from synchronous_standby_names) and AFTER strengthening it, so a standby named here is
 * always one that had every acknowledged commit — the only one promotable without an operator.
 */
export const syncStandbySchema = z.strictObject({
  primary: z.string().min(1),
  /** null: replication is asynchronous right now (no standby may take over automatically unless within lag). */
  standby: z.string().min(1).nullable(),
  epoch: z.number().int().positive(),
  at: isoTime,
});
export type SyncStandby = z.infer<typeof syncStandbySchema>;

export const historyEntrySchema = z.strictObject({
  epoch: z.number().int().positive(),
  at: isoTime,
  kind: z.enum(['bootstrap', 'failover', 'switchover', 'manual-failover']),
  from: z.string().nullable(),
  to: z.string().min(1),
  reason: z.string(),
  /** Upper bound of data that may have been lost (bytes), 0 in synchronous mode. */
  dataLossBytes: z.number().int().nonnegative().nullable(),
});
export type HistoryEntry = z.infer<typeof historyEntrySchema>;

export const pausedSchema = z.strictObject({ paused: z.boolean(), by: z.string(), at: isoTime, reason: z.string() });
export type Paused = z.infer<typeof pausedSchema>;

export type RecordParse<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

/** Parses a stored record; a bad one is an error value naming the key and the problem. */
export function parseRecord<T>(schema: z.ZodType<T>, key: string, bytes: Uint8Array): RecordParse<T> {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    return { ok: false, error: `${key}: not JSON (${err instanceof Error ? err.message : String(err)})` };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) return { ok: false, error: `${key}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(record)'}: ${i.message}`).join('; ')}` };
  return { ok: true, value: parsed.data };
}

export function encodeRecord<T>(value: T): Uint8Array {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

// ---------------------------------------------------------------- planned and manual handovers

/**
 * A switchover or manual failover is asked for by writing HANDOVER_REQUEST_KEY attached to the
 * HANDOVER_LEASE (granted by the admin service for the handover's window, never renewed): when
 * the window ends the store deletes the request and whatever the old primary wrote for it, so a
 * crashed participant cannot leave a reservation behind. While a request is live only its target
 * may take the active-hub lease (and, for a switchover, the old primary when the target does not
 * come within the abort time).
 */
export const HANDOVER_LEASE = 'handover';
export const HANDOVER_PREFIX = 'hubha/handover/';
export const HANDOVER_REQUEST_KEY = 'hubha/handover/request';
/** Written by the old primary after its clean shutdown (switchover) or its refusal. */
export const HANDOVER_READY_KEY = 'hubha/handover/ready';
/** The handover lease's holder for request `id` (the new primary ends the reservation with it). */
export const handoverLeaseHolder = (id: string): string => `admin:${id}`;
/** A standby asked to re-clone itself: hubha/reinit/<member>. */
export const REINIT_PREFIX = 'hubha/reinit/';
export const reinitKey = (member: string): string => `${REINIT_PREFIX}${member}`;

export const handoverRequestSchema = z.strictObject({
  id: z.string().min(1).max(64),
  kind: z.enum(['switchover', 'failover']),
  /** The active hub when asked (switchover), or the last one (failover); null: none ever. */
  from: z.string().min(1).nullable(),
  /** The active-hub lease epoch when asked: a request for an older epoch is void. */
  fromEpoch: z.number().int().nonnegative(),
  to: z.string().min(1),
  /** Scheduled start (wall clock); the time of the request when "now". */
  at: isoTime,
  requestedAt: isoTime,
  by: z.string(),
  reason: z.string(),
  /** Manual failover only: promote although the automatic rules refuse. */
  force: z.boolean(),
  /** The HANDOVER_LEASE epoch the request is attached to (the ready record attaches to it too). */
  leaseEpoch: z.number().int().positive(),
  /** Manual failover: the bound of what may be lost, computed when asked (bytes; null: unknown). */
  dataLossBytes: z.number().int().nonnegative().nullable(),
});
export type HandoverRequest = z.infer<typeof handoverRequestSchema>;

export const handoverReadySchema = z.strictObject({
  id: z.string().min(1).max(64),
  from: z.string().min(1),
  fromEpoch: z.number().int().positive(),
  to: z.string().min(1),
  /**
   * The old primary stopped cleanly: its shutdown checkpoint record starts here, on `timeline`.
   * The target may promote only once it has replayed past it. null when the old primary refused.
   */
  shutdownCheckpointLsn: lsn.nullable(),
  timeline: z.number().int().positive().nullable(),
  /** Why the old primary refused or gave up (it then goes on as the active hub). */
  refused: z.string().nullable(),
  at: isoTime,
});
export type HandoverReady = z.infer<typeof handoverReadySchema>;

export const reinitRequestSchema = z.strictObject({
  id: z.string().min(1).max(64),
  member: z.string().min(1),
  requestedAt: isoTime,
  by: z.string(),
  /** requested → running (the hub picked it up) → failed; deleted when done. */
  state: z.enum(['requested', 'running', 'failed']),
  error: z.string().nullable(),
  updatedAt: isoTime,
});
export type ReinitRequest = z.infer<typeof reinitRequestSchema>;

// ---------------------------------------------------------------- rejoins

export const REJOIN_PREFIX = 'hubha/rejoin/';
/** One per promotion epoch, like the history: the rejoin of that promotion's former primary. */
export const rejoinKey = (epoch: number): string => `${REJOIN_PREFIX}${epochSuffix(epoch)}`;

/**
 * How the former primary of a promotion came back as a standby, written once by that hub after
 * its first successful follow of the promoted one, with what it had written after the fork and
 * pg_rewind then discarded: in asynchronous mode, `commitsAfterFork` is what the failover lost
 * (each of those commits may have been acknowledged to a client). In synchronous mode they were
 * never acknowledged (the commit waited for the standby that took over).
 */
export const rejoinSchema = z.strictObject({
  /** The epoch of the promotion (its history entry) this rejoin followed. */
  epoch: z.number().int().positive(),
  member: z.string().min(1),
  /** The promoted hub it follows. */
  primary: z.string().min(1),
  at: isoTime,
  /**
   * 'not-needed' (same timeline, or a clean switchover), 'no-rewind-required' (pg_rewind found it
   * an ancestor of the new timeline), 'rewound', or 'recloned' (rewind impossible: wiped, cloned).
   */
  rewind: z.enum(['not-needed', 'no-rewind-required', 'rewound', 'recloned']),
  /** Transactions it committed after the fork (0 without a rewind); null when not known (a re-clone). */
  commitsAfterFork: z.number().int().nonnegative().nullable(),
  /** The WAL it wrote after the fork, without checkpoints and segment padding; null when not known. */
  walBytesAfterFork: z.number().int().nonnegative().nullable(),
  /** Where the timelines forked, when pg_rewind ran. */
  divergedAt: lsn.nullable(),
});
export type Rejoin = z.infer<typeof rejoinSchema>;
