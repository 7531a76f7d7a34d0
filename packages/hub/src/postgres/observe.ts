import type { ControlData } from './controldata.js';
import { PgQueryError } from './errors.js';
import type { Lsn } from './lsn.js';
import type { SqlSession } from './sql.js';
import {
  bigintOf,
  bool,
  dateOrNull,
  exactlyOneRow,
  int,
  intOrNull,
  lsn,
  lsnOrNull,
  msOrNull,
  oneOf,
  str,
  strOrNull,
} from './validate.js';

export const REPLICATION_STATES = ['startup', 'catchup', 'streaming', 'backup', 'stopping'] as const;
export const SYNC_STATES = ['async', 'potential', 'sync', 'quorum'] as const;
export const WAL_RECEIVER_STATUSES = ['stopped', 'starting', 'streaming', 'waiting', 'restarting', 'stopping'] as const;

/** One walsender on a primary (a row of pg_stat_replication). */
export interface StandbyReplication {
  readonly pid: number;
  readonly applicationName: string;
  readonly clientAddr: string | null;
  readonly state: (typeof REPLICATION_STATES)[number];
  readonly syncState: (typeof SYNC_STATES)[number];
  readonly syncPriority: number;
  readonly sentLsn: Lsn | null;
  readonly writeLsn: Lsn | null;
  readonly flushLsn: Lsn | null;
  readonly replayLsn: Lsn | null;
  readonly writeLagMs: number | null;
  readonly flushLagMs: number | null;
  readonly replayLagMs: number | null;
}

/** The WAL receiver of a standby (pg_stat_wal_receiver). */
export interface WalReceiverInfo {
  readonly status: (typeof WAL_RECEIVER_STATUSES)[number];
  readonly senderHost: string | null;
  readonly senderPort: number | null;
  readonly receivedTimeline: number;
  readonly flushedLsn: Lsn | null;
  readonly slotName: string | null;
}

export interface ReplicationSlotInfo {
  readonly name: string;
  readonly type: 'physical' | 'logical';
  readonly active: boolean;
  readonly restartLsn: Lsn | null;
}

interface UpCommon {
  readonly up: true;
  readonly observedAt: Date;
  readonly systemIdentifier: bigint;
  /**
   * The timeline this server is on now: a primary's from its current WAL file name (exact even
   * right after promotion); a standby's from its WAL receiver when it has one, else from the last
   * checkpoint/restartpoint.
   */
  readonly timeline: number;
  /** pg_control_checkpoint().timeline_id — lags `timeline` until the first checkpoint after a switch. */
  readonly checkpointTimeline: number;
  readonly serverVersionNum: number;
  readonly synchronousStandbyNames: string;
  readonly slots: readonly ReplicationSlotInfo[];
}

export interface PrimarySnapshot extends UpCommon {
  readonly inRecovery: false;
  readonly currentWalLsn: Lsn;
  readonly standbys: readonly StandbyReplication[];
}

export interface StandbySnapshot extends UpCommon {
  readonly inRecovery: true;
  /** Null until the WAL receiver has received anything since start. */
  readonly receiveLsn: Lsn | null;
  readonly replayLsn: Lsn | null;
  readonly lastReplayAt: Date | null;
  readonly replayPaused: boolean;
  /** Null when no WAL receiver runs (e.g. primary unreachable, between retries). */
  readonly walReceiver: WalReceiverInfo | null;
}

export interface DownSnapshot {
  readonly up: false;
  readonly observedAt: Date;
  /** Is a postmaster running (it may be starting, recovering or refusing connections)? */
  readonly running: boolean;
  /** Why we could not connect. */
  readonly reason: string;
  /** pg_controldata of the data directory, when readable. */
  readonly control: ControlData | null;
}

export type PgSnapshot = PrimarySnapshot | StandbySnapshot | DownSnapshot;

const STATUS_SQL = `
SELECT pg_is_in_recovery() AS in_recovery,
       s.system_identifier::text AS system_identifier,
       c.timeline_id AS checkpoint_timeline,
       CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS current_lsn,
       CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_walfile_name(pg_current_wal_lsn()) END AS current_walfile,
       pg_last_wal_receive_lsn()::text AS receive_lsn,
       pg_last_wal_replay_lsn()::text AS replay_lsn,
       pg_last_xact_replay_timestamp() AS last_replay_at,
       CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END AS replay_paused,
       current_setting('server_version_num') AS server_version_num,
       current_setting('synchronous_standby_names') AS synchronous_standby_names,
       now() AS observed_at
  FROM pg_control_system() s, pg_control_checkpoint() c`;

const REPLICATION_SQL = `
SELECT pid, application_name, client_addr::text AS client_addr, state, sync_state, sync_priority,
       sent_lsn::text AS sent_lsn, write_lsn::text AS write_lsn, flush_lsn::text AS flush_lsn, replay_lsn::text AS replay_lsn,
       (EXTRACT(epoch FROM write_lag) * 1000)::float8 AS write_lag_ms,
       (EXTRACT(epoch FROM flush_lag) * 1000)::float8 AS flush_lag_ms,
       (EXTRACT(epoch FROM replay_lag) * 1000)::float8 AS replay_lag_ms
  FROM pg_stat_replication
 ORDER BY application_name, pid`;

