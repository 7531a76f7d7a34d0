import { PgManagerError } from './errors.js';
import { quoteGucValue, validateCidr, validateGucName, validateNodeName, validateRoleName } from './quoting.js';

/*
 * The configuration files we generate. Two layers:
 *
 * - postgresql.conf gets, once at initPrimary, a block of cluster-wide HA settings ending with
 *   `include = 'conf.d/hubha.conf'`. pg_basebackup and pg_rewind copy postgresql.conf and
 *   pg_hba.conf from the peer, so nothing node-specific may live there.
 * - conf.d/hubha.conf, the *managed file*, holds the node-specific settings (port, addresses,
 *   socket directory, cluster_name), the replication timeouts derived from the hub's timings
 *   (wal_sender_timeout, wal_receiver_timeout, wal_receiver_status_interval — each hub's own
 *   configuration decides, and a timing change takes effect at the next start or runtime
 *   change, with no re-initialization) and the ones we change at runtime (primary_conninfo,
 *   primary_slot_name, synchronous_standby_names, default_transaction_read_only). We rewrite it
 *   atomically from our own state before every start and after every clone or rewind (which
 *   copied the peer's version over ours), and on runtime changes followed by pg_reload_conf().
 *
 * Why a managed include file and not ALTER SYSTEM (postgresql.auto.conf): ALTER SYSTEM needs a
 * running server, but primary_conninfo must be written while the server is stopped (after a
 * clone, before following a new primary); a file write is atomic for all our settings at once;
 * and the file is regenerated from our state, so a copy from the peer cannot leave the peer's
 * port or conninfo behind. postgresql.auto.conf is read after postgresql.conf and would
 * override us, so we strip our keys from it (sanitizeAutoConf) before starting.
 */

export const MANAGED_CONF_RELPATH = 'conf.d/hubha.conf';
const MANAGED_HEADER = '# hubha-managed-v1';

/** Settings we change at runtime; persisted in the managed file. */
export interface RuntimeSettings {
  /** libpq conninfo of the primary to stream from; '' when not a standby. */
  readonly primaryConninfo: string;
  /** Slot on the primary; '' for none. */
  readonly primarySlotName: string;
  readonly synchronousStandbyNames: string;
  readonly defaultTransactionReadOnly: boolean;
}

export const DEFAULT_RUNTIME_SETTINGS: RuntimeSettings = {
  primaryConninfo: '',
  primarySlotName: '',
  synchronousStandbyNames: '',
  defaultTransactionReadOnly: false,
};

/**
 * How fast PostgreSQL notices a replication peer that went silent (a partition, not a crash: a
 * crash closes the connection at once). Managed because PostgreSQL's defaults are far too slow
 * for the hub's timings: the primary's walsender keeps a vanished standby "streaming" in
 * pg_stat_replication until wal_sender_timeout (default 60 s) runs out, and synchronous commits
 * wait that long before the agent can even start its syncDropAfterMs clock (measured: 62 s
 * stalls). A fast shutdown (the fence) also waits for every walsender to deliver the shutdown
 * checkpoint, up to wal_sender_timeout. The hub derives these from its timings
 * (agent/settings.ts, replicationTimeoutsFor); both roles need all three, as hubs swap roles.
 */
export interface ReplicationTimeouts {
  /** Primary: a standby silent this long is disconnected (and leaves pg_stat_replication). */
  readonly walSenderTimeoutMs: number;
  /** Standby: a primary silent this long is disconnected, and the standby reconnects. */
  readonly walReceiverTimeoutMs: number;
  /** Standby: sends its positions at least this often, so the primary never sees a live standby silent. */
  readonly walReceiverStatusIntervalS: number;
  /**
   * Standby: after a failed connection to its primary (restarting, just promoted, partitioned),
   * the wait before the next attempt. PostgreSQL's default of 5 s holds synchronous commits that
   * long after the primary's PostgreSQL restarts, and delays streaming after a heal.
   */
  readonly walRetrieveRetryIntervalMs: number;
}

/** What replicationTimeoutsFor(DEFAULT_HUB_TIMINGS) gives (a test keeps the two equal). */
export const DEFAULT_REPLICATION_TIMEOUTS: ReplicationTimeouts = {
  walSenderTimeoutMs: 2000,
  walReceiverTimeoutMs: 2000,
  walReceiverStatusIntervalS: 1,
  walRetrieveRetryIntervalMs: 1000,
};

/** Bounds of the replication timeouts; below 1 s a loaded machine disconnects live standbys. */
export const REPLICATION_TIMEOUT_BOUNDS_MS = { min: 1000, max: 3_600_000 } as const;

