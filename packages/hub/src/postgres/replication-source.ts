import { PgManagerError, PgQueryError } from './errors.js';
import { buildConninfo, validateHost, validatePort, validateRoleName, validateSlotName } from './quoting.js';
import type { Secret } from './secret.js';
import { withSql, type SqlTimeouts } from './sql.js';
import { parseTimelineHistory, type TimelineHistoryEntry } from './timeline.js';
import { exactlyOneRow, int, lsn, str, type Row } from './validate.js';
import type { Lsn } from './lsn.js';

/** The primary to clone from or follow. */
export interface ReplicationSource {
  readonly host: string;
  readonly port: number;
  /** The replication role (REPLICATION LOGIN, with the pg_rewind grants initPrimary gives it). */
  readonly user: string;
  /** File holding that role's password (mode 0600). */
  readonly passwordFile: string;
  /** Physical slot on the primary this node streams through (create it there first: createSlot). */
  readonly slot: string;
}

export function validateSource(src: ReplicationSource): ReplicationSource {
  if (typeof src !== 'object' || src === null) throw new PgManagerError('INVALID_ARGUMENT', 'replication source must be an object');
  validateHost(src.host);
  validatePort(src.port);
  validateRoleName('replication user', src.user);
  validateSlotName(src.slot);
  if (typeof src.passwordFile !== 'string' || src.passwordFile === '') {
    throw new PgManagerError('INVALID_ARGUMENT', 'replication source needs a passwordFile');
  }
  return src;
}

/**
 * primary_conninfo: application_name is this node's name, so the primary's
 * synchronous_standby_names can name it; the password comes from a passfile, never inline.
 */
export function primaryConninfo(src: ReplicationSource, nodeName: string, pgpassFile: string): string {
  return buildConninfo([
    ['host', src.host],
    ['port', src.port],
    ['user', src.user],
    ['passfile', pgpassFile],
    ['application_name', nodeName],
    ['connect_timeout', 5],
    ['keepalives_idle', 10],
    ['keepalives_interval', 5],
    ['keepalives_count', 3],
  ]);
}

/** The --source-server / pg_basebackup -d conninfo (a normal database connection). */
export function toolConninfo(src: ReplicationSource, applicationName: string, pgpassFile: string): string {
  return buildConninfo([
    ['host', src.host],
    ['port', src.port],
    ['user', src.user],
    ['dbname', 'postgres'],
    ['passfile', pgpassFile],
    ['application_name', applicationName],
    ['connect_timeout', 10],
  ]);
}

export interface IdentifySystem {
  readonly systemId: bigint;
  readonly timeline: number;
  /** The server's current WAL flush position. */
  readonly flush: Lsn;
}

function sourceTarget(src: ReplicationSource, password: Secret, replication: boolean, applicationName: string) {
  return {
    host: src.host,
    port: src.port,
    user: src.user,
    database: 'postgres',
    password,
    replication,
    applicationName,
  };
}

/**
 * IDENTIFY_SYSTEM over a replication connection: the timeline it reports is the server's current
 * one even right after promotion (pg_control's lags until the next checkpoint). With `tl`, also
 * TIMELINE_HISTORY for it (tl > 1).
 */
export async function identifySource(
  src: ReplicationSource,
  password: Secret,
  timeouts: SqlTimeouts,
  historyOf?: number,
): Promise<{ id: IdentifySystem; history: TimelineHistoryEntry[] | undefined }> {
  return withSql(sourceTarget(src, password, true, 'hubha-follow'), timeouts, async (s) => {
    const what = 'IDENTIFY_SYSTEM';
    const r = exactlyOneRow(await s.query(what, 'IDENTIFY_SYSTEM'), what);
    const sysid = str(r, 'systemid', what);
    if (!/^\d{1,20}$/.test(sysid)) throw new PgQueryError('UNEXPECTED_RESULT', `${what}: bad systemid ${sysid}`);
    const id: IdentifySystem = { systemId: BigInt(sysid), timeline: int(r, 'timeline', what, 1), flush: lsn(r, 'xlogpos', what) };
    let history: TimelineHistoryEntry[] | undefined;
    if (historyOf !== undefined && historyOf > 1) {
      const h = exactlyOneRow(await s.query('TIMELINE_HISTORY', `TIMELINE_HISTORY ${Math.trunc(historyOf)}`), 'TIMELINE_HISTORY');
      history = parseTimelineHistory(contentText(h));
    }
    return { id, history };
  });
}

function contentText(r: Row): string {
  const c = r['content'];
  if (typeof c === 'string') return c;
  if (Buffer.isBuffer(c)) return c.toString('utf8');
  throw new PgQueryError('UNEXPECTED_RESULT', 'TIMELINE_HISTORY: content is neither text nor bytea');
}

/**
 * CHECKPOINT on the source. PostgreSQL 15's pg_rewind reads the source's timeline from its
 * pg_control, which only changes at the first checkpoint after a promotion; without this a
 * rewind right after a failover can wrongly conclude "same timeline, no rewind required".
 * The replication role has pg_checkpoint (initPrimary grants it).
 */
export async function checkpointSource(src: ReplicationSource, password: Secret, timeouts: SqlTimeouts): Promise<void> {
  await withSql(sourceTarget(src, password, false, 'hubha-follow'), timeouts, async (s) => {
    await s.query('CHECKPOINT on the source', 'CHECKPOINT');
  });
}
