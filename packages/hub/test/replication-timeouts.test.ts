import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseNodeConfig } from '@hubha/coord';
import { DEFAULT_HUB_TIMINGS, fenceFastTimeoutFor, replicationTimeoutsFor } from '../src/agent/settings.js';
import { postgresSettingsProblems, resolveHubSettings } from '../src/config/hub-config.js';
import {
  DEFAULT_REPLICATION_TIMEOUTS,
  parseManagedConf,
  renderClusterConfBlock,
  renderManagedConf,
  sanitizeAutoConf,
  validateReplicationTimeouts,
  type RuntimeSettings,
} from '../src/postgres/config-files.js';
import type { PostgresInstance, ReplicationSource } from '../src/index.js';
import { PgLab, eventually, memoryLogger, withClient } from './postgres-helpers.js';

/*
 * wal_sender_timeout and friends: derived from the hub timings, written into the managed file,
 * refused in postgres.settings; and, on real PostgreSQL 15, what they change — a silent standby
 * leaves pg_stat_replication after wal_sender_timeout, not after 60 s, and the fence's fast
 * shutdown, which waits for a silent standby's walsender, is cut short within the demotion budget.
 */

const RT: RuntimeSettings = { primaryConninfo: '', primarySlotName: '', synchronousStandbyNames: '', defaultTransactionReadOnly: false };
const NODE = { nodeName: 'hub1', port: 5432, listenAddresses: ['127.0.0.1'], socketDir: '/run/hubha' };