/** Bounds of the retry interval: not a busy loop of connection attempts, not over PostgreSQL's 5 s default. */
export const RETRIEVE_RETRY_BOUNDS_MS = { min: 100, max: 5000 } as const;

/**
 * Checks the timeouts: integers within REPLICATION_TIMEOUT_BOUNDS_MS (0, PostgreSQL's "never",
 * is refused: that is the failure this setting exists to prevent), and a status interval of at
 * most half the sender timeout, so a live standby reports at least twice per timeout window even
 * when the primary is idle and its ping (sent after half the timeout) is lost.
 */
export function validateReplicationTimeouts(r: ReplicationTimeouts): ReplicationTimeouts {
  const { min, max } = REPLICATION_TIMEOUT_BOUNDS_MS;
  for (const [what, ms] of [
    ['walSenderTimeoutMs', r.walSenderTimeoutMs],
    ['walReceiverTimeoutMs', r.walReceiverTimeoutMs],
  ] as const) {
    if (!Number.isInteger(ms) || ms < min || ms > max) throw new PgManagerError('INVALID_ARGUMENT', `${what} must be an integer in [${min}, ${max}], got ${String(ms)}`);
  }
  const s = r.walReceiverStatusIntervalS;
  if (!Number.isInteger(s) || s < 1 || s * 1000 > r.walSenderTimeoutMs / 2) {
    throw new PgManagerError('INVALID_ARGUMENT', `walReceiverStatusIntervalS must be an integer in [1, walSenderTimeoutMs / 2000], got ${String(s)}`);
  }
  const retry = r.walRetrieveRetryIntervalMs;
  if (!Number.isInteger(retry) || retry < RETRIEVE_RETRY_BOUNDS_MS.min || retry > RETRIEVE_RETRY_BOUNDS_MS.max) {
    throw new PgManagerError('INVALID_ARGUMENT', `walRetrieveRetryIntervalMs must be an integer in [${RETRIEVE_RETRY_BOUNDS_MS.min}, ${RETRIEVE_RETRY_BOUNDS_MS.max}], got ${String(retry)}`);
  }
  return r;
}

/** Settings fixed by this node's configuration. */
export interface NodeSettings {
  readonly nodeName: string;
  readonly port: number;
  readonly listenAddresses: readonly string[];
  readonly socketDir: string;
  /** Default DEFAULT_REPLICATION_TIMEOUTS. */
  readonly replication?: ReplicationTimeouts;
}

const RUNTIME_KEYS = {
  primary_conninfo: 'primaryConninfo',
  primary_slot_name: 'primarySlotName',
  synchronous_standby_names: 'synchronousStandbyNames',
  default_transaction_read_only: 'defaultTransactionReadOnly',
} as const;
const REPLICATION_KEYS = ['wal_sender_timeout', 'wal_receiver_timeout', 'wal_receiver_status_interval', 'wal_retrieve_retry_interval'] as const;
const NODE_KEYS = ['listen_addresses', 'port', 'unix_socket_directories', 'cluster_name', ...REPLICATION_KEYS] as const;

/** The managed keys derived from the hub's timings (not from its addresses or state). */
export const MANAGED_REPLICATION_KEYS: readonly string[] = REPLICATION_KEYS;

/** Every key the managed file owns (and that must not be overridden in postgresql.auto.conf). */
export const MANAGED_KEYS: readonly string[] = [...NODE_KEYS, ...Object.keys(RUNTIME_KEYS)];

export function renderManagedConf(node: NodeSettings, rt: RuntimeSettings): string {
  const repl = validateReplicationTimeouts(node.replication ?? DEFAULT_REPLICATION_TIMEOUTS);
  return [
    MANAGED_HEADER,
    '# Managed by hubha: rewritten on every start, clone, rewind and runtime change. Do not edit.',
    `listen_addresses = ${quoteGucValue(node.listenAddresses.join(','))}`,
    `port = ${node.port}`,
    `unix_socket_directories = ${quoteGucValue(node.socketDir)}`,
    `cluster_name = ${quoteGucValue(node.nodeName)}`,
    `wal_sender_timeout = ${quoteGucValue(`${repl.walSenderTimeoutMs}ms`)}`,
    `wal_receiver_timeout = ${quoteGucValue(`${repl.walReceiverTimeoutMs}ms`)}`,
    `wal_receiver_status_interval = ${quoteGucValue(`${repl.walReceiverStatusIntervalS}s`)}`,
    `wal_retrieve_retry_interval = ${quoteGucValue(`${repl.walRetrieveRetryIntervalMs}ms`)}`,
    `primary_conninfo = ${quoteGucValue(rt.primaryConninfo)}`,
    `primary_slot_name = ${quoteGucValue(rt.primarySlotName)}`,
    `synchronous_standby_names = ${quoteGucValue(rt.synchronousStandbyNames)}`,
    `default_transaction_read_only = ${rt.defaultTransactionReadOnly ? 'on' : 'off'}`,
    '',
  ].join('\n');
}

