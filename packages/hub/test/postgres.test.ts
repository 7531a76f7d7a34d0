import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PgBinaries,
  PgManagerError,
  PgRewindError,
  isProcessAlive,
  lsnDiff,
  readPostmasterPid,
  type PgSnapshot,
  type PostgresInstance,
  type PrimarySnapshot,
  type ReplicationSource,
  type StandbySnapshot,
} from '../src/index.js';
import { PgLab, connect, eventually, memoryLogger, settledWithin, withClient } from './postgres-helpers.js';

/*
 * Real PostgreSQL 15, no mocks: two nodes on 127.0.0.1 walk through a primary's life —
 * init, clone, synchronous replication, promotion with pg_rewind of the old primary (stopped
 * fast), then a crashed (SIGKILLed) primary brought back with crash recovery + pg_rewind.
 * The tests share state and run in order.
 */

const PASSWORD = 'rep-Secret-4f9c2a';
const SMALL = { shared_buffers: '16MB', max_connections: 20, max_wal_size: '64MB', min_wal_size: '32MB' };
const timings: Record<string, number> = {};
const { logger, lines: logLines } = memoryLogger();

let lab: PgLab;
let node1: PostgresInstance;
let node2: PostgresInstance;
let passwordFile: string;

function source(primary: PostgresInstance, slot: string): ReplicationSource {
  return { host: '127.0.0.1', port: primary.port, user: 'replicator', passwordFile, slot };
}

