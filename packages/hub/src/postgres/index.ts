export { PgBinaries, parsePostgresVersion, DEFAULT_PG_BIN_DIR, DEFAULT_PG_MAJOR, REQUIRED_PG_BINARIES, type PgBinaryName } from './binaries.js';
export { BoundedOutput } from './bounded-output.js';
export { PgCommandRunner, type PgCommandSpec, type PgCommandResult } from './command.js';
export {
  DEFAULT_REPLICATION_TIMEOUTS,
  MANAGED_CONF_RELPATH,
  MANAGED_KEYS,
  MANAGED_REPLICATION_KEYS,
  validateReplicationTimeouts,
  renderSynchronousStandbyNames,
  renderHba,
  renderManagedConf,
  parseManagedConf,
  sanitizeAutoConf,
  type GucValue,
  type ReplicationTimeouts,
  type RuntimeSettings,
} from './config-files.js';
export { parseControlData, isCleanShutdown, CLUSTER_STATES, type ClusterState, type ControlData } from './controldata.js';
export {
  PgManagerError,
  PgBinariesError,
  PgCommandError,
  PgQueryError,
  PgRewindError,
  type PgErrorCode,
  type PgCommandFailure,
} from './errors.js';
export {
  PostgresInstance,
  DEFAULT_PG_TIMEOUTS,
  type PostgresInstanceOptions,
  type InitPrimaryOptions,
  type PgTimeouts,
  type SynchronousOptions,
  type FollowResult,
  type FenceMethod,
} from './instance.js';
export { parseLsn, formatLsn, lsnDiff, compareLsn, type Lsn } from './lsn.js';
export {
  type PgSnapshot,
  type PrimarySnapshot,
  type StandbySnapshot,
  type DownSnapshot,
  type StandbyReplication,
  type WalReceiverInfo,
  type ReplicationSlotInfo,
} from './observe.js';
export { resolvePgOsUser, type PgOsUser } from './os-user.js';
export { readPostmasterPid, isProcessAlive, postgresProcessesIn, type PostmasterPid } from './pidfile.js';
export type { StopMode } from './pgctl.js';
export type { PromotionRecord } from './promotions.js';
export { buildConninfo, quoteConninfoValue, quoteGucValue } from './quoting.js';
export type { ReplicationSource } from './replication-source.js';
export { scramSha256Verifier } from './scram.js';
export { Secret, readPasswordFile } from './secret.js';
export type { SqlSession, SqlTarget, SqlTimeouts } from './sql.js';
export { parseTimelineHistory, decideRewind, type TimelineHistoryEntry, type RewindDecision } from './timeline.js';
export { parseWaldumpStats, walAfterFork, type WalAfterFork } from './wal-after-fork.js';