/** Reads a quoted postgresql.conf value ('...' with '' and backslash escapes) back. */
function unquoteGucValue(raw: string): string | undefined {
  if (raw.length < 2 || !raw.startsWith("'") || !raw.endsWith("'")) return undefined;
  const body = raw.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '\\') {
      const n = body[i + 1];
      if (n !== '\\' && n !== "'") return undefined;
      out += n;
      i++;
    } else if (c === "'") {
      if (body[i + 1] !== "'") return undefined;
      out += "'";
      i++;
    } else {
      out += c;
    }
  }
  return out;
}

/**
 * Parses the runtime settings back from a managed file we wrote. Strict: a missing header, an
 * unknown key or an unparsable value is MANAGED_CONF_INVALID (someone edited it by hand).
 */
export function parseManagedConf(text: string): RuntimeSettings {
  const lines = text.split('\n');
  if (lines[0] !== MANAGED_HEADER) {
    throw new PgManagerError('MANAGED_CONF_INVALID', `${MANAGED_CONF_RELPATH}: missing "${MANAGED_HEADER}" header`);
  }
  const rt: { -readonly [K in keyof RuntimeSettings]: RuntimeSettings[K] } = { ...DEFAULT_RUNTIME_SETTINGS };
  for (const [i, line] of lines.entries()) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const m = /^([a-z_]+) = (.*)$/.exec(trimmed);
    const key = m?.[1];
    const raw = m?.[2];
    if (key === undefined || raw === undefined) {
      throw new PgManagerError('MANAGED_CONF_INVALID', `${MANAGED_CONF_RELPATH}:${i + 1}: unparsable line`);
    }
    if ((NODE_KEYS as readonly string[]).includes(key)) continue;
    if (key === 'default_transaction_read_only') {
      if (raw !== 'on' && raw !== 'off') throw new PgManagerError('MANAGED_CONF_INVALID', `${MANAGED_CONF_RELPATH}:${i + 1}: bad boolean`);
      rt.defaultTransactionReadOnly = raw === 'on';
      continue;
    }
    if (!(key in RUNTIME_KEYS)) {
      throw new PgManagerError('MANAGED_CONF_INVALID', `${MANAGED_CONF_RELPATH}:${i + 1}: unknown key "${key}"`);
    }
    const value = unquoteGucValue(raw);
    if (value === undefined) throw new PgManagerError('MANAGED_CONF_INVALID', `${MANAGED_CONF_RELPATH}:${i + 1}: bad quoted value`);
    const field = RUNTIME_KEYS[key as keyof typeof RUNTIME_KEYS];
    if (field !== 'defaultTransactionReadOnly') rt[field] = value;
  }
  return rt;
}

export type GucValue = string | number | boolean;

/** Cluster-wide settings appended to postgresql.conf by initPrimary. */
export interface ClusterSettings {
  readonly maxWalSenders: number;
  readonly maxReplicationSlots: number;
  /**
   * wal_keep_size: WAL kept in pg_wal beyond what slots and checkpoints need. pg_rewind reads the
   * old primary's WAL back to the last checkpoint before the divergence; a checkpoint after the
   * divergence (the shutdown checkpoint of a fast stop, or the end of crash recovery) removes
   * older segments unless they are kept, and the rewind then fails ("could not find previous WAL
   * record") and only a re-clone helps.
   */
  readonly walKeepSize: string;
  /** Other settings (e.g. shared_buffers, max_connections); keys must not be managed ones. */
  readonly extra: Readonly<Record<string, GucValue>>;
}

function renderGuc(name: string, value: GucValue): string {
  validateGucName(name);
  if (MANAGED_KEYS.includes(name)) {
    throw new PgManagerError('INVALID_ARGUMENT', `setting "${name}" is managed by hubha and cannot be set as an extra setting`);
  }
  if (typeof value === 'boolean') return `${name} = ${value ? 'on' : 'off'}`;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new PgManagerError('INVALID_ARGUMENT', `setting "${name}": not a finite number`);
    return `${name} = ${value}`;
  }
  return `${name} = ${quoteGucValue(value)}`;
}