describe('replication timeouts from the hub timings', () => {
  it('wal_sender_timeout is syncDropAfterMs within [2 s, 60 s]; the defaults are the default timings', () => {
    expect(replicationTimeoutsFor(DEFAULT_HUB_TIMINGS)).toEqual(DEFAULT_REPLICATION_TIMEOUTS);
    expect(replicationTimeoutsFor({ syncDropAfterMs: 0 })).toEqual({ walSenderTimeoutMs: 2000, walReceiverTimeoutMs: 2000, walReceiverStatusIntervalS: 1, walRetrieveRetryIntervalMs: 1000 });
    expect(replicationTimeoutsFor({ syncDropAfterMs: 10_000 })).toEqual({ walSenderTimeoutMs: 10_000, walReceiverTimeoutMs: 10_000, walReceiverStatusIntervalS: 2, walRetrieveRetryIntervalMs: 5000 });
    expect(replicationTimeoutsFor({ syncDropAfterMs: 3_600_000 })).toEqual({ walSenderTimeoutMs: 60_000, walReceiverTimeoutMs: 60_000, walReceiverStatusIntervalS: 15, walRetrieveRetryIntervalMs: 5000 });
    for (const ms of [0, 1999, 2000, 2001, 3999, 4000, 7999, 8000, 59_999, 61_000]) {
      expect(() => validateReplicationTimeouts(replicationTimeoutsFor({ syncDropAfterMs: ms }))).not.toThrow();
    }
  });

  it('validation refuses "never" (0), sub-second timeouts and a status interval over half the sender timeout', () => {
    const ok = DEFAULT_REPLICATION_TIMEOUTS;
    expect(() => validateReplicationTimeouts({ ...ok, walSenderTimeoutMs: 0 })).toThrow(/walSenderTimeoutMs/);
    expect(() => validateReplicationTimeouts({ ...ok, walReceiverTimeoutMs: 500 })).toThrow(/walReceiverTimeoutMs/);
    expect(() => validateReplicationTimeouts({ ...ok, walSenderTimeoutMs: 2000.5 })).toThrow(/walSenderTimeoutMs/);
    expect(() => validateReplicationTimeouts({ ...ok, walReceiverStatusIntervalS: 2 })).toThrow(/walReceiverStatusIntervalS/);
    expect(() => validateReplicationTimeouts({ ...ok, walReceiverStatusIntervalS: 0 })).toThrow(/walReceiverStatusIntervalS/);
    expect(() => validateReplicationTimeouts({ ...ok, walRetrieveRetryIntervalMs: 0 })).toThrow(/walRetrieveRetryIntervalMs/);
    expect(() => validateReplicationTimeouts({ ...ok, walRetrieveRetryIntervalMs: 60_000 })).toThrow(/walRetrieveRetryIntervalMs/);
  });

  it('the managed file carries them (with units); parsing it back ignores them like the other node settings', () => {
    const text = renderManagedConf({ ...NODE, replication: { walSenderTimeoutMs: 5000, walReceiverTimeoutMs: 6000, walReceiverStatusIntervalS: 1, walRetrieveRetryIntervalMs: 700 } }, RT);
    expect(text).toContain("wal_sender_timeout = '5000ms'\n");
    expect(text).toContain("wal_receiver_timeout = '6000ms'\n");
    expect(text).toContain("wal_receiver_status_interval = '1s'\n");
    expect(text).toContain("wal_retrieve_retry_interval = '700ms'\n");
    expect(parseManagedConf(text)).toEqual(RT);
    expect(renderManagedConf(NODE, RT)).toContain("wal_sender_timeout = '2000ms'\n");
    expect(() => renderManagedConf({ ...NODE, replication: { ...DEFAULT_REPLICATION_TIMEOUTS, walSenderTimeoutMs: 0 } }, RT)).toThrow(/walSenderTimeoutMs/);
  });

  it('they are managed keys: refused as extra settings, dropped from postgresql.auto.conf', () => {
    const block = { maxWalSenders: 10, maxReplicationSlots: 10, walKeepSize: '512MB' };
    expect(() => renderClusterConfBlock({ ...block, extra: { wal_sender_timeout: '60s' } })).toThrow(/managed by hubha/);
    expect(() => renderClusterConfBlock({ ...block, extra: { wal_receiver_status_interval: 10 } })).toThrow(/managed by hubha/);
    const { text, dropped } = sanitizeAutoConf("work_mem = '8MB'\nwal_sender_timeout = '60s'\nwal_receiver_timeout = '60s'\n");
    expect(dropped).toEqual(['wal_sender_timeout', 'wal_receiver_timeout']);
    expect(text).toBe("work_mem = '8MB'\n");
  });

  it('postgres.settings: each managed key refused with where its value comes from', () => {
    expect(postgresSettingsProblems({ shared_buffers: '16MB', max_connections: 30 }, DEFAULT_HUB_TIMINGS)).toEqual([]);
    expect(postgresSettingsProblems({ wal_sender_timeout: '60s' }, { syncDropAfterMs: 5000 })).toEqual([
      'wal_sender_timeout: managed by hubha and derived from hub.timings.syncDropAfterMs (5000 ms gives wal_sender_timeout = 5000ms); remove it here and change hub.timings.syncDropAfterMs instead',
    ]);
    expect(postgresSettingsProblems({ wal_receiver_status_interval: 10 }, DEFAULT_HUB_TIMINGS)[0]).toMatch(/wal_receiver_status_interval = 1s/);
    expect(postgresSettingsProblems({ wal_retrieve_retry_interval: '5s' }, DEFAULT_HUB_TIMINGS)[0]).toMatch(/wal_retrieve_retry_interval = 1000ms/);
    expect(postgresSettingsProblems({ port: 5433 }, DEFAULT_HUB_TIMINGS)).toEqual(['port: managed by hubha (set from hub.postgres.port); remove it here']);
    expect(postgresSettingsProblems({ WAL_SENDER_TIMEOUT: '60s' }, DEFAULT_HUB_TIMINGS)[0]).toMatch(/not a PostgreSQL parameter name/);
  });

  it('a configuration that sets one is refused by resolveHubSettings, naming the key', () => {
    const yaml = (settings: string): string => `
cluster:
  id: c
  members:
    - { name: hub1, role: hub, peer: "10.0.0.11:7001", client: "10.0.0.11:7101" }
    - { name: hub2, role: hub, peer: "10.0.0.12:7001", client: "10.0.0.12:7101" }
    - { name: witness, role: witness, peer: "10.0.0.13:7001", client: "10.0.0.13:7101" }
node: { name: hub1, dataDir: /var/lib/hubha/node }
hub:
  postgres: { dataDir: /var/lib/hubha/pg, replicationPasswordFile: /etc/hubha/replication.pass, settings: ${settings} }
`;
    expect(resolveHubSettings(parseNodeConfig(yaml('{ shared_buffers: 16MB }'), '/etc/hubha/hub1.yaml'), '/etc/hubha/hub1.yaml').postgres.settings).toEqual({ shared_buffers: '16MB' });
    let err: unknown;
    try {
      resolveHubSettings(parseNodeConfig(yaml('{ wal_sender_timeout: 60s, cluster_name: x }'), '/etc/hubha/hub1.yaml'), '/etc/hubha/hub1.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([
      'hub.postgres.settings.wal_sender_timeout: managed by hubha and derived from hub.timings.syncDropAfterMs (2000 ms gives wal_sender_timeout = 2000ms); remove it here and change hub.timings.syncDropAfterMs instead',
      'hub.postgres.settings.cluster_name: managed by hubha (set from node.name); remove it here',
    ]);
  });

  it("the fence's fast attempt gets half the demotion budget", () => {
    expect(fenceFastTimeoutFor(DEFAULT_HUB_TIMINGS)).toBe(200);
    expect(fenceFastTimeoutFor({ demotionBudgetMs: 500 })).toBe(250);
  });
});

