import { readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, normalize } from 'node:path';
import { pino, type Logger } from 'pino';
import { childLogger } from '@hubha/raft';
import type { PgBinaries } from './binaries.js';
import { tailOf } from './bounded-output.js';
import { PgCommandRunner } from './command.js';
import {
  DEFAULT_REPLICATION_TIMEOUTS,
  DEFAULT_RUNTIME_SETTINGS,
  MANAGED_CONF_RELPATH,
  parseManagedConf,
  renderClusterConfBlock,
  renderHba,
  renderManagedConf,
  renderPgpass,
  renderSynchronousStandbyNames,
  sanitizeAutoConf,
  validateReplicationTimeouts,
  type GucValue,
  type ReplicationTimeouts,
  type RuntimeSettings,
} from './config-files.js';
import { isCleanShutdown, parseControlData, type ControlData } from './controldata.js';
import { PgManagerError, PgQueryError, PgRewindError, describeError } from './errors.js';
import { chownToPgUser, dirState, ensureDir, ensureFile, pathExists, wipeDirContents, writeFileAtomic } from './fs-util.js';
import { observeSession, readSlots, type PgSnapshot, type ReplicationSlotInfo } from './observe.js';
import type { PgOsUser } from './os-user.js';
import {
  logTail,
  pgCtlStart,
  pgCtlStop,
  removeStalePidFile,
  removeStaleSocketLock,
  serverStatus,
  signalAndWait,
  signalPostmaster,
  singleUserCrashRecovery,
  sleep,
  waitForExit,
  waitForOrphans,
  type ServerProcessContext,
} from './pgctl.js';
import { listPromotions, recordPromotion, type PromotionRecord } from './promotions.js';
import { walAfterFork, type WalAfterFork } from './wal-after-fork.js';
import { quoteGucValue, validateHost, validateNodeName, validatePort, validateRoleName } from './quoting.js';
import {
  checkpointSource,
  identifySource,
  primaryConninfo,
  toolConninfo,
  validateSource,
  type ReplicationSource,
} from './replication-source.js';
import { ensureReplicationRole } from './roles.js';
import { readPasswordFile, type Secret } from './secret.js';
import { createPhysicalSlot, dropSlot } from './slots.js';
import { DEFAULT_SQL_TIMEOUTS, withSql, type SqlSession, type SqlTarget, type SqlTimeouts } from './sql.js';
import {
  decideRewind,
  historyFileName,
  localTimelineAndEnd,
  parseRewindOutput,
  parseTimelineHistory,
  type RewindDecision,
  type TimelineHistoryEntry,
} from './timeline.js';
import { bool, exactlyOneRow, str } from './validate.js';
import { formatLsn, type Lsn } from './lsn.js';

export interface PgTimeouts {
  readonly initdbMs: number;
  readonly startMs: number;
  readonly stopMs: number;
  readonly promoteMs: number;
  readonly basebackupMs: number;
  readonly rewindMs: number;
  readonly crashRecoveryMs: number;
  /** How long a runtime setting may take to show up in SHOW after pg_reload_conf(). */
  readonly reloadMs: number;
  /** fence(): how long the fast shutdown may take before we fall back to immediate. */
  readonly fenceFastMs: number;
  /** How long orphaned backends of a crashed postmaster may take to exit. */
  readonly orphanWaitMs: number;
  readonly sqlConnectMs: number;
  readonly sqlQueryMs: number;
}

export const DEFAULT_PG_TIMEOUTS: PgTimeouts = {
  initdbMs: 120_000,
  startMs: 60_000,
  stopMs: 60_000,
  promoteMs: 60_000,
  basebackupMs: 6 * 3_600_000,
  rewindMs: 3_600_000,
  crashRecoveryMs: 3_600_000,
  reloadMs: 10_000,
  fenceFastMs: 10_000,
  orphanWaitMs: 15_000,
  sqlConnectMs: DEFAULT_SQL_TIMEOUTS.connectMs,
  sqlQueryMs: DEFAULT_SQL_TIMEOUTS.queryMs,
};

export interface PostgresInstanceOptions {
  /** This hub's name: cluster_name, and application_name when it streams (synchronous_standby_names names it). */
  readonly nodeName: string;
  /** Absolute; owned by the OS user, mode 0700 (we create it so). */
  readonly dataDir: string;
  readonly port: number;
  /** Absolute directory for the unix socket (created 0700 for the OS user). */
  readonly socketDir: string;
  readonly binaries: PgBinaries;
  readonly osUser: PgOsUser;
  /** listen_addresses; default ['127.0.0.1']. */
  readonly listenAddresses?: readonly string[];
  /** The bootstrap superuser, trusted on the unix socket only; default 'postgres'. */
  readonly superuser?: string;
  /** Server log (pg_ctl -l); default `<dataDir>.log` beside the data directory (pg_rewind would overwrite a log inside it). */
  readonly logFile?: string;
  /** libpq password file for the replication role; default `<dataDir>.pgpass` beside the data directory (kept out of base backups). */
  readonly pgpassFile?: string;
  readonly logger?: Logger;
  readonly timeouts?: Partial<PgTimeouts>;
  /** wal_sender_timeout and friends in the managed file; default DEFAULT_REPLICATION_TIMEOUTS. */
  readonly replication?: ReplicationTimeouts;
}

export interface InitPrimaryOptions {
  readonly replicationUser: string;
  /** Mode 0600; read here, never logged; the server only ever sees a SCRAM verifier. */
  readonly replicationPasswordFile: string;
  /** Where the peer hubs connect from (replication + pg_rewind); default ['127.0.0.0/8']. */
  readonly peerCidrs?: readonly string[];
  /** Where clients may connect from with a password (any database/role); default none. */
  readonly clientCidrs?: readonly string[];
  readonly maxWalSenders?: number;
  readonly maxReplicationSlots?: number;
  /** wal_keep_size, default '512MB': the old primary's WAL pg_rewind needs (see ClusterSettings.walKeepSize). */
  readonly walKeepSize?: string;
  /** Extra postgresql.conf settings (shared_buffers, max_connections, ...). */
  readonly settings?: Readonly<Record<string, GucValue>>;
  /** initdb --locale; default 'C.UTF-8'. */
  readonly locale?: string;
}

