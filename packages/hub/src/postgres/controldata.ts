import { PgManagerError } from './errors.js';
import { parseLsn, type Lsn } from './lsn.js';

export const CLUSTER_STATES = [
  'starting up',
  'shut down',
  'shut down in recovery',
  'shutting down',
  'in crash recovery',
  'in archive recovery',
  'in production',
] as const;
export type ClusterState = (typeof CLUSTER_STATES)[number];

/** The fields of pg_controldata we use, validated. */
export interface ControlData {
  readonly systemIdentifier: bigint;
  readonly clusterState: ClusterState;
  readonly latestCheckpointLocation: Lsn;
  readonly latestCheckpointRedo: Lsn;
  readonly latestCheckpointTimeline: number;
  readonly minRecoveryEndLocation: Lsn;
  readonly minRecoveryEndTimeline: number;
  readonly dataChecksumVersion: number;
  readonly walLogHints: boolean;
}

/** Was the cluster shut down cleanly (pg_rewind's precondition)? */
export function isCleanShutdown(c: ControlData): boolean {
  return c.clusterState === 'shut down' || c.clusterState === 'shut down in recovery';
}

function field(map: Map<string, string>, label: string): string {
  const v = map.get(label);
  if (v === undefined) throw new PgManagerError('CONTROLDATA_INVALID', `pg_controldata output lacks "${label}"`);
  return v;
}

function uint(map: Map<string, string>, label: string): number {
  const v = field(map, label);
  if (!/^\d{1,10}$/.test(v)) throw new PgManagerError('CONTROLDATA_INVALID', `pg_controldata "${label}": not an integer: ${JSON.stringify(v)}`);
  return Number(v);
}

function lsn(map: Map<string, string>, label: string): Lsn {
  try {
    return parseLsn(field(map, label));
  } catch (err) {
    throw new PgManagerError('CONTROLDATA_INVALID', `pg_controldata "${label}": ${(err as Error).message}`, { cause: err });
  }
}

/** Parses `pg_controldata` output (run with LC_ALL=C, so the labels are English). */
export function parseControlData(text: string): ControlData {
  const map = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    map.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  const sysid = field(map, 'Database system identifier');
  if (!/^\d{1,20}$/.test(sysid)) throw new PgManagerError('CONTROLDATA_INVALID', `bad system identifier ${JSON.stringify(sysid)}`);
  const state = field(map, 'Database cluster state');
  if (!(CLUSTER_STATES as readonly string[]).includes(state)) {
    throw new PgManagerError('CONTROLDATA_INVALID', `unknown cluster state ${JSON.stringify(state)}`);
  }
  const hints = field(map, 'wal_log_hints setting');
  if (hints !== 'on' && hints !== 'off') throw new PgManagerError('CONTROLDATA_INVALID', `bad wal_log_hints ${JSON.stringify(hints)}`);
  const tl = uint(map, "Latest checkpoint's TimeLineID");
  if (tl < 1) throw new PgManagerError('CONTROLDATA_INVALID', `bad checkpoint timeline ${tl}`);
  return {
    systemIdentifier: BigInt(sysid),
    clusterState: state as ClusterState,
    latestCheckpointLocation: lsn(map, 'Latest checkpoint location'),
    latestCheckpointRedo: lsn(map, "Latest checkpoint's REDO location"),
    latestCheckpointTimeline: tl,
    minRecoveryEndLocation: lsn(map, 'Minimum recovery ending location'),
    minRecoveryEndTimeline: uint(map, "Min recovery ending loc's timeline"),
    dataChecksumVersion: uint(map, 'Data page checksum version'),
    walLogHints: hints === 'on',
  };
}