const PASSWORD = 'rep-Secret-77a1';
const { logger } = memoryLogger();
let lab: PgLab;
let primary: PostgresInstance;
let standby: PostgresInstance;
let source: ReplicationSource;

/** SIGSTOPs the standby's walreceiver: the standby stays up but goes silent, as behind a partition. */
async function freezeWalReceiver(node: PostgresInstance): Promise<() => void> {
  const pid = await eventually('a walreceiver', () =>
    withClient(node, async (c) => (await c.query<{ pid: number | null }>('SELECT pid FROM pg_stat_wal_receiver')).rows[0]?.pid ?? undefined),
  );
  process.kill(pid, 'SIGSTOP');
  return () => {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      /* gone */
    }
  };
}

async function streaming(): Promise<void> {
  await eventually(
    'the standby streaming',
    async () => {
      const s = await primary.observe();
      return s.up && !s.inRecovery && s.standbys.some((x) => x.applicationName === 'standby' && x.state === 'streaming') ? true : undefined;
    },
    30_000,
  );
}

describe('on PostgreSQL 15: a standby that goes silent', () => {
  beforeAll(async () => {
    lab = await PgLab.create(logger);
    const passwordFile = await lab.passwordFile('replicator.password', PASSWORD);
    primary = await lab.node('primary');
    standby = await lab.node('standby');
    await primary.initPrimary({ replicationUser: 'replicator', replicationPasswordFile: passwordFile, walKeepSize: '64MB', settings: { shared_buffers: '16MB', max_connections: 20 } });
    await primary.createSlot('standby');
    source = { host: '127.0.0.1', port: primary.port, user: 'replicator', passwordFile, slot: 'standby' };
    await standby.cloneFrom(source);
    await standby.start();
    await withClient(primary, (c) => c.query('CREATE TABLE t (id bigint PRIMARY KEY)'));
    await streaming();
  }, 120_000);

  afterAll(async () => {
    await lab?.cleanup();
  });

  it('both run with the managed values', async () => {
    for (const node of [primary, standby]) {
      const row = await withClient(node, async (c) => (await c.query("SELECT current_setting('wal_sender_timeout') AS s, current_setting('wal_receiver_timeout') AS r, current_setting('wal_receiver_status_interval') AS i")).rows[0]);
      expect(row).toEqual({ s: '2s', r: '2s', i: '1s' });
    }
  });

  it('leaves pg_stat_replication within about wal_sender_timeout (PostgreSQL default: 60 s)', { timeout: 60_000 }, async () => {
    const thaw = await freezeWalReceiver(standby);
    const t0 = Date.now();
    try {
      await eventually(
        'the silent standby gone from pg_stat_replication',
        async () => {
          const s = await primary.observe();
          return s.up && !s.inRecovery && !s.standbys.some((x) => x.applicationName === 'standby' && x.state === 'streaming') ? true : undefined;
        },
        20_000,
      );
    } finally {
      thaw();
    }
    const goneMs = Date.now() - t0;
    console.log(`silent standby left pg_stat_replication after ${goneMs} ms (wal_sender_timeout ${DEFAULT_REPLICATION_TIMEOUTS.walSenderTimeoutMs} ms)`);
    expect(goneMs).toBeLessThan(DEFAULT_REPLICATION_TIMEOUTS.walSenderTimeoutMs + 1500);
    await streaming();
  });

  it("a fast shutdown waits for the silent standby's walsender; the fence's budget-derived fast timeout cuts it short", { timeout: 90_000 }, async () => {
    // Without a bound: the fast shutdown waits until wal_sender_timeout frees the walsender.
    let thaw = await freezeWalReceiver(standby);
    const slow = await primary.fence({ fastTimeoutMs: 10_000 }).finally(thaw);
    expect(slow.method).toBe('fast');
    expect(slow.durationMs).toBeGreaterThan(500);
    await primary.start();
    await streaming();
    // With the hub's bound (half the demotion budget): immediate, and done within the budget.
    const budgetMs = DEFAULT_HUB_TIMINGS.demotionBudgetMs;
    thaw = await freezeWalReceiver(standby);
    const quick = await primary.fence({ fastTimeoutMs: fenceFastTimeoutFor(DEFAULT_HUB_TIMINGS) }).finally(thaw);
    console.log(`fence with a silent standby: fast timeout 10 s → ${slow.method} in ${slow.durationMs} ms; fast timeout ${fenceFastTimeoutFor(DEFAULT_HUB_TIMINGS)} ms → ${quick.method} in ${quick.durationMs} ms (demotion budget ${budgetMs} ms)`);
    expect(quick.method).toBe('immediate');
    expect(quick.durationMs).toBeLessThan(budgetMs);
    // An immediate shutdown costs nothing but crash recovery: it starts and streams again.
    await primary.start();
    await streaming();
  });
});