export interface SynchronousOptions {
  /** With an empty list: '*' (commits wait for any standby) instead of asynchronous. Default false. */
  readonly strict?: boolean;
}

export interface FollowResult {
  /** The old primary had crashed and was brought to a clean shutdown in single-user mode first. */
  readonly crashRecovered: boolean;
  /** 'not-needed': same timeline; 'no-rewind-required': pg_rewind found us an ancestor; 'rewound'. */
  readonly rewind: 'not-needed' | 'no-rewind-required' | 'rewound';
  readonly divergedAt: Lsn | undefined;
  /**
   * What this node wrote after the fork, read before the rewind discarded it: commits, records
   * and bytes (pg_waldump). As a former primary in asynchronous mode, the commits are what the
   * failover lost. Null without a rewind, or when it could not be read.
   */
  readonly walAfterFork: WalAfterFork | null;
  readonly droppedSlots: readonly string[];
  readonly crashRecoveryMs: number;
  readonly rewindMs: number;
  readonly durationMs: number;
}

export type FenceMethod = 'not-running' | 'fast' | 'immediate' | 'sigkill';

/**
 * One PostgreSQL server: a data directory, a port and a socket directory, driven with
 * PostgreSQL's own binaries (as the OS user) and the `pg` client (as the superuser over the unix
 * socket). Mutating operations are serialized per instance; `fence()` and `observe()` are not
 * (fencing must never wait behind a slow start).
 */
/** How often the end of recovery is checked after pg_promote. */
const PROMOTE_POLL_MS = 10;

export class PostgresInstance {
  readonly nodeName: string;
  readonly dataDir: string;
  readonly port: number;
  readonly socketDir: string;
  readonly superuser: string;
  readonly listenAddresses: readonly string[];
  readonly logFile: string;
  readonly pgpassFile: string;
  /**
   * Present from the start of a clone until the standby is fully set up: a clone cut short (the
   * sidecar killed, pg_basebackup timed out) leaves a data directory that looks real but is not.
   */
  readonly cloneMarkerFile: string;
  readonly binaries: PgBinaries;
  readonly osUser: PgOsUser;
  readonly timeouts: PgTimeouts;
  readonly replication: ReplicationTimeouts;
  readonly #log: Logger;
  readonly #runner: PgCommandRunner;
  #runtime: RuntimeSettings | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  /** Bumped by every fence(): a start requested before a fence must not run (or survive) after it. */
  #fenceGeneration = 0;

  constructor(options: PostgresInstanceOptions) {
    this.nodeName = validateNodeName(options.nodeName);
    this.dataDir = absolute('dataDir', options.dataDir);
    this.socketDir = absolute('socketDir', options.socketDir);
    this.port = validatePort(options.port);
    this.superuser = validateRoleName('superuser', options.superuser ?? 'postgres');
    this.listenAddresses = [...(options.listenAddresses ?? ['127.0.0.1'])].map((a) => (a === '*' ? a : validateHost(a)));
    if (this.listenAddresses.length === 0) throw new PgManagerError('INVALID_ARGUMENT', 'listenAddresses must not be empty');
    const sibling = (suffix: string): string => join(dirname(this.dataDir), `${basename(this.dataDir)}${suffix}`);
    this.logFile = absolute('logFile', options.logFile ?? sibling('.log'));
    this.pgpassFile = absolute('pgpassFile', options.pgpassFile ?? sibling('.pgpass'));
    this.cloneMarkerFile = sibling('.clone-incomplete');
    this.binaries = options.binaries;
    this.osUser = options.osUser;
    this.timeouts = { ...DEFAULT_PG_TIMEOUTS, ...options.timeouts };
    this.replication = validateReplicationTimeouts({ ...(options.replication ?? DEFAULT_REPLICATION_TIMEOUTS) });
    this.#log = childLogger(options.logger ?? pino({ level: 'silent' }), { component: 'postgres', node: this.nodeName });
    this.#runner = new PgCommandRunner(this.osUser, this.#log);
  }

  // ---------------------------------------------------------------- plumbing

  get #ctx(): ServerProcessContext {
    return { binaries: this.binaries, runner: this.#runner, dataDir: this.dataDir, logFile: this.logFile };
  }