function asPrimary(s: PgSnapshot): PrimarySnapshot {
  if (!s.up || s.inRecovery) throw new Error(`expected an up primary, got ${JSON.stringify(s, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);
  return s;
}
function asStandby(s: PgSnapshot): StandbySnapshot {
  if (!s.up || !s.inRecovery) throw new Error('expected an up standby');
  return s;
}

async function rows(node: PostgresInstance, table = 'items'): Promise<string[]> {
  return withClient(node, async (c) => (await c.query<{ v: string }>(`SELECT v FROM ${table} ORDER BY id`)).rows.map((r) => r.v));
}

async function insert(node: PostgresInstance, v: string, opts: { local?: boolean } = {}): Promise<void> {
  await withClient(node, async (c) => {
    await c.query('BEGIN');
    if (opts.local) await c.query('SET LOCAL synchronous_commit = local');
    await c.query('INSERT INTO items (v) VALUES ($1)', [v]);
    await c.query('COMMIT');
  });
}

async function waitForRow(node: PostgresInstance, v: string): Promise<void> {
  await eventually(`row ${v} on ${node.nodeName}`, async () => ((await rows(node)).includes(v) ? true : undefined));
}

async function waitStreaming(primary: PostgresInstance, standbyName: string, sync?: 'sync' | 'async'): Promise<PrimarySnapshot> {
  return eventually(`${standbyName} streaming from ${primary.nodeName}`, async () => {
    const p = asPrimary(await primary.observe());
    const s = p.standbys.find((x) => x.applicationName === standbyName);
    return s?.state === 'streaming' && (sync === undefined || s.syncState === sync) ? p : undefined;
  });
}

beforeAll(async () => {
  lab = await PgLab.create(logger);
  passwordFile = await lab.passwordFile('replicator.password', PASSWORD);
  node1 = await lab.node('node1');
  node2 = await lab.node('node2');
});

afterAll(async () => {
  await lab?.cleanup();
  if (process.env['HUBHA_PG_TEST_LOG']) await writeFile(process.env['HUBHA_PG_TEST_LOG'], logLines.join(''));
  // The report wants these numbers; they also show in the test output.
  console.log(`postgres timings (ms): ${JSON.stringify(timings)}`);
});

describe('PostgresInstance with real PostgreSQL 15', () => {
  it('refuses bad inputs: missing binaries dir, insecure password file, non-empty clone target', async () => {
    await expect(PgBinaries.locate({ binDir: '/nonexistent/pg/bin', user: lab.user })).rejects.toMatchObject({
      code: 'BINARIES_MISSING',
      message: expect.stringContaining('apt-get install postgresql-15'),
    });
    const loose = await lab.passwordFile('loose.password', 'x', 0o644);
    await expect(
      node1.initPrimary({ replicationUser: 'replicator', replicationPasswordFile: loose }),
    ).rejects.toMatchObject({ code: 'PASSWORD_FILE_INVALID' });
    // A clone into a non-empty directory is refused before anything is contacted.
    const junk = await lab.node('junk');
    await mkdir(junk.dataDir, { recursive: true });
    await writeFile(join(junk.dataDir, 'precious.txt'), 'do not delete');
    const src: ReplicationSource = { host: '127.0.0.1', port: 1, user: 'replicator', passwordFile, slot: 'junk' };
    await expect(junk.cloneFrom(src)).rejects.toMatchObject({ code: 'DATA_DIR_NOT_EMPTY' });
    // ... and even with wipe, a directory that is not a data directory is not wiped.
    await expect(junk.cloneFrom(src, { wipe: true })).rejects.toMatchObject({ code: 'NOT_A_DATA_DIR' });
    expect(await readFile(join(junk.dataDir, 'precious.txt'), 'utf8')).toBe('do not delete');
    await expect(junk.cloneFrom({ ...src, slot: 'Bad-Slot' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('initPrimary: initdb with checksums, HA settings, replication role; write and read with pg', async () => {
    const t0 = Date.now();
    const init = await node1.initPrimary({
      replicationUser: 'replicator',
      replicationPasswordFile: passwordFile,
      peerCidrs: ['127.0.0.0/8'],
      walKeepSize: '128MB',
      settings: SMALL,
    });
    timings['initPrimary'] = Date.now() - t0;
    timings['initdb'] = init.initdbMs;
    expect(await node1.isRunning()).toBe(true);

    const control = await node1.controlData();
    expect(control.dataChecksumVersion).toBe(1);
    expect(control.systemIdentifier).toBe(init.systemIdentifier);

    await withClient(node1, async (c) => {
      await c.query('CREATE TABLE items (id bigserial PRIMARY KEY, v text NOT NULL)');
      await c.query("INSERT INTO items (v) VALUES ('a')");
      const settings = await c.query<{ name: string; setting: string }>(
        `SELECT name, setting FROM pg_settings WHERE name IN
         ('wal_level','hot_standby','wal_log_hints','data_checksums','port','listen_addresses','cluster_name','shared_buffers','max_connections')
         ORDER BY name`,
      );
      expect(Object.fromEntries(settings.rows.map((r) => [r.name, r.setting]))).toEqual({
        cluster_name: 'node1',
        data_checksums: 'on',
        hot_standby: 'on',
        listen_addresses: '127.0.0.1',
        max_connections: '20',
        port: String(node1.port),
        shared_buffers: '2048', // 8 kB pages
        wal_level: 'replica',
        wal_log_hints: 'on',
      });
      const hba = await c.query<{ type: string; database: string[]; user_name: string[]; auth_method: string }>(
        'SELECT type, database, user_name, auth_method FROM pg_hba_file_rules ORDER BY line_number',
      );
      expect(hba.rows.filter((r) => r.auth_method === 'trust')).toEqual([
        { type: 'local', database: ['all'], user_name: ['postgres'], auth_method: 'trust' },
      ]);
      expect(hba.rows.filter((r) => r.type === 'host').every((r) => r.auth_method === 'scram-sha-256')).toBe(true);
    });
    expect(await rows(node1)).toEqual(['a']);

    // The replication role logs in over TCP with the password (the server only got a SCRAM verifier) ...
    const { Client } = await import('pg');
    const repl = new Client({ host: '127.0.0.1', port: node1.port, user: 'replicator', password: PASSWORD, database: 'postgres' });
    await repl.connect();
    await repl.end();
    // ... and not without it: TCP is scram-sha-256, never trust.
    const wrongPw = new Client({ host: '127.0.0.1', port: node1.port, user: 'replicator', password: 'wrong', database: 'postgres' });
    await expect(wrongPw.connect()).rejects.toThrow(/password authentication failed/);
    // The superuser has no TCP entry at all (no clientCidrs given).
    const su = new Client({ host: '127.0.0.1', port: node1.port, user: 'postgres', password: 'x', database: 'postgres' });
    await expect(su.connect()).rejects.toThrow(/no pg_hba.conf entry/);

    // Data directory and pgpass: the OS user's, 0700 / 0600.
    const dd = await stat(node1.dataDir);
    expect(dd.mode & 0o777).toBe(0o700);
    expect(dd.uid).toBe(lab.user.uid);
    expect((await stat(node1.pgpassFile)).mode & 0o777).toBe(0o600);

    const snap = asPrimary(await node1.observe());
    expect(snap.timeline).toBe(1);
    expect(snap.systemIdentifier).toBe(init.systemIdentifier);
    expect(snap.currentWalLsn > 0n).toBe(true);
    expect(snap.standbys).toEqual([]);
  });

  it('cloneFrom: pg_basebackup through a slot; the standby streams and a row replicates', async () => {
    expect(await node1.createSlot('node2')).toEqual({ created: true });
    expect(await node1.createSlot('node2')).toEqual({ created: false }); // idempotent
    const t0 = Date.now();
    await node2.cloneFrom(source(node1, 'node2'));
    timings['basebackup'] = Date.now() - t0;
    expect(await readFile(join(node2.dataDir, 'standby.signal'), 'utf8')).toBe('');
    const managed = await readFile(join(node2.dataDir, 'conf.d/hubha.conf'), 'utf8');
    expect(managed).toContain("primary_slot_name = 'node2'");
    expect(managed).toContain("application_name=''node2''");
    expect(managed).not.toContain(PASSWORD);
    // A second clone into the now non-empty data dir is refused.
    await expect(node2.cloneFrom(source(node1, 'node2'))).rejects.toMatchObject({ code: 'DATA_DIR_NOT_EMPTY' });

    const ts = Date.now();
    await node2.start();
    timings['startStandby'] = Date.now() - ts;
    await insert(node1, 'b');
    await waitForRow(node2, 'b');

    const p = await waitStreaming(node1, 'node2', 'async');
    const s = asStandby(await node2.observe());
    expect(s.systemIdentifier).toBe(p.systemIdentifier);
    expect(s.timeline).toBe(1);
    expect(s.walReceiver).toMatchObject({ status: 'streaming', senderHost: '127.0.0.1', senderPort: node1.port, slotName: 'node2', receivedTimeline: 1 });
    expect(s.replayLsn).not.toBeNull();
    expect(lsnDiff(p.currentWalLsn, s.replayLsn ?? 0n) >= 0n).toBe(true);
    const slot = p.slots.find((x) => x.name === 'node2');
    expect(slot).toMatchObject({ type: 'physical', active: true });
    await expect(node1.dropSlot('node2')).rejects.toMatchObject({ code: 'SLOT_ACTIVE' });
  });

  it('an interrupted clone is marked, never taken for a data directory, and replaced by the next clone', async () => {
    const node3 = await lab.node('node3');
    await node1.createSlot('node3');
    try {
      // pg_basebackup killed by its timeout half-way (as if the sidecar died during the copy).
      await expect(node3.cloneFrom(source(node1, 'node3'), { timeoutMs: 30 })).rejects.toMatchObject({ code: 'CLONE_FAILED' });
      expect(await node3.cloneIncomplete()).toBe(true);
      // Whatever it left (here: a real-looking PG_VERSION) is ours to replace, without wipe.
      await mkdir(node3.dataDir, { recursive: true });
      await writeFile(join(node3.dataDir, 'PG_VERSION'), '15\n');
      await node3.cloneFrom(source(node1, 'node3'));
      expect(await node3.cloneIncomplete()).toBe(false);
      expect(await readFile(join(node3.dataDir, 'standby.signal'), 'utf8')).toBe('');
      // A finished clone is protected again.
      await expect(node3.cloneFrom(source(node1, 'node3'))).rejects.toMatchObject({ code: 'DATA_DIR_NOT_EMPTY' });
    } finally {
      // The clone's walsender may take a moment to go away after pg_basebackup exits.
      await eventually('slot node3 dropped', () => node1.dropSlot('node3').then(() => true, () => undefined));
    }
  });

  it('synchronous replication: a commit waits while the sync standby is down, and is released by setSynchronousStandbys([])', async () => {
    const set = await node1.setSynchronousStandbys(['node2']);
    expect(set).toMatchObject({ value: 'FIRST 1 ("node2")', applied: 'now' });
    timings['setSynchronousStandbys'] = set.durationMs;
    const p = await waitStreaming(node1, 'node2', 'sync');
    expect(p.synchronousStandbyNames).toBe('FIRST 1 ("node2")');
    const st = p.standbys.find((x) => x.applicationName === 'node2');
    expect(st).toBeDefined();
    if (st === undefined) return;
    for (const l of [st.sentLsn, st.writeLsn, st.flushLsn, st.replayLsn]) {
      expect(l).not.toBeNull();
      expect(lsnDiff(p.currentWalLsn, l ?? 0n) >= 0n).toBe(true);
    }
    for (const lag of [st.writeLagMs, st.flushLagMs, st.replayLagMs]) expect(lag === null || lag >= 0).toBe(true);
    await insert(node1, 'c'); // returns: the standby confirms

    // Standby down: the next commit waits.
    const tStop = Date.now();
    await node2.stop({ mode: 'fast' });
    timings['stopFastStandby'] = Date.now() - tStop;
    const c1 = await connect(node1);
    try {
      const pending = c1.query("INSERT INTO items (v) VALUES ('d')");
      expect(await settledWithin(pending, 1000)).toBe('pending');
      // The standby comes back: the commit returns.
      await node2.start();
      await pending;
      await waitForRow(node2, 'd');
    } finally {
      await c1.end();
    }

    // Down again; a waiting commit is released when we switch to async, and new ones do not wait.
    await node2.stop({ mode: 'fast' });
    const c2 = await connect(node1);
    try {
      const pending = c2.query("INSERT INTO items (v) VALUES ('e')");
      expect(await settledWithin(pending, 1000)).toBe('pending');
      const off = await node1.setSynchronousStandbys([]);
      expect(off.value).toBe('');
      await pending;
      const t = Date.now();
      await c2.query("INSERT INTO items (v) VALUES ('f')");
      expect(Date.now() - t).toBeLessThan(500);
    } finally {
      await c2.end();
    }
    // strict with nobody listed means "any standby must confirm".
    expect((await node1.setSynchronousStandbys([], { strict: true })).value).toBe('*');
    await node1.setSynchronousStandbys([]);
    await node2.start();
    await waitForRow(node2, 'f');
  });

  it('default_transaction_read_only is not a fence: a session overrides it', async () => {
    await node1.setDefaultReadOnly(true);
    await withClient(node1, async (c) => {
      await expect(c.query("INSERT INTO items (v) VALUES ('ro')")).rejects.toMatchObject({ code: '25006' });
      await c.query('SET default_transaction_read_only = off');
      await c.query("INSERT INTO items (v) VALUES ('ro-bypassed')");
    });
    await node1.setDefaultReadOnly(false);
    await insert(node1, 'g');
    await waitForRow(node2, 'g');
  });

  it('promote the standby (timeline bumps), then the old primary, stopped fast after diverging, follows via pg_rewind', async () => {
    await node1.setSynchronousStandbys(['node2']);
    await waitStreaming(node1, 'node2', 'sync');
    const before = asPrimary(await node1.observe());

    const prom = await node2.promote();
    expect(prom.promoted).toBe(true);
    expect(prom.timeline).toBe(2);
    timings['promote'] = prom.promoteMs;
    timings['checkpointAfterPromote'] = prom.checkpointMs;
    expect((await node2.promote()).promoted).toBe(false); // idempotent
    const s2 = asPrimary(await node2.observe());
    expect(s2.timeline).toBe(2);
    expect(s2.systemIdentifier).toBe(before.systemIdentifier);
    expect(s2.checkpointTimeline).toBe(2); // the CHECKPOINT after promotion moved pg_control

    expect(await node2.recordPromotion({ epoch: 7, node: 'node2' })).toMatchObject({ inserted: true, record: { epoch: 7n, node: 'node2' } });
    expect((await node2.recordPromotion({ epoch: 7, node: 'node2' })).inserted).toBe(false);
    await expect(node2.recordPromotion({ epoch: 6, node: 'node1' })).rejects.toMatchObject({ code: 'STALE_EPOCH' });
    await expect(node2.recordPromotion({ epoch: 7, node: 'node1' })).rejects.toMatchObject({ code: 'STALE_EPOCH' });
    await insert(node2, 'h');

    // Split brain for a moment: the old primary still runs and takes a write the new one never sees.
    await insert(node1, 'lost-on-node1', { local: true });
    const tf = Date.now();
    await node1.stop({ mode: 'fast' });
    timings['stopFastPrimary'] = Date.now() - tf;

    await node2.createSlot('node1');
    const follow = await node1.followAsStandby(source(node2, 'node1'));
    timings['pg_rewind'] = follow.rewindMs;
    timings['followAsStandby'] = follow.durationMs;
    expect(follow).toMatchObject({ crashRecovered: false, rewind: 'rewound' });
    expect(follow.divergedAt).toBeDefined();
    // Read before the rewind discarded it: the one commit node2 never saw.
    expect(follow.walAfterFork?.commits).toBe(1);
    expect(follow.walAfterFork?.bytes).toBeGreaterThan(0);

    await insert(node2, 'i');
    await waitForRow(node1, 'i');
    const r1 = await rows(node1);
    expect(r1).not.toContain('lost-on-node1');
    expect(r1).toContain('h');
    const s1 = asStandby(await node1.observe());
    expect(s1.timeline).toBe(2);
    expect(s1.walReceiver).toMatchObject({ status: 'streaming', senderPort: node2.port, slotName: 'node1' });
    expect(s1.slots).toEqual([]);
    // The promotion record replicated with everything else.
    expect(await node1.listPromotions()).toEqual([{ epoch: 7n, node: 'node2', promotedAt: expect.any(Date) }]);
    const p2 = await waitStreaming(node2, 'node1');
    expect(p2.standbys.map((x) => x.applicationName)).toEqual(['node1']);
  });

  it('a crashed (SIGKILLed) primary is brought back by crash recovery in single-user mode + pg_rewind', async () => {
    // node1 (standby) is promoted while node2 (primary, TL 2) still runs and takes a write.
    const prom = await node1.promote();
    expect(prom.timeline).toBe(3);
    await node1.recordPromotion({ epoch: 8, node: 'node1' });
    await insert(node2, 'lost-on-node2', { local: true });
    await insert(node1, 'j');

    const pid = (await readPostmasterPid(node2.dataDir))?.pid;
    expect(pid).toBeDefined();
    if (pid === undefined) return;
    process.kill(pid, 'SIGKILL');
    await eventually('postmaster gone', async () => ((await isProcessAlive(pid, 'postgres')) ? undefined : true));
    expect(await node2.isRunning()).toBe(false);
    const down = await node2.observe();
    expect(down).toMatchObject({ up: false, running: false, control: { clusterState: 'in production', latestCheckpointTimeline: 2 } });

    await node1.createSlot('node2');
    const follow = await node2.followAsStandby(source(node1, 'node2'));
    timings['crashRecovery'] = follow.crashRecoveryMs;
    timings['pg_rewindAfterCrash'] = follow.rewindMs;
    expect(follow).toMatchObject({ crashRecovered: true, rewind: 'rewound' });

    await insert(node1, 'k');
    await waitForRow(node2, 'k');
    const r2 = await rows(node2);
    expect(r2).not.toContain('lost-on-node2');
    expect(r2).toContain('j');
    expect(asStandby(await node2.observe()).timeline).toBe(3);
    expect((await node2.listPromotions()).map((p) => p.epoch)).toEqual([7n, 8n]);
  });

  it('a rewind that lacks the old primary\'s WAL fails with REWIND_FAILED; reclone() recovers', async () => {
    // node2 (standby) is promoted while node1 (primary, TL 3) runs and diverges.
    expect((await node2.promote()).timeline).toBe(4);
    await insert(node1, 'lost-again', { local: true });
    await withClient(node1, async (c) => {
      await c.query('SELECT pg_switch_wal()');
      await c.query('CREATE TABLE filler AS SELECT 1 AS x');
      await c.query('SELECT pg_switch_wal()');
    });
    await node1.stop({ mode: 'fast' });
    // Simulate WAL recycled before the rewind: drop every segment older than the last checkpoint's.
    const control = await node1.controlData();
    const redoSeg = control.latestCheckpointRedo / (16n * 1024n * 1024n);
    const walDir = join(node1.dataDir, 'pg_wal');
    let removed = 0;
    for (const f of await readdir(walDir)) {
      if (!/^[0-9A-F]{24}$/.test(f)) continue;
      const seg = BigInt(`0x${f.slice(8, 16)}`) * 256n + BigInt(`0x${f.slice(16, 24)}`);
      if (seg < redoSeg) {
        await rm(join(walDir, f));
        removed++;
      }
    }
    expect(removed).toBeGreaterThan(0);

    await node2.createSlot('node1');
    const failed = await node1.followAsStandby(source(node2, 'node1')).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(PgRewindError);
    expect(failed).toMatchObject({ code: 'REWIND_FAILED' });
    expect(await node1.isRunning()).toBe(false);

    await expect(node1.cloneFrom(source(node2, 'node1'))).rejects.toMatchObject({ code: 'DATA_DIR_NOT_EMPTY' });
    const t0 = Date.now();
    await node1.reclone(source(node2, 'node1'));
    timings['reclone'] = Date.now() - t0;
    await node1.start();
    await insert(node2, 'm');
    await waitForRow(node1, 'm');
    expect(await rows(node1)).not.toContain('lost-again');
    expect(asStandby(await node1.observe()).timeline).toBe(4);

  });

  it('planned switchover: the old primary, stopped fast while in sync, follows with no rewind; its stale slot is dropped', async () => {
    await node2.setSynchronousStandbys(['node1']);
    await waitStreaming(node2, 'node1', 'sync');
    await insert(node2, 'n');
    await node2.stop({ mode: 'fast' }); // the standby receives everything up to the shutdown checkpoint
    expect((await node1.promote()).timeline).toBe(5);
    await node1.createSlot('node2');
    const follow = await node2.followAsStandby(source(node1, 'node2'));
    expect(follow).toMatchObject({ crashRecovered: false, rewind: 'no-rewind-required', droppedSlots: ['node1'] });
    await insert(node1, 'o');
    await waitForRow(node2, 'o');
    expect(await rows(node2)).toContain('n');
    expect(asStandby(await node2.observe())).toMatchObject({ timeline: 5, slots: [] });
  });

  it('fence stops the server (fast), is a no-op when stopped, and beats an earlier-requested start', async () => {
    const tf = Date.now();
    expect((await node2.fence()).method).toBe('fast');
    timings['fence'] = Date.now() - tf;
    expect((await node2.fence()).method).toBe('not-running');
    expect(await node2.isRunning()).toBe(false);
    // A start requested before a fence does not bring the server back after it.
    // Handle the rejection at once: it may settle while the fence is still running.
    const starting = node2.start().then(
      () => null,
      (err: unknown) => err,
    );
    await node2.fence();
    expect(await starting).toMatchObject({ code: 'FENCED' });
    expect(await node2.isRunning()).toBe(false);
    expect(await node2.observe()).toMatchObject({ up: false, running: false, control: { clusterState: 'shut down in recovery' } });
  });

  it('never logs the password', () => {
    expect(logLines.length).toBeGreaterThan(10);
    expect(logLines.join('\n')).not.toContain(PASSWORD);
  });
});

describe('errors', () => {
  it('PgManagerError carries a code and a cause', () => {
    const cause = new Error('root');
    const e = new PgManagerError('REWIND_FAILED', 'x', { cause });
    expect(e.code).toBe('REWIND_FAILED');
    expect(e.cause).toBe(cause);
  });
});