export function renderClusterConfBlock(s: ClusterSettings): string {
  for (const [what, n] of [
    ['maxWalSenders', s.maxWalSenders],
    ['maxReplicationSlots', s.maxReplicationSlots],
  ] as const) {
    if (!Number.isInteger(n) || n < 2 || n > 1000) throw new PgManagerError('INVALID_ARGUMENT', `${what} must be an integer in [2, 1000]`);
  }
  if (!/^\d+(kB|MB|GB|TB)?$/.test(s.walKeepSize)) throw new PgManagerError('INVALID_ARGUMENT', `walKeepSize must look like 512MB, got ${JSON.stringify(s.walKeepSize)}`);
  const lines = [
    '',
    '# --- hubha: cluster-wide HA settings (written by initPrimary, copied to standbys by pg_basebackup/pg_rewind) ---',
    "wal_level = 'replica'",
    `max_wal_senders = ${s.maxWalSenders}`,
    `max_replication_slots = ${s.maxReplicationSlots}`,
    'hot_standby = on',
    '# pg_rewind needs wal_log_hints or data checksums; we have both (initdb --data-checksums).',
    'wal_log_hints = on',
    '# pg_rewind needs the old primary\'s WAL back to the last common checkpoint',
    `wal_keep_size = ${quoteGucValue(s.walKeepSize)}`,
    "password_encryption = 'scram-sha-256'",
    '# only the OS user (and root) may use the unix socket, where the superuser is trusted',
    'unix_socket_permissions = 0700',
    ...Object.entries(s.extra).map(([k, v]) => renderGuc(k, v)),
    '# node-specific and runtime settings; must stay last so they win',
    `include = ${quoteGucValue(MANAGED_CONF_RELPATH)}`,
    '',
  ];
  return lines.join('\n');
}

export interface HbaSettings {
  readonly superuser: string;
  readonly replicationUser: string;
  /** Peers allowed to stream (replication) and rewind (database postgres) as the replication user. */
  readonly peerCidrs: readonly string[];
  /** Clients allowed to connect to any database as any role, with a password. */
  readonly clientCidrs: readonly string[];
}

/** pg_hba.conf: trust only for the superuser on the unix socket; scram-sha-256 for everything over TCP. */
export function renderHba(s: HbaSettings): string {
  validateRoleName('superuser', s.superuser);
  validateRoleName('replicationUser', s.replicationUser);
  const peers = s.peerCidrs.map(validateCidr);
  const clients = s.clientCidrs.map(validateCidr);
  if (peers.length === 0) throw new PgManagerError('INVALID_ARGUMENT', 'at least one peer CIDR is required');
  const row = (...cols: string[]): string => cols.map((c, i) => (i < cols.length - 1 ? c.padEnd(14) : c)).join(' ');
  return [
    '# Written by hubha initPrimary (cluster-wide: copied to standbys by pg_basebackup/pg_rewind).',
    row('# TYPE', 'DATABASE', 'USER', 'ADDRESS', 'METHOD'),
    row('local', 'all', s.superuser, '', 'trust'),
    row('local', 'all', 'all', '', 'scram-sha-256'),
    ...peers.map((c) => row('host', 'replication', s.replicationUser, c, 'scram-sha-256')),
    // pg_rewind and the follow checks connect to a database as the replication user.
    ...peers.map((c) => row('host', 'postgres', s.replicationUser, c, 'scram-sha-256')),
    ...clients.map((c) => row('host', 'all', 'all', c, 'scram-sha-256')),
    '',
  ].join('\n');
}

/** A libpq password file line matching any host/port/database for `user`. */
export function renderPgpass(user: string, password: string): string {
  const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
  return `*:*:*:${esc(user)}:${esc(password)}\n`;
}

/**
 * Drops lines of postgresql.auto.conf that set a key the managed file owns (they would override
 * it: the auto file is read last). Returns the new text and the keys dropped.
 */
export function sanitizeAutoConf(text: string): { text: string; dropped: string[] } {
  const dropped: string[] = [];
  const kept = text.split('\n').filter((line) => {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=?/.exec(line);
    const key = m?.[1]?.toLowerCase();
    if (key !== undefined && !line.trimStart().startsWith('#') && MANAGED_KEYS.includes(key)) {
      dropped.push(key);
      return false;
    }
    return true;
  });
  return { text: kept.join('\n'), dropped };
}

/**
 * synchronous_standby_names for `names`: `FIRST 1 ("a", "b")` (the first connected one in list
 * order is synchronous). An empty list means asynchronous replication (''), unless `strict`: then
 * '*' — any standby must confirm, so commits wait while none is connected (Patroni's
 * synchronous_mode_strict: no acknowledged write is ever on one node only).
 */
export function renderSynchronousStandbyNames(names: readonly string[], strict: boolean): string {
  const unique = [...new Set(names.map(validateNodeName))];
  if (unique.length !== names.length) throw new PgManagerError('INVALID_ARGUMENT', 'duplicate standby names');
  if (unique.length === 0) return strict ? '*' : '';
  return `FIRST 1 (${unique.map((n) => `"${n}"`).join(', ')})`;
}