  get #sqlTimeouts(): SqlTimeouts {
    return { connectMs: this.timeouts.sqlConnectMs, queryMs: this.timeouts.sqlQueryMs };
  }

  /** How to reach this server as the superuser: its unix socket (trust, OS user only). */
  connectionConfig(): { host: string; port: number; user: string; database: string } {
    return { host: this.socketDir, port: this.port, user: this.superuser, database: 'postgres' };
  }

  /** Runs `fn` on a fresh superuser connection over the unix socket. */
  withSql<T>(fn: (s: SqlSession) => Promise<T>, timeouts: SqlTimeouts = this.#sqlTimeouts): Promise<T> {
    const target: SqlTarget = { ...this.connectionConfig(), applicationName: `hubha-${this.nodeName}` };
    return withSql(target, timeouts, fn);
  }

  #exclusive<T>(op: string, fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(
      () => fn(),
      () => fn(),
    );
    this.#queue = run.catch(() => undefined);
    return run.then(
      (v) => v,
      (err: unknown) => {
        this.#log.warn({ op, err: describeError(err) }, 'postgres operation failed');
        throw err;
      },
    );
  }

  async #loadRuntime(): Promise<RuntimeSettings> {
    if (this.#runtime === undefined) {
      const path = join(this.dataDir, MANAGED_CONF_RELPATH);
      this.#runtime = (await pathExists(path)) ? parseManagedConf(await readFile(path, 'utf8')) : { ...DEFAULT_RUNTIME_SETTINGS };
    }
    return this.#runtime;
  }

  async #writeManagedConf(rt: RuntimeSettings): Promise<void> {
    await ensureDir(join(this.dataDir, dirname(MANAGED_CONF_RELPATH)), 0o700, this.osUser);
    const text = renderManagedConf(
      { nodeName: this.nodeName, port: this.port, listenAddresses: this.listenAddresses, socketDir: this.socketDir, replication: this.replication },
      rt,
    );
    await writeFileAtomic(join(this.dataDir, MANAGED_CONF_RELPATH), text, 0o600, this.osUser);
    this.#runtime = rt;
  }

  async #writePgpass(user: string, password: Secret): Promise<void> {
    await writeFileAtomic(this.pgpassFile, renderPgpass(user, password.reveal()), 0o600, this.osUser);
  }

  async #assertDataDir(): Promise<void> {
    let version: string;
    try {
      version = (await readFile(join(this.dataDir, 'PG_VERSION'), 'utf8')).trim();
    } catch (err) {
      throw new PgManagerError('NOT_A_DATA_DIR', `${this.dataDir} is not a PostgreSQL data directory (no PG_VERSION)`, { cause: err });
    }
    if (version !== String(this.binaries.major)) {
      throw new PgManagerError('NOT_A_DATA_DIR', `${this.dataDir} is PostgreSQL ${version}, binaries are ${this.binaries.major}`);
    }
  }

  async #assertStopped(op: string): Promise<void> {
    const st = await serverStatus(this.#ctx);
    if (st.running) throw new PgManagerError('INSTANCE_RUNNING', `${op}: PostgreSQL is running (pid ${st.pid}); stop or fence it first`);
  }

  /** Everything a start needs besides the server: managed config, sanitized auto.conf, socket dir, log file. */
  async #prepareStart(): Promise<void> {
    await this.#assertDataDir();
    const conf = await readFile(join(this.dataDir, 'postgresql.conf'), 'utf8');
    if (!conf.split('\n').some((l) => l.trim() === `include = ${quoteGucValue(MANAGED_CONF_RELPATH)}`)) {
      throw new PgManagerError('MANAGED_CONF_INVALID', `postgresql.conf does not include ${MANAGED_CONF_RELPATH} (not set up by initPrimary?)`);
    }
    await this.#writeManagedConf(await this.#loadRuntime());
    const autoPath = join(this.dataDir, 'postgresql.auto.conf');
    if (await pathExists(autoPath)) {
      const { text, dropped } = sanitizeAutoConf(await readFile(autoPath, 'utf8'));
      if (dropped.length > 0) {
        this.#log.warn({ dropped }, 'removed hubha-managed settings from postgresql.auto.conf (ALTER SYSTEM would override the managed file)');
        await writeFileAtomic(autoPath, text, 0o600, this.osUser);
      }
    }
    await ensureDir(this.socketDir, 0o700, this.osUser);
    await ensureFile(this.logFile, 0o600, this.osUser);
  }

  async #removeStalePidFile(): Promise<void> {
    const stale = await removeStalePidFile(this.dataDir);
    if (stale !== undefined) this.#log.warn({ pid: stale }, 'removed the postmaster.pid of a dead postmaster');
    const staleSock = await removeStaleSocketLock(this.socketDir, this.port);
    if (staleSock !== undefined) this.#log.warn({ pid: staleSock }, 'removed the socket lock file of a dead postmaster');
  }

  async #setStandbySignal(): Promise<void> {
    const p = join(this.dataDir, 'standby.signal');
    await writeFile(p, '', { mode: 0o600 });
    await chownToPgUser(p, this.osUser);
    await rm(join(this.dataDir, 'recovery.signal'), { force: true });
  }

  async #waitReady(deadline: number): Promise<void> {
    let lastErr: unknown;
    for (;;) {
      try {
        await this.withSql(async (s) => s.query('readiness', 'SELECT 1'), { connectMs: 2000, queryMs: 5000 });
        return;
      } catch (err) {
        lastErr = err;
      }
      if (!(await serverStatus(this.#ctx)).running) {
        throw new PgManagerError('START_FAILED', `PostgreSQL exited while starting:\n${await logTail(this.logFile)}`, { cause: lastErr });
      }
      if (Date.now() >= deadline) {
        throw new PgManagerError('START_TIMEOUT', `PostgreSQL runs but accepts no connections: ${describeError(lastErr)}`, { cause: lastErr });
      }
      await sleep(100);
    }
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * initdb (with data checksums, so pg_rewind works; trust only for the superuser on the unix
   * socket, scram-sha-256 over TCP), the HA settings, pg_hba entries for the peers, the managed
   * file; then starts the server (it must run to create the replication role) and creates the
   * replication role with the grants pg_rewind needs. Leaves the server running.
   */
  initPrimary(options: InitPrimaryOptions): Promise<{ systemIdentifier: bigint; initdbMs: number; durationMs: number }> {
    const generation = this.#fenceGeneration;
    return this.#exclusive('initPrimary', async () => {
      const t0 = Date.now();
      const replicationUser = validateRoleName('replicationUser', options.replicationUser);
      const password = await readPasswordFile(options.replicationPasswordFile);
      const locale = options.locale ?? 'C.UTF-8';
      if (!/^[A-Za-z0-9_.@-]{1,64}$/.test(locale)) throw new PgManagerError('INVALID_ARGUMENT', `invalid locale ${JSON.stringify(locale)}`);
      const hba = renderHba({
        superuser: this.superuser,
        replicationUser,
        peerCidrs: options.peerCidrs ?? ['127.0.0.0/8'],
        clientCidrs: options.clientCidrs ?? [],
      });
      const block = renderClusterConfBlock({
        maxWalSenders: options.maxWalSenders ?? 10,
        maxReplicationSlots: options.maxReplicationSlots ?? 10,
        walKeepSize: options.walKeepSize ?? '512MB',
        extra: options.settings ?? {},
      });
      if ((await dirState(this.dataDir)) === 'non-empty') {
        throw new PgManagerError('DATA_DIR_NOT_EMPTY', `initPrimary: ${this.dataDir} is not empty`);
      }
      await ensureDir(this.dataDir, 0o700, this.osUser);
      const init = await this.#runner.run({
        command: this.binaries.path('initdb'),
        args: [
          '-D', this.dataDir,
          '-U', this.superuser,
          '--auth-local=trust',
          '--auth-host=scram-sha-256',
          '--data-checksums',
          '--encoding=UTF8',
          `--locale=${locale}`,
          '--no-instructions',
        ],
        timeoutMs: this.timeouts.initdbMs,
      });
      const confPath = join(this.dataDir, 'postgresql.conf');
      await writeFileAtomic(confPath, (await readFile(confPath, 'utf8')) + block, 0o600, this.osUser);
      await writeFileAtomic(join(this.dataDir, 'pg_hba.conf'), hba, 0o600, this.osUser);
      await this.#writeManagedConf({ ...DEFAULT_RUNTIME_SETTINGS });
      await this.#writePgpass(replicationUser, password);
      await this.#startUnlocked(generation);
      await this.withSql((s) => ensureReplicationRole(s, replicationUser, password));
      const control = await this.controlData();
      if (control.dataChecksumVersion === 0) throw new PgManagerError('UNEXPECTED_RESULT', 'initdb left data checksums off');
      const durationMs = Date.now() - t0;
      this.#log.info({ initdbMs: init.durationMs, durationMs }, 'primary initialized');
      return { systemIdentifier: control.systemIdentifier, initdbMs: init.durationMs, durationMs };
    });
  }

  /**
   * Starts the server (pg_ctl start -w) after rewriting the managed file, and waits (bounded) until
   * it accepts connections. Already running → checks it answers and returns.
   */
  start(options: { timeoutMs?: number } = {}): Promise<{ alreadyRunning: boolean; durationMs: number }> {
    const generation = this.#fenceGeneration;
    return this.#exclusive('start', () => this.#startUnlocked(generation, options.timeoutMs));
  }

  #assertNotFencedSince(generation: number, op: string): void {
    if (generation !== this.#fenceGeneration) {
      throw new PgManagerError('FENCED', `${op}: the instance was fenced after this operation was requested; not starting PostgreSQL`);
    }
  }

  async #startUnlocked(generation: number, timeoutMs = this.timeouts.startMs): Promise<{ alreadyRunning: boolean; durationMs: number }> {
    const t0 = Date.now();
    this.#assertNotFencedSince(generation, 'start');
    const deadline = t0 + timeoutMs;
    if ((await serverStatus(this.#ctx)).running) {
      await this.#waitReady(deadline);
      return { alreadyRunning: true, durationMs: Date.now() - t0 };
    }
    await this.#prepareStart();
    const orphans = await waitForOrphans(this.dataDir, this.timeouts.orphanWaitMs);
    if (orphans.length > 0) {
      throw new PgManagerError('START_FAILED', `orphaned postgres processes ${orphans.join(', ')} of a crashed postmaster still run in ${this.dataDir}`);
    }
    await this.#removeStalePidFile();
    this.#assertNotFencedSince(generation, 'start');
    await pgCtlStart(this.#ctx, Math.max(1000, deadline - Date.now()));
    if (generation !== this.#fenceGeneration) {
      // A fence ran while pg_ctl was starting (it may have found nothing to stop yet): undo.
      await pgCtlStop(this.#ctx, 'fast', this.timeouts.fenceFastMs).catch(() => pgCtlStop(this.#ctx, 'immediate', 10_000));
      this.#assertNotFencedSince(generation, 'start');
    }
    await this.#waitReady(deadline);
    const durationMs = Date.now() - t0;
    this.#log.info({ durationMs }, 'postgres started');
    return { alreadyRunning: false, durationMs };
  }

  /** pg_ctl stop -m fast|immediate -w, then waits for the postmaster PID to be gone. Not running → no-op. */
  stop(options: { mode: 'fast' | 'immediate'; timeoutMs?: number }): Promise<{ wasRunning: boolean; durationMs: number }> {
    return this.#exclusive('stop', async () => {
      if (options.mode !== 'fast' && options.mode !== 'immediate') throw new PgManagerError('INVALID_ARGUMENT', `bad stop mode ${String(options.mode)}`);
      const t0 = Date.now();
      const wasRunning = await pgCtlStop(this.#ctx, options.mode, options.timeoutMs ?? this.timeouts.stopMs);
      const durationMs = Date.now() - t0;
      this.#log.info({ mode: options.mode, wasRunning, durationMs }, 'postgres stopped');
      return { wasRunning, durationMs };
    });
  }

  /** pg_ctl status, cross-checked with the postmaster.pid PID being a live (non-zombie) postgres. */
  async isRunning(): Promise<boolean> {
    return (await serverStatus(this.#ctx)).running;
  }

  status(): Promise<{ running: boolean; pid: number | undefined }> {
    return serverStatus(this.#ctx);
  }

  /** pg_controldata, validated. Works whether or not the server runs. */
  async controlData(): Promise<ControlData> {
    const res = await this.#runner.run({ command: this.binaries.path('pg_controldata'), args: ['-D', this.dataDir], timeoutMs: 10_000 });
    return parseControlData(res.stdout);
  }

  /**
   * The fence: stop PostgreSQL. `default_transaction_read_only` is NOT a fence — any session can
   * `SET default_transaction_read_only = off` or `BEGIN READ WRITE` — only a stopped postmaster
   * accepts no writes. Fast shutdown first (clients are disconnected, a shutdown checkpoint is
   * written and every walsender waits for its standby to confirm it); if it does not finish
   * within `fastTimeoutMs`, immediate (SIGQUIT, crash recovery at next start); if even that
   * hangs, SIGKILL of the postmaster. The postmaster is signalled directly, without pg_ctl, and
   * the timeouts are in milliseconds: the hub gives the fast attempt half its demotion budget.
   * Never queued behind other
   * operations on this instance, and a start (or initPrimary/followAsStandby) requested before
   * the fence fails with FENCED instead of bringing the server back; call start() again after
   * the fence to start deliberately.
   */
  async fence(options: { fastTimeoutMs?: number; immediateTimeoutMs?: number } = {}): Promise<{ method: FenceMethod; durationMs: number }> {
    const t0 = Date.now();
    this.#fenceGeneration++;
    const done = (method: FenceMethod): { method: FenceMethod; durationMs: number } => {
      const durationMs = Date.now() - t0;
      this.#log.warn({ method, durationMs }, 'postgres fenced');
      return { method, durationMs };
    };
    const fastTimeoutMs = options.fastTimeoutMs ?? this.timeouts.fenceFastMs;
    const fast = await signalAndWait(this.dataDir, 'fast', fastTimeoutMs).catch((err: unknown) => {
      this.#log.error({ err: describeError(err) }, 'fast shutdown could not be requested');
      return false as const;
    });
    if (fast !== false) return done(fast === 'stopped' ? 'fast' : 'not-running');
    // Still running: typically a walsender waiting for a standby that went silent to confirm
    // the shutdown checkpoint (up to wal_sender_timeout). Writes already ended at the request.
    this.#log.error({ fastTimeoutMs }, 'fast shutdown did not fence in time; trying immediate');
    const immediateTimeoutMs = options.immediateTimeoutMs ?? 10_000;
    const immediate = await signalAndWait(this.dataDir, 'immediate', immediateTimeoutMs).catch((err: unknown) => {
      this.#log.error({ err: describeError(err) }, 'immediate shutdown could not be requested');
      return false as const;
    });
    // 'not-running' here: the fast shutdown finished just before the immediate request.
    if (immediate !== false) return done(immediate === 'stopped' ? 'immediate' : 'fast');
    this.#log.error({ immediateTimeoutMs }, 'immediate shutdown did not finish in time; SIGKILL the postmaster');
    const pid = await signalPostmaster(this.dataDir, 'SIGKILL');
    if (pid !== undefined && !(await waitForExit(pid, 10_000))) {
      throw new PgManagerError('STOP_TIMEOUT', `postmaster ${pid} survived SIGKILL`);
    }
    await waitForOrphans(this.dataDir, this.timeouts.orphanWaitMs);
    return done('sigkill');
  }

  // ---------------------------------------------------------------- roles: promote, clone, follow

  /**
   * Promotes a standby: pg_promote(wait => true), then checks pg_is_in_recovery() = false, then
   * CHECKPOINT (PostgreSQL 15's pg_rewind reads the timeline from pg_control, which only moves
   * at a checkpoint — the old primary could not be rewound against us until then), then clears
   * primary_conninfo/primary_slot_name from the managed file. `synchronous` is applied *before*
   * promoting, so the very first commit as primary already waits for a standby. Already a
   * primary → { promoted: false }.
   */
  promote(
    options: {
      timeoutMs?: number;
      synchronous?: { names: readonly string[]; strict?: boolean };
      /**
       * 'background': return as soon as the server is a primary and run the CHECKPOINT after
       * (its failure is logged): the caller publishes the new primary ~50-100 ms sooner. A
       * follower's pg_rewind CHECKPOINTs the source itself first, so nothing depends on it.
       */
      checkpoint?: 'wait' | 'background';
    } = {},
  ): Promise<{ promoted: boolean; timeline: number; promoteMs: number; checkpointMs: number; durationMs: number }> {
    return this.#exclusive('promote', async () => {
      const t0 = Date.now();
      const timeoutMs = options.timeoutMs ?? this.timeouts.promoteMs;
      const inRecovery = await this.withSql(async (s) =>
        bool(exactlyOneRow(await s.query('promote', 'SELECT pg_is_in_recovery() AS r'), 'promote'), 'r', 'promote'),
      );
      if (!inRecovery) {
        return { promoted: false, timeline: await this.#currentTimeline(), promoteMs: 0, checkpointMs: 0, durationMs: Date.now() - t0 };
      }
      if (options.synchronous !== undefined) {
        const v = renderSynchronousStandbyNames(options.synchronous.names, options.synchronous.strict ?? false);
        await this.#applyRuntime({ synchronousStandbyNames: v }, [['synchronous_standby_names', v]]);
      }
      const tp = Date.now();
      await this.withSql(
        async (s) => {
          // pg_promote(wait => true) checks for the end of recovery only every 100 ms; a
          // switchover's whole budget is about a second, so signal and poll every 10 ms instead.
          const r = exactlyOneRow(await s.query('pg_promote', 'SELECT pg_promote(false) AS ok'), 'pg_promote');
          if (!bool(r, 'ok', 'pg_promote')) throw new PgManagerError('PROMOTE_FAILED', 'pg_promote could not signal the startup process');
          for (;;) {
            const after = exactlyOneRow(await s.query('promote check', 'SELECT pg_is_in_recovery() AS r'), 'promote check');
            if (!bool(after, 'r', 'promote check')) break;
            if (Date.now() - tp > timeoutMs) throw new PgManagerError('PROMOTE_FAILED', `still in recovery ${timeoutMs} ms after pg_promote`);
            await new Promise((resolve) => setTimeout(resolve, PROMOTE_POLL_MS));
          }
        },
        { connectMs: this.timeouts.sqlConnectMs, queryMs: timeoutMs + 5000 },
      );
      const promoteMs = Date.now() - tp;
      const tc = Date.now();
      const checkpoint = this.withSql((s) => s.query('checkpoint after promote', 'CHECKPOINT'), {
        connectMs: this.timeouts.sqlConnectMs,
        queryMs: Math.max(this.timeouts.sqlQueryMs, 300_000),
      });
      if (options.checkpoint === 'background') {
        void checkpoint.then(
          () => this.#log.info({ checkpointMs: Date.now() - tc }, 'checkpoint after promotion done'),
          (err: unknown) => this.#log.warn({ err: describeError(err) }, 'checkpoint after promotion failed (the next one will do)'),
        );
      } else await checkpoint;
      const checkpointMs = options.checkpoint === 'background' ? 0 : Date.now() - tc;
      await this.#applyRuntime({ primaryConninfo: '', primarySlotName: '' }, []);
      const timeline = await this.#currentTimeline();
      const durationMs = Date.now() - t0;
      this.#log.info({ timeline, promoteMs, checkpointMs, durationMs }, 'promoted');
      return { promoted: true, timeline, promoteMs, checkpointMs, durationMs };
    });
  }

  async #currentTimeline(): Promise<number> {
    const snap = await this.withSql(observeSession);
    return snap.timeline;
  }

  /**
   * Makes this (stopped) node a new standby: pg_basebackup -X stream through the primary's slot
   * (-S), then standby.signal and, in the managed file, primary_conninfo (application_name = our
   * node name, password from a passfile) and primary_slot_name. Refuses a non-empty data
   * directory unless `wipe` (and then only one that looks like a PostgreSQL data directory).
   * Does not start the server.
   */
  cloneFrom(source: ReplicationSource, options: { wipe?: boolean; timeoutMs?: number } = {}): Promise<{ durationMs: number }> {
    return this.#exclusive('cloneFrom', () => this.#cloneUnlocked(source, options));
  }

  /**
   * A clone of ours began and did not finish: the data directory (if any) must not be started,
   * followed or rewound; cloneFrom replaces it without being asked to wipe.
   */
  cloneIncomplete(): Promise<boolean> {
    return pathExists(this.cloneMarkerFile);
  }

  /**
   * Our WAL after the fork from the source's timeline (where the source's history says our
   * timeline ended), read before pg_rewind replaces it. Null when the fork is not in the source's
   * history or pg_waldump cannot say: an account for the operator, never a reason to fail.
   */
  async #walAfterFork(source: ReplicationSource, password: Secret, sourceTimeline: number, localTimeline: number): Promise<WalAfterFork | null> {
    try {
      const history = (await identifySource(source, password, this.#sqlTimeouts, sourceTimeline)).history ?? [];
      const fork = history.find((h) => h.timeline === localTimeline)?.switchpoint;
      if (fork === undefined) return null;
      return await walAfterFork(this.#runner, this.binaries, this.dataDir, localTimeline, fork, this.timeouts.rewindMs);
    } catch (err) {
      this.#log.warn({ err: describeError(err) }, 'could not read the WAL after the fork');
      return null;
    }
  }

  /** Wipes the data directory and clones it again (the answer to REWIND_FAILED). Explicit only. */
  reclone(source: ReplicationSource, options: { timeoutMs?: number } = {}): Promise<{ durationMs: number }> {
    return this.#exclusive('reclone', () => this.#cloneUnlocked(source, { ...options, wipe: true }));
  }

  async #cloneUnlocked(source: ReplicationSource, options: { wipe?: boolean; timeoutMs?: number }): Promise<{ durationMs: number }> {
    const t0 = Date.now();
    validateSource(source);
    const password = await readPasswordFile(source.passwordFile);
    const state = await dirState(this.dataDir);
    if (state === 'non-empty') {
      // What an interrupted clone of ours left is ours to replace, whatever it looks like.
      const interrupted = await this.cloneIncomplete();
      if (options.wipe !== true && !interrupted) {
        throw new PgManagerError('DATA_DIR_NOT_EMPTY', `cloneFrom: ${this.dataDir} is not empty (pass wipe: true, or use reclone(), to replace it)`);
      }
      if (!interrupted && !(await pathExists(join(this.dataDir, 'PG_VERSION'))) && !(await pathExists(join(this.dataDir, 'backup_label')))) {
        throw new PgManagerError('NOT_A_DATA_DIR', `refusing to wipe ${this.dataDir}: it does not look like a PostgreSQL data directory`);
      }
      await this.#assertStopped('cloneFrom');
      await wipeDirContents(this.dataDir);
      this.#log.warn({ dataDir: this.dataDir, interrupted }, interrupted ? 'data directory of an interrupted clone wiped' : 'data directory wiped for a re-clone');
    }
    await ensureDir(this.dataDir, 0o700, this.osUser);
    await this.#writePgpass(source.user, password);
    await writeFileAtomic(this.cloneMarkerFile, `${new Date().toISOString()} ${source.host}:${source.port}\n`, 0o600, this.osUser);
    try {
      await this.#runner.run({
        command: this.binaries.path('pg_basebackup'),
        args: [
          '-D', this.dataDir,
          '-d', toolConninfo(source, `hubha-clone-${this.nodeName}`, this.pgpassFile),
          '-X', 'stream',
          '-S', source.slot,
          '-c', 'fast',
          '-w',
        ],
        env: { PGPASSFILE: this.pgpassFile },
        timeoutMs: options.timeoutMs ?? this.timeouts.basebackupMs,
      });
    } catch (err) {
      throw new PgManagerError('CLONE_FAILED', `pg_basebackup from ${source.host}:${source.port} failed: ${describeError(err)}`, { cause: err });
    }
    await this.#assertDataDir();
    await this.#setStandbySignal();
    await this.#writeManagedConf({
      ...DEFAULT_RUNTIME_SETTINGS,
      primaryConninfo: primaryConninfo(source, this.nodeName, this.pgpassFile),
      primarySlotName: source.slot,
    });
    await rm(this.cloneMarkerFile, { force: true });
    const durationMs = Date.now() - t0;
    this.#log.info({ source: `${source.host}:${source.port}`, slot: source.slot, durationMs }, 'cloned');
    return { durationMs };
  }

  /**
   * Turns this stopped former primary or standby into a standby of `source`:
   * 1. a crashed cluster (pg_control not "shut down") first finishes crash recovery in
   *    single-user mode, as Patroni does, so pg_rewind gets the clean shutdown it requires;
   * 2. the source's system identifier must match (else SYSTEM_ID_MISMATCH: re-clone);
   * 3. on a different timeline, CHECKPOINT the source and run pg_rewind (which reports "no rewind
   *    required" when we are an ancestor of the source's timeline); failure → REWIND_FAILED;
   *    the same timeline with a different history → TIMELINE_DIVERGED (pg_rewind cannot see it);
   * 4. standby.signal, primary_conninfo and primary_slot_name; start;
   * 5. unless `dropStaleSlots: false`, drop inactive slots on this node (a former primary keeps
   *    its slots, which would pin WAL on the standby forever) except `keepSlots`.
   */
  followAsStandby(
    source: ReplicationSource,
    options: {
      dropStaleSlots?: boolean;
      keepSlots?: readonly string[];
      startTimeoutMs?: number;
      /**
       * This server was the primary of a switchover to `source`: it stopped cleanly with its
       * shutdown checkpoint at `shutdownCheckpointLsn` on `timeline`, which the source replayed
       * before promoting. When pg_control and the source's timeline history both confirm it, no
       * pg_rewind runs (it would only say "no rewind required", after a CHECKPOINT of the source).
       */
      handedOverAt?: { readonly timeline: number; readonly shutdownCheckpointLsn: Lsn };
    } = {},
  ): Promise<FollowResult> {
    const generation = this.#fenceGeneration;
    return this.#exclusive('followAsStandby', async () => {
      const t0 = Date.now();
      validateSource(source);
      await this.#assertStopped('followAsStandby');
      await this.#assertDataDir();
      const password = await readPasswordFile(source.passwordFile);
      await this.#writePgpass(source.user, password);
      const orphans = await waitForOrphans(this.dataDir, this.timeouts.orphanWaitMs);
      if (orphans.length > 0) {
        throw new PgManagerError('INSTANCE_RUNNING', `orphaned postgres processes ${orphans.join(', ')} still run in ${this.dataDir}`);
      }

      await this.#removeStalePidFile();
      let control = await this.controlData();
      let crashRecovered = false;
      let crashRecoveryMs = 0;
      // A standby that crashed ("in archive recovery") needs no crash recovery: started again as
      // a standby it replays on from its restartpoint and follows the source's timeline itself.
      // Single-user recovery would end recovery and write checkpoints of its own — a history the
      // source does not have (TIMELINE_DIVERGED, a needless re-clone).
      const crashedStandby = control.clusterState === 'in archive recovery';
      if (!isCleanShutdown(control) && !crashedStandby) {
        this.#log.warn({ state: control.clusterState }, 'not shut down cleanly: crash recovery in single-user mode before rewinding');
        await rm(join(this.dataDir, 'standby.signal'), { force: true });
        await rm(join(this.dataDir, 'recovery.signal'), { force: true });
        await this.#writeManagedConf(await this.#loadRuntime());
        crashRecoveryMs = (await singleUserCrashRecovery(this.#ctx, this.timeouts.crashRecoveryMs)).durationMs;
        control = await this.controlData();
        if (!isCleanShutdown(control)) {
          throw new PgManagerError('CRASH_RECOVERY_FAILED', `after single-user recovery pg_control still says "${control.clusterState}"`);
        }
        crashRecovered = true;
      }

      const local = localTimelineAndEnd(control);
      const { id } = await identifySource(source, password, this.#sqlTimeouts);
      if (crashedStandby && id.systemId !== control.systemIdentifier) {
        throw new PgManagerError('SYSTEM_ID_MISMATCH', `source system identifier ${id.systemId} differs from ours ${control.systemIdentifier}: not the same database; re-clone`);
      }
      let localHistory: TimelineHistoryEntry[] | undefined;
      let sourceHistory: TimelineHistoryEntry[] | undefined;
      if (id.timeline === local.timeline && local.timeline > 1) {
        localHistory = await this.#localHistory(local.timeline);
        sourceHistory = (await identifySource(source, password, this.#sqlTimeouts, local.timeline)).history;
      }
      const handedOver = options.handedOverAt === undefined || crashedStandby ? false : await this.#confirmHandover(control, id.timeline, options.handedOverAt, source, password);
      const decision: RewindDecision = crashedStandby || handedOver ? { kind: 'none' } : decideRewind(
        { systemId: control.systemIdentifier, timeline: local.timeline, end: local.end, history: localHistory },
        { systemId: id.systemId, timeline: id.timeline, flush: id.flush, history: sourceHistory },
      );
      this.#log.info({ decision, localTimeline: local.timeline, sourceTimeline: id.timeline }, 'follow: rewind decision');
      if (decision.kind === 'system-mismatch') {
        throw new PgManagerError(
          'SYSTEM_ID_MISMATCH',
          `source system identifier ${id.systemId} differs from ours ${control.systemIdentifier}: not the same database; re-clone`,
        );
      }
      if (decision.kind === 'diverged') throw new PgManagerError('TIMELINE_DIVERGED', `cannot follow ${source.host}:${source.port}: ${decision.reason}; re-clone`);

      let rewind: FollowResult['rewind'] = 'not-needed';
      let divergedAt: Lsn | undefined;
      let afterFork: WalAfterFork | null = null;
      let rewindMs = 0;
      if (decision.kind === 'rewind') {
        const tr = Date.now();
        afterFork = await this.#walAfterFork(source, password, id.timeline, local.timeline);
        try {
          await checkpointSource(source, password, this.#sqlTimeouts);
        } catch (err) {
          throw new PgRewindError(`cannot CHECKPOINT the source before pg_rewind: ${describeError(err)}`, { cause: err });
        }
        let out: string;
        try {
          const res = await this.#runner.run({
            command: this.binaries.path('pg_rewind'),
            args: [
              `--target-pgdata=${this.dataDir}`,
              `--source-server=${toolConninfo(source, `hubha-rewind-${this.nodeName}`, this.pgpassFile)}`,
              '--no-ensure-shutdown',
              '--progress',
            ],
            env: { PGPASSFILE: this.pgpassFile },
            timeoutMs: this.timeouts.rewindMs,
          });
          out = res.stdout + res.stderr;
        } catch (err) {
          throw new PgRewindError(`pg_rewind against ${source.host}:${source.port} failed (re-clone with reclone()): ${describeError(err)}`, {
            cause: err,
          });
        }
        this.#log.info({ output: tailOf(out, 4000) }, 'pg_rewind output');
        const verdict = parseRewindOutput(out);
        rewind = verdict.rewound ? 'rewound' : 'no-rewind-required';
        divergedAt = verdict.divergedAt;
        rewindMs = Date.now() - tr;
        this.#log.info({ rewind, rewindMs, divergedAt: divergedAt === undefined ? null : formatLsn(divergedAt), localEnd: formatLsn(local.end), walAfterFork: afterFork }, 'pg_rewind done');
      }

      await this.#setStandbySignal();
      await this.#writeManagedConf({
        ...DEFAULT_RUNTIME_SETTINGS,
        primaryConninfo: primaryConninfo(source, this.nodeName, this.pgpassFile),
        primarySlotName: source.slot,
      });
      await this.#startUnlocked(generation, options.startTimeoutMs);

      const dropped: string[] = [];
      if (options.dropStaleSlots !== false) {
        const keep = new Set(options.keepSlots ?? []);
        for (const slot of await this.withSql(readSlots)) {
          if (slot.type === 'physical' && !slot.active && !keep.has(slot.name)) {
            if ((await this.withSql((s) => dropSlot(s, slot.name))).dropped) dropped.push(slot.name);
          }
        }
      }
      const durationMs = Date.now() - t0;
      this.#log.info({ crashRecovered, rewind, walAfterFork: afterFork, dropped, durationMs }, 'following as standby');
      return { crashRecovered, rewind, divergedAt, walAfterFork: afterFork, droppedSlots: dropped, crashRecoveryMs, rewindMs, durationMs };
    });
  }

  /** See followAsStandby's `handedOverAt`: true only when everything matches. */
  async #confirmHandover(control: ControlData, sourceTimeline: number, at: { readonly timeline: number; readonly shutdownCheckpointLsn: Lsn }, source: ReplicationSource, password: Secret): Promise<boolean> {
    if (control.clusterState !== 'shut down' || control.latestCheckpointTimeline !== at.timeline || control.latestCheckpointLocation !== at.shutdownCheckpointLsn) return false;
    if (sourceTimeline <= at.timeline) return false;
    const history = (await identifySource(source, password, this.#sqlTimeouts, sourceTimeline)).history;
    const fork = history?.find((e) => e.timeline === at.timeline);
    const confirmed = fork !== undefined && fork.switchpoint > at.shutdownCheckpointLsn;
    this.#log.info({ confirmed, forkedAt: fork === undefined ? null : formatLsn(fork.switchpoint), shutdownCheckpoint: formatLsn(at.shutdownCheckpointLsn) }, 'follow after a switchover: does the source fork after our shutdown checkpoint?');
    return confirmed;
  }

  async #localHistory(tl: number): Promise<TimelineHistoryEntry[] | undefined> {
    try {
      return parseTimelineHistory(await readFile(join(this.dataDir, 'pg_wal', historyFileName(tl)), 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  // ---------------------------------------------------------------- observation and runtime settings

  /**
   * A validated snapshot. Unreachable → `{ up: false, running, reason, control }` (pg_control
   * still tells the timeline and how it was shut down).
   */
  async observe(): Promise<PgSnapshot> {
    const observedAt = new Date();
    try {
      return await this.withSql(observeSession, { connectMs: 3000, queryMs: 10_000 });
    } catch (err) {
      if (!(err instanceof PgQueryError && err.code === 'CONNECT_FAILED')) throw err;
      const running = await this.isRunning().catch(() => false);
      const control = await this.controlData().catch(() => null);
      return { up: false, observedAt, running, reason: describeError(err), control };
    }
  }

  /**
   * synchronous_standby_names = `FIRST 1 ("a", ...)`, or async for an empty list ('*' with
   * `strict`). Written to the managed file, pg_reload_conf(), then read back with SHOW until it
   * matches (SETTING_NOT_APPLIED past `timeouts.reloadMs`). While stopped: applies at next start.
   */
  setSynchronousStandbys(
    names: readonly string[],
    options: SynchronousOptions = {},
  ): Promise<{ value: string; applied: 'now' | 'next-start'; durationMs: number }> {
    return this.#exclusive('setSynchronousStandbys', async () => {
      if (!Array.isArray(names)) throw new PgManagerError('INVALID_ARGUMENT', 'names must be an array');
      const value = renderSynchronousStandbyNames(names, options.strict ?? false);
      const r = await this.#applyRuntime({ synchronousStandbyNames: value }, [['synchronous_standby_names', value]]);
      return { value, ...r };
    });
  }

  /**
   * default_transaction_read_only. A courtesy for draining, NOT a fence: any session can override
   * it (SET default_transaction_read_only = off, BEGIN READ WRITE). Use fence() to stop writes.
   */
  setDefaultReadOnly(on: boolean): Promise<{ applied: 'now' | 'next-start'; durationMs: number }> {
    return this.#exclusive('setDefaultReadOnly', () =>
      this.#applyRuntime({ defaultTransactionReadOnly: on }, [['default_transaction_read_only', on ? 'on' : 'off']]),
    );
  }

  async #applyRuntime(
    patch: Partial<RuntimeSettings>,
    expect: ReadonlyArray<readonly [string, string]>,
  ): Promise<{ applied: 'now' | 'next-start'; durationMs: number }> {
    const t0 = Date.now();
    await this.#writeManagedConf({ ...(await this.#loadRuntime()), ...patch });
    if (!(await serverStatus(this.#ctx)).running) return { applied: 'next-start', durationMs: Date.now() - t0 };
    await this.withSql(async (s) => {
      const ok = exactlyOneRow(await s.query('pg_reload_conf', 'SELECT pg_reload_conf() AS ok'), 'pg_reload_conf');
      if (!bool(ok, 'ok', 'pg_reload_conf')) throw new PgManagerError('SETTING_NOT_APPLIED', 'pg_reload_conf() returned false');
      const errors = await s.query(
        'pg_file_settings',
        'SELECT sourcefile, sourceline, name, error FROM pg_file_settings WHERE error IS NOT NULL',
      );
      if (errors.length > 0) {
        throw new PgManagerError('SETTING_NOT_APPLIED', `configuration files have errors: ${JSON.stringify(errors).slice(0, 500)}`);
      }
      const deadline = Date.now() + this.timeouts.reloadMs;
      for (const [name, want] of expect) {
        for (;;) {
          const got = str(exactlyOneRow(await s.query(`SHOW ${name}`, 'SELECT current_setting($1) AS v', [name]), name), 'v', name);
          if (got === want) break;
          if (Date.now() >= deadline) {
            throw new PgManagerError('SETTING_NOT_APPLIED', `${name} is ${JSON.stringify(got)} after reload, expected ${JSON.stringify(want)}`);
          }
          await sleep(20);
        }
      }
    });
    const durationMs = Date.now() - t0;
    this.#log.info({ patch: Object.keys(patch), durationMs }, 'runtime settings applied');
    return { applied: 'now', durationMs };
  }

  // ---------------------------------------------------------------- slots and promotion records

  /** Physical slot, WAL reserved immediately; idempotent. */
  createSlot(name: string): Promise<{ created: boolean }> {
    return this.withSql((s) => createPhysicalSlot(s, name));
  }

  /** Idempotent; SLOT_ACTIVE while a standby streams through it. */
  dropSlot(name: string): Promise<{ dropped: boolean }> {
    return this.withSql((s) => dropSlot(s, name));
  }

  listSlots(): Promise<ReplicationSlotInfo[]> {
    return this.withSql(readSlots);
  }

  /** Records in hubha.promotions that fencing epoch `epoch` promoted this database (see promotions.ts). */
  recordPromotion(args: { epoch: bigint | number; node: string; at?: Date }): Promise<{ record: PromotionRecord; inserted: boolean }> {
    return this.withSql((s) => recordPromotion(s, args));
  }

  listPromotions(): Promise<PromotionRecord[]> {
    return this.withSql(listPromotions);
  }
}

function absolute(what: string, p: unknown): string {
  if (typeof p !== 'string' || !isAbsolute(p)) throw new PgManagerError('INVALID_ARGUMENT', `${what} must be an absolute path, got ${JSON.stringify(p)}`);
  const n = normalize(p).replace(/\/+$/, '');
  if (n === '' || n === '/') throw new PgManagerError('INVALID_ARGUMENT', `${what} must not be /`);
  return n;
}