const WAL_RECEIVER_SQL = `
SELECT status, sender_host, sender_port, received_tli, flushed_lsn::text AS flushed_lsn, slot_name
  FROM pg_stat_wal_receiver`;

const SLOTS_SQL = `
SELECT slot_name, slot_type, active, restart_lsn::text AS restart_lsn
  FROM pg_replication_slots
 ORDER BY slot_name`;

/** Timeline from a WAL file name ("000000020000000000000003" → 2). */
export function timelineOfWalFile(name: string): number {
  if (!/^[0-9A-F]{24}$/.test(name)) throw new PgQueryError('UNEXPECTED_RESULT', `bad WAL file name ${JSON.stringify(name)}`);
  const tl = parseInt(name.slice(0, 8), 16);
  if (tl < 1) throw new PgQueryError('UNEXPECTED_RESULT', `bad timeline in WAL file name ${name}`);
  return tl;
}

export async function readSlots(s: SqlSession): Promise<ReplicationSlotInfo[]> {
  const what = 'pg_replication_slots';
  return (await s.query(what, SLOTS_SQL)).map((r) => ({
    name: str(r, 'slot_name', what),
    type: oneOf(r, 'slot_type', what, ['physical', 'logical'] as const),
    active: bool(r, 'active', what),
    restartLsn: lsnOrNull(r, 'restart_lsn', what),
  }));
}

/** One validated snapshot over an open superuser session. */
export async function observeSession(s: SqlSession): Promise<PrimarySnapshot | StandbySnapshot> {
  const what = 'observe';
  const r = exactlyOneRow(await s.query(what, STATUS_SQL), what);
  const inRecovery = bool(r, 'in_recovery', what);
  const observedAt = dateOrNull(r, 'observed_at', what) ?? new Date();
  const versionText = str(r, 'server_version_num', what);
  if (!/^\d{6}$/.test(versionText)) throw new PgQueryError('UNEXPECTED_RESULT', `${what}: bad server_version_num ${versionText}`);
  const sysid = bigintOf(r, 'system_identifier', what);
  if (sysid <= 0n) throw new PgQueryError('UNEXPECTED_RESULT', `${what}: system identifier ${sysid} is not positive`);
  const common = {
    up: true as const,
    observedAt,
    systemIdentifier: sysid,
    checkpointTimeline: int(r, 'checkpoint_timeline', what, 1),
    serverVersionNum: Number(versionText),
    synchronousStandbyNames: str(r, 'synchronous_standby_names', what),
    slots: await readSlots(s),
  };
  if (!inRecovery) {
    const walfile = strOrNull(r, 'current_walfile', what);
    if (walfile === null) throw new PgQueryError('UNEXPECTED_RESULT', `${what}: primary without a current WAL file (promoted mid-query?)`);
    const rw = 'pg_stat_replication';
    const standbys = (await s.query(rw, REPLICATION_SQL)).map(
      (x): StandbyReplication => ({
        pid: int(x, 'pid', rw, 1),
        applicationName: str(x, 'application_name', rw),
        clientAddr: strOrNull(x, 'client_addr', rw),
        state: oneOf(x, 'state', rw, REPLICATION_STATES),
        syncState: oneOf(x, 'sync_state', rw, SYNC_STATES),
        syncPriority: int(x, 'sync_priority', rw, 0),
        sentLsn: lsnOrNull(x, 'sent_lsn', rw),
        writeLsn: lsnOrNull(x, 'write_lsn', rw),
        flushLsn: lsnOrNull(x, 'flush_lsn', rw),
        replayLsn: lsnOrNull(x, 'replay_lsn', rw),
        writeLagMs: msOrNull(x, 'write_lag_ms', rw),
        flushLagMs: msOrNull(x, 'flush_lag_ms', rw),
        replayLagMs: msOrNull(x, 'replay_lag_ms', rw),
      }),
    );
    return {
      ...common,
      inRecovery: false,
      timeline: timelineOfWalFile(walfile),
      currentWalLsn: lsn(r, 'current_lsn', what),
      standbys,
    };
  }
  const ww = 'pg_stat_wal_receiver';
  const rows = await s.query(ww, WAL_RECEIVER_SQL);
  if (rows.length > 1) throw new PgQueryError('UNEXPECTED_RESULT', `${ww}: ${rows.length} rows`);
  const w = rows[0];
  const walReceiver: WalReceiverInfo | null =
    w === undefined
      ? null
      : {
          status: oneOf(w, 'status', ww, WAL_RECEIVER_STATUSES),
          senderHost: strOrNull(w, 'sender_host', ww),
          senderPort: intOrNull(w, 'sender_port', ww, 1),
          receivedTimeline: int(w, 'received_tli', ww, 0),
          flushedLsn: lsnOrNull(w, 'flushed_lsn', ww),
          slotName: strOrNull(w, 'slot_name', ww),
        };
  const rxTl = walReceiver !== null && walReceiver.receivedTimeline > 0 ? walReceiver.receivedTimeline : undefined;
  return {
    ...common,
    inRecovery: true,
    timeline: rxTl ?? common.checkpointTimeline,
    receiveLsn: lsnOrNull(r, 'receive_lsn', what),
    replayLsn: lsnOrNull(r, 'replay_lsn', what),
    lastReplayAt: dateOrNull(r, 'last_replay_at', what),
    replayPaused: bool(r, 'replay_paused', what),
    walReceiver,
  };
}
