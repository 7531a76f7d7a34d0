/**
 * Errors of the PostgreSQL manager. Every error has a stable string `code` (match on it, not on
 * the message) and, where another error caused it, `cause`. Messages never contain passwords.
 */

export type PgErrorCode =
  // binaries
  | 'BINARIES_MISSING'
  | 'BINARIES_VERSION'
  // running a command
  | 'COMMAND_SPAWN_FAILED'
  | 'COMMAND_FAILED'
  | 'COMMAND_TIMEOUT'
  // arguments and files
  | 'INVALID_ARGUMENT'
  | 'PASSWORD_FILE_INVALID'
  | 'OS_USER_UNKNOWN'
  | 'MANAGED_CONF_INVALID'
  // data directory and server state
  | 'DATA_DIR_NOT_EMPTY'
  | 'NOT_A_DATA_DIR'
  | 'INSTANCE_RUNNING'
  | 'INSTANCE_NOT_RUNNING'
  | 'START_FAILED'
  | 'START_TIMEOUT'
  | 'STOP_TIMEOUT'
  | 'FENCED'
  | 'CONTROLDATA_INVALID'
  | 'CRASH_RECOVERY_FAILED'
  // SQL
  | 'CONNECT_FAILED'
  | 'QUERY_FAILED'
  | 'UNEXPECTED_RESULT'
  | 'INVALID_LSN'
  // replication and roles
  | 'PROMOTE_FAILED'
  | 'NOT_IN_RECOVERY'
  | 'SLOT_CONFLICT'
  | 'SLOT_ACTIVE'
  | 'SETTING_NOT_APPLIED'
  | 'SYSTEM_ID_MISMATCH'
  | 'TIMELINE_DIVERGED'
  | 'REWIND_FAILED'
  | 'CLONE_FAILED'
  | 'STALE_EPOCH';

/** Base class: `err instanceof PgManagerError` catches everything this library throws on purpose. */
export class PgManagerError extends Error {
  constructor(
    readonly code: PgErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PgManagerError';
  }
}

/** The PostgreSQL binaries directory is missing, incomplete or of the wrong major version. */
export class PgBinariesError extends PgManagerError {
  constructor(code: 'BINARIES_MISSING' | 'BINARIES_VERSION', message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'PgBinariesError';
  }
}

/** What a failed command left behind: exit status and the (bounded) tails of its output. */
export interface PgCommandFailure {
  readonly command: string;
  readonly args: readonly string[];
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
}

/** A PostgreSQL binary could not be started, exited non-zero, or ran past its timeout. */
export class PgCommandError extends PgManagerError {
  constructor(
    code: 'COMMAND_SPAWN_FAILED' | 'COMMAND_FAILED' | 'COMMAND_TIMEOUT',
    message: string,
    readonly failure: PgCommandFailure,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'PgCommandError';
  }
}

/** A SQL statement failed, or answered something we did not expect. `sqlState` is PostgreSQL's code. */
export class PgQueryError extends PgManagerError {
  constructor(
    code: 'CONNECT_FAILED' | 'QUERY_FAILED' | 'UNEXPECTED_RESULT',
    message: string,
    readonly sqlState?: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'PgQueryError';
  }
}

/** pg_rewind could not bring the old primary onto the new primary's timeline: re-clone it. */
export class PgRewindError extends PgManagerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('REWIND_FAILED', message, options);
    this.name = 'PgRewindError';
  }
}

/** The message of an unknown thrown value, for wrapping. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
