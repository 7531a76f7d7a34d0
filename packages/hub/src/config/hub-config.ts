import { stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import type { NodeConfig } from '@hubha/coord';
import { ConfigError } from '@hubha/coord';
import type { HubSettings } from '../agent/settings.js';
import { DEFAULT_HUB_TIMINGS, replicationTimeoutsFor, timingProblems } from '../agent/settings.js';
import type { HubTimings } from '../agent/settings.js';
import { MANAGED_KEYS, MANAGED_REPLICATION_KEYS } from '../postgres/config-files.js';

const argv = z.array(z.string().min(1)).min(1).max(64);
const cidr = z.string().regex(/^[0-9a-fA-F.:]+\/\d{1,3}$/, 'must be an address/prefix (CIDR)');

/** The `hub:` section of a node's configuration (role hub). */
export const hubSectionSchema = z.strictObject({
  postgres: z.strictObject({
    binDir: z.string().min(1).default('/usr/lib/postgresql/15/bin'),
    dataDir: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(5432),
    /** The unix socket directory (default: beside the data directory). */
    socketDir: z.string().min(1).optional(),
    listenAddresses: z.array(z.string().min(1)).min(1).default(['127.0.0.1']),
    /** How other hubs and clients reach this PostgreSQL (default: the first listen address). */
    advertiseHost: z.string().min(1).optional(),
    superuser: z.string().min(1).default('postgres'),
    /** The OS user PostgreSQL runs as (when the sidecar runs as root). */
    osUser: z.string().min(1).default('postgres'),
    replicationUser: z.string().min(1).default('replicator'),
    /** A file (mode 0600) holding the replication role's password. */
    replicationPasswordFile: z.string().min(1),
    peerCidrs: z.array(cidr).default(['127.0.0.0/8']),
    clientCidrs: z.array(cidr).default([]),
    settings: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
    autoReclone: z.boolean().default(true),
  }),
  synchronous: z.enum(['off', 'on', 'strict']).default('on'),
  maximumLagOnFailoverBytes: z.number().int().nonnegative().default(1024 * 1024),
  tags: z.strictObject({ nofailover: z.boolean().default(false), priority: z.number().int().default(100) }).default({ nofailover: false, priority: 100 }),
  vip: z.strictObject({ address: cidr, interface: z.string().min(1).max(15) }).optional(),
  hooks: z
    .strictObject({ onPromote: argv.optional(), onDemote: argv.optional(), onRoleChange: argv.optional(), timeoutMs: z.number().int().min(100).max(600_000).default(30_000) })
    .default({ timeoutMs: 30_000 }),
  timings: z
    .strictObject({
      leaseTtlMs: z.number().int().min(500).max(600_000).default(DEFAULT_HUB_TIMINGS.leaseTtlMs),
      renewIntervalMs: z.number().int().min(50).default(DEFAULT_HUB_TIMINGS.renewIntervalMs),
      loopIntervalMs: z.number().int().min(20).default(DEFAULT_HUB_TIMINGS.loopIntervalMs),
      reportIntervalMs: z.number().int().min(100).default(DEFAULT_HUB_TIMINGS.reportIntervalMs),
      demotionBudgetMs: z.number().int().min(0).default(DEFAULT_HUB_TIMINGS.demotionBudgetMs),
      syncDropAfterMs: z.number().int().min(0).default(DEFAULT_HUB_TIMINGS.syncDropAfterMs),
    })
    .default(DEFAULT_HUB_TIMINGS),
  /** The Linux watchdog while active (see agent/watchdog.ts): off, automatic or required. */
  watchdog: z.strictObject({ mode: z.enum(['off', 'automatic', 'required']).default('off'), device: z.string().min(1).default('/dev/watchdog') }).default({ mode: 'off', device: '/dev/watchdog' }),
  /** A JSON file the hub keeps up to date with the active-hub record, for local consumers. */
  activeHubFile: z.string().min(1).optional(),
});

/** Resolves the hub settings of a node configuration (role hub); throws ConfigError naming each problem. */
export function resolveHubSettings(config: NodeConfig, file: string): HubSettings {
  const parsed = hubSectionSchema.safeParse(config.hub);
  if (!parsed.success) throw new ConfigError(file, parsed.error.issues.map((i) => `hub.${i.path.join('.')}: ${i.message}`));
  const hub = parsed.data;
  const worstElectionMs = 2 * config.raft.electionTimeoutTicks * config.raft.tickMs;
  const problems = [
    ...timingProblems(hub.timings, worstElectionMs).map((p) => `hub.timings: ${p}`),
    ...postgresSettingsProblems(hub.postgres.settings, hub.timings).map((p) => `hub.postgres.settings.${p}`),
  ];
  if (problems.length > 0) throw new ConfigError(file, problems);
  const base = dirname(resolve(file));
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  const dataDir = abs(hub.postgres.dataDir);
  const hubs = config.cluster.members.filter((m) => m.role === 'hub').map((m) => m.name);
  if (!hubs.includes(config.node.name)) hubs.push(config.node.name);
  return {
    name: config.node.name,
    hubs,
    postgres: {
      binDir: hub.postgres.binDir,
      dataDir,
      port: hub.postgres.port,
      socketDir: hub.postgres.socketDir === undefined ? join(dirname(dataDir), 'run') : abs(hub.postgres.socketDir),
      listenAddresses: hub.postgres.listenAddresses,
      advertiseHost: hub.postgres.advertiseHost ?? (hub.postgres.listenAddresses[0] === '*' ? '127.0.0.1' : hub.postgres.listenAddresses[0]!),
      superuser: hub.postgres.superuser,
      osUser: hub.postgres.osUser,
      replicationUser: hub.postgres.replicationUser,
      replicationPasswordFile: abs(hub.postgres.replicationPasswordFile),
      peerCidrs: hub.postgres.peerCidrs,
      clientCidrs: hub.postgres.clientCidrs,
      settings: hub.postgres.settings,
      autoReclone: hub.postgres.autoReclone,
    },
    synchronous: hub.synchronous,
    maximumLagOnFailoverBytes: hub.maximumLagOnFailoverBytes,
    tags: hub.tags,
    vip: hub.vip ?? null,
    hooks: { onPromote: hub.hooks.onPromote ?? null, onDemote: hub.hooks.onDemote ?? null, onRoleChange: hub.hooks.onRoleChange ?? null, timeoutMs: hub.hooks.timeoutMs },
    timings: hub.timings,
    activeHubFile: hub.activeHubFile === undefined ? null : abs(hub.activeHubFile),
    watchdog: hub.watchdog,
  };
}

/** Where each managed key comes from instead, for the error that refuses it in postgres.settings. */
const MANAGED_KEY_SOURCES: Readonly<Record<string, string>> = {
  listen_addresses: 'hub.postgres.listenAddresses',
  port: 'hub.postgres.port',
  unix_socket_directories: 'hub.postgres.socketDir',
  cluster_name: 'node.name',
  primary_conninfo: 'the agent (the active hub it follows)',
  primary_slot_name: 'the agent (the active hub it follows)',
  synchronous_standby_names: 'the agent (hub.synchronous)',
  default_transaction_read_only: 'the agent',
};

/**
 * postgres.settings may not set what hubha manages (conf.d/hubha.conf would silently override
 * it): each such key is refused with where its value comes from. The replication timeouts come
 * from hub.timings.syncDropAfterMs; a different value there would either stall synchronous
 * commits for a vanished standby far longer than syncDropAfterMs (PostgreSQL's 60 s default) or
 * disconnect live standbys.
 */
export function postgresSettingsProblems(settings: Readonly<Record<string, unknown>>, timings: Pick<HubTimings, 'syncDropAfterMs'>): string[] {
  const problems: string[] = [];
  const repl = replicationTimeoutsFor(timings);
  const derived: Readonly<Record<string, string>> = {
    wal_sender_timeout: `${repl.walSenderTimeoutMs}ms`,
    wal_receiver_timeout: `${repl.walReceiverTimeoutMs}ms`,
    wal_receiver_status_interval: `${repl.walReceiverStatusIntervalS}s`,
    wal_retrieve_retry_interval: `${repl.walRetrieveRetryIntervalMs}ms`,
  };
  for (const key of Object.keys(settings)) {
    if (!/^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/.test(key)) {
      problems.push(`${key}: not a PostgreSQL parameter name (lower case letters, digits and _; one dot for a custom one)`);
    } else if (MANAGED_REPLICATION_KEYS.includes(key)) {
      problems.push(
        `${key}: managed by hubha and derived from hub.timings.syncDropAfterMs (${timings.syncDropAfterMs} ms gives ${key} = ${derived[key]}); remove it here and change hub.timings.syncDropAfterMs instead`,
      );
    } else if (MANAGED_KEYS.includes(key)) {
      problems.push(`${key}: managed by hubha (set from ${MANAGED_KEY_SOURCES[key] ?? 'its own state'}); remove it here`);
    }
  }
  return problems;
}

/** Start-up checks that need the filesystem: the password file exists and is private (0600). */
export async function checkHubFiles(settings: HubSettings, file: string): Promise<void> {
  const path = settings.postgres.replicationPasswordFile;
  const info = await stat(path).catch(() => null);
  if (info === null) throw new ConfigError(file, [`hub.postgres.replicationPasswordFile: ${path} does not exist`]);
  if ((info.mode & 0o077) !== 0) throw new ConfigError(file, [`hub.postgres.replicationPasswordFile: ${path} must not be readable by group or others (chmod 600)`]);
}
