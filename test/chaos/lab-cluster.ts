/**
 * A real hubha cluster inside a network-namespace lab, for the lab scenario tests
 * (test/lab/*.test.ts) and the chaos runner (test/chaos/run.ts): hub1, hub2 and the witness each
 * in its namespace (PostgreSQL 15 on the hubs, the VIP inside the lab), and a client namespace
 * where the store observer and the writers run. Nothing here reaches outside the lab or
 * 127.0.0.0/8: the members listen on lab addresses, the host only talks to PostgreSQL over its
 * unix socket and to the lab through `ip netns exec`.
 */
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { Lab, cleanupOrphans, ownedPrefix } from '../../deploy/lab/lab.js';
import { LocalHubCluster, PG_BIN_DIR } from '../../deploy/local/local-cluster.js';
import type { LocalClusterOptions } from '../../deploy/local/local-cluster.js';
import { readJsonLog } from '../../deploy/local/named-processes.js';
import { parseHistory, type History } from './history.js';

export const OBSERVER_JS = resolve(import.meta.dirname, 'observer.mjs');
export const WRITER_JS = resolve(import.meta.dirname, 'writer.mjs');
export const PG_PORT = 5432;
export const HUBS = ['hub1', 'hub2'] as const;
export const MEMBERS = ['hub1', 'hub2', 'witness'] as const;

/**
 * Timings for the lab: elections of 300-600 ms (Raft ticks of 50 ms × 6) and a 3 s lease renewed
 * every 500 ms, fenced 500 ms before the holder's own deadline (about 2.2 s after the send of
 * its last successful renewal), synchronous drop after 2 s — the active hub survives the loss of
 * a Raft leader that is another member (see ELECTION_SAFE in test/hub/support.ts).
 */
export const LAB_TIMINGS: Pick<LocalClusterOptions, 'raft' | 'timings'> = {
  raft: { tickMs: 50, electionTimeoutTicks: 6 },
  timings: { leaseTtlMs: 3000, renewIntervalMs: 500, demotionBudgetMs: 500, syncDropAfterMs: 2000 },
};

export const WRITER_ROLE = 'chaos';
export const WRITER_PASSWORD = 'chaos-writer-lab-only';
export const WRITES_TABLE = 'chaos_writes';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a value (not null/undefined/false), at most `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs: number, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (let i = 0; i < 100_000 && Date.now() < deadline; i++) {
    try {
      const v = await probe();
      if (v !== null && v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === null ? '' : ` (last error: ${String(last)})`}`);
}

export interface ActiveHubRecord {
  readonly name: string;
  readonly epoch: number;
  readonly address: string;
}
export interface SyncRecord {
  readonly primary: string;
  readonly standby: string | null;
  readonly epoch: number;
}
export interface StoreState {
  readonly active: ActiveHubRecord | null;
  readonly sync: SyncRecord | null;
  readonly lease: { holder: string; epoch: number; remainingMs: number | null } | null;
}
export interface MemberLeaderView {
  readonly member: string;
  readonly role?: string;
  readonly term?: number;
  readonly leader?: string | null;
  readonly error?: string;
}

/** The observer process in the client namespace (see observer.mjs): JSON lines in and out. */
export class StoreObserver {
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  constructor(readonly child: ChildProcess) {
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      let msg: { id: number; ok: boolean; value?: unknown; error?: string };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        return;
      }
      const p = this.pending.get(msg.id);
      if (p === undefined) return;
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.ok) p.resolve(msg.value);
      else p.reject(new Error(msg.error ?? 'observer error'));
    });
    child.stderr?.resume();
    child.stdin?.on('error', () => undefined);
    child.once('exit', () => {
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error('observer exited'));
      }
      this.pending.clear();
    });
  }

  request<T>(op: string, extra: Record<string, unknown> = {}, timeoutMs = 5000): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((resolvePromise, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`observer: no answer to ${op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolvePromise as (v: unknown) => void, reject, timer });
      this.child.stdin?.write(`${JSON.stringify({ id, op, ...extra })}\n`);
    });
  }

  /** The store's view (linearizable reads); null when the store did not answer. */
  async state(): Promise<StoreState | null> {
    return this.request<StoreState>('state').catch(() => null);
  }

  async leaders(): Promise<MemberLeaderView[]> {
    return this.request<MemberLeaderView[]>('leaders');
  }

  async transfer(target: string): Promise<void> {
    await this.request('transfer', { target });
  }
}

export interface LabClusterOptions {
  /** The lab's base prefix (`hubha-…`); the lab is named ownedPrefix(base). */
  readonly base: string;
  /** The lab subnet, e.g. '10.77.5.0/24'. */
  readonly subnet: string;
  readonly synchronous?: 'off' | 'on' | 'strict';
  readonly timings?: LocalClusterOptions['timings'];
  readonly raft?: LocalClusterOptions['raft'];
  /** Extra environment of a member's process, read at each (re)start. */
  readonly memberEnv?: (name: string) => Record<string, string>;
  readonly dir?: string;
}

export type PgRole = 'primary' | 'standby' | 'down';

/** A cluster in a lab, with the probes the scenario tests and the chaos runner share. */
export class LabCluster {
  private constructor(
    readonly lab: Lab,
    readonly cluster: LocalHubCluster,
    readonly vip: string,
    readonly observer: StoreObserver,
    readonly synchronous: 'off' | 'on' | 'strict',
  ) {}

  /**
   * Removes orphaned labs of `base` (their owner died), builds the lab, lays out and starts the
   * cluster and the observer. On failure everything built so far is destroyed.
   */
  static async start(options: LabClusterOptions): Promise<LabCluster> {
    await cleanupOrphans(options.base);
    const lab = await Lab.create({ prefix: ownedPrefix(options.base), hosts: [...MEMBERS, 'client'], subnet: options.subnet });
    let cluster: LocalHubCluster | undefined;
    try {
      const vip = lab.subnetAddress(100);
      const synchronous = options.synchronous ?? 'on';
      cluster = await LocalHubCluster.create({
        dir: options.dir ?? (await mkdtemp(join(tmpdir(), `${options.base}-`))),
        host: (name) => lab.address(name),
        spawn: (name, argv) => lab.spawn(name, argv, { env: { ...process.env, ...(options.memberEnv?.(name) ?? {}) } }),
        cidrs: [options.subnet],
        pgPort: PG_PORT,
        synchronous,
        raft: options.raft ?? LAB_TIMINGS.raft!,
        timings: options.timings ?? LAB_TIMINGS.timings!,
        hubExtra: () => ({ vip: { address: `${vip}/${lab.prefixLength}`, interface: lab.interface } }),
      });
      cluster.startAll();
      const members = Object.fromEntries(cluster.members.map((m) => [m.name, m.client]));
      const observer = new StoreObserver(
        lab.spawn('client', [process.execPath, OBSERVER_JS, JSON.stringify({ endpoints: cluster.endpoints(), members, maxMs: 4 * 3_600_000 })], { stdio: ['pipe', 'pipe', 'pipe'] }),
      );
      return new LabCluster(lab, cluster, vip, observer, synchronous);
    } catch (err) {
      await cluster?.destroy().catch(() => undefined);
      await lab.destroy();
      throw err;
    }
  }

  /** Stops every process by PID (the cluster's, then the lab's), removes the lab; keeps the data dir when asked. */
  async destroy(options: { keep?: boolean } = {}): Promise<void> {
    try {
      this.observer.child.stdin?.end();
      await this.cluster.destroy({ keep: options.keep === true });
    } finally {
      await this.lab.destroy();
    }
  }

  other(hub: string): string {
    return hub === 'hub1' ? 'hub2' : 'hub1';
  }

  /** The sidecar's (or witness node's) PID: the process we started in its namespace. */
  memberPid(name: string): number | null {
    return this.cluster.processes.get(name)?.pid ?? null;
  }

  async postmasterPid(hub: string): Promise<number | null> {
    return this.cluster.postmasterPid(hub);
  }

  /** Which hubs have the VIP on their eth0 (read in each namespace). */
  async vipHolders(): Promise<string[]> {
    const held: string[] = [];
    for (const hub of HUBS) if (await this.holdsVip(hub)) held.push(hub);
    return held;
  }

  /** One statement on a hub's PostgreSQL as its superuser over the unix socket. */
  async sql<R extends pg.QueryResultRow = pg.QueryResultRow>(hub: string, text: string, params: unknown[] = [], timeoutMs = 4000): Promise<R[]> {
    const client = new pg.Client({ ...this.cluster.pgSocketConfig(hub), connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs, statement_timeout: timeoutMs });
    client.on('error', () => undefined);
    await client.connect();
    try {
      return (await client.query<R>(text, params)).rows;
    } finally {
      await Promise.race([client.end().catch(() => undefined), sleep(1000)]);
    }
  }

  /** primary (answers, not in recovery), standby (answers, in recovery) or down (no answer). */
  async pgRole(hub: string): Promise<PgRole> {
    const rows = await this.sql<{ r: boolean }>(hub, 'SELECT pg_is_in_recovery() AS r', [], 2000).catch(() => null);
    if (rows === null || rows[0] === undefined) return 'down';
    return rows[0].r ? 'standby' : 'primary';
  }

  /** pg_isready from inside the hub's own namespace, to its own address: accepting connections? */
  async pgAccepting(hub: string): Promise<boolean> {
    const res = await this.lab.exec(hub, [join(PG_BIN_DIR, 'pg_isready'), '-q', '-h', this.lab.address(hub), '-p', String(PG_PORT), '-t', '2'], { check: false, timeoutMs: 5000 });
    return res.exitCode === 0;
  }

  /** Whether `hub`'s namespace has the VIP on its interface. */
  async holdsVip(hub: string): Promise<boolean> {
    const res = await this.lab.exec(hub, ['ip', '-j', 'addr', 'show', 'dev', this.lab.interface], { check: false, timeoutMs: 5000 });
    return res.stdout.includes(`"${this.vip}"`);
  }

  async replication(primary: string): Promise<{ application_name: string; state: string; sync_state: string }[]> {
    return this.sql(primary, 'SELECT application_name, state, sync_state FROM pg_stat_replication', [], 2000);
  }

  /**
   * One look at the whole cluster: recovered means one active hub (record and lease agree), the
   * VIP on it and nowhere else, its PostgreSQL a primary and the other hub's a standby streaming
   * from it (synchronous and recorded as such, in synchronous mode).
   */
  async recovered(): Promise<{ ok: true; active: string; standby: string; epoch: number } | { ok: false; why: string }> {
    const state = await this.observer.state();
    if (state === null) return { ok: false, why: 'the store does not answer' };
    const active = state.active;
    if (active === null) return { ok: false, why: 'no active-hub record' };
    if (state.lease === null || state.lease.holder !== active.name || state.lease.epoch !== active.epoch) {
      return { ok: false, why: `lease ${JSON.stringify(state.lease)} does not match the record (${active.name}, epoch ${active.epoch})` };
    }
    const standby = this.other(active.name);
    const holders = await this.vipHolders();
    if (holders.length !== 1 || holders[0] !== active.name) return { ok: false, why: `VIP held by [${holders.join(', ')}], want [${active.name}]` };
    const [roleA, roleS] = await Promise.all([this.pgRole(active.name), this.pgRole(standby)]);
    if (roleA !== 'primary') return { ok: false, why: `${active.name}'s PostgreSQL is ${roleA}` };
    if (roleS !== 'standby') return { ok: false, why: `${standby}'s PostgreSQL is ${roleS}` };
    const rows = await this.replication(active.name).catch(() => []);
    const row = rows.find((r) => r.application_name === standby);
    if (row === undefined || row.state !== 'streaming') return { ok: false, why: `${standby} not streaming from ${active.name} (${JSON.stringify(rows)})` };
    if (this.synchronous !== 'off') {
      if (row.sync_state !== 'sync') return { ok: false, why: `${standby} streams but is ${row.sync_state}` };
      if (state.sync?.primary !== active.name || state.sync.standby !== standby) return { ok: false, why: `sync record ${JSON.stringify(state.sync)}` };
    }
    return { ok: true, active: active.name, standby, epoch: active.epoch };
  }

  async waitRecovered(timeoutMs: number): Promise<{ active: string; standby: string; epoch: number; ms: number }> {
    const t0 = Date.now();
    let why = '';
    for (let i = 0; i < 10_000 && Date.now() - t0 < timeoutMs; i++) {
      const r = await this.recovered().catch((err: unknown) => ({ ok: false as const, why: String(err) }));
      if (r.ok) return { active: r.active, standby: r.standby, epoch: r.epoch, ms: Date.now() - t0 };
      why = r.why;
      await sleep(250);
    }
    throw new Error(`not recovered within ${timeoutMs} ms: ${why}`);
  }

  /** The writer's role (password, TCP from the lab) and table, created on the primary. Idempotent. */
  async setupWorkload(primary: string): Promise<void> {
    await this.sql(
      primary,
      `DO $$ BEGIN
         IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${WRITER_ROLE}') THEN
           CREATE ROLE ${WRITER_ROLE} LOGIN PASSWORD '${WRITER_PASSWORD}';
         END IF;
       END $$`,
    );
    await this.sql(primary, `CREATE TABLE IF NOT EXISTS ${WRITES_TABLE} (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())`);
    await this.sql(primary, `GRANT SELECT, INSERT ON ${WRITES_TABLE} TO ${WRITER_ROLE}`);
    // A writer gives up on a statement after its client-side timeout and drops the connection;
    // the backend, blocked in a synchronous-replication wait, would not notice and hold its
    // connection slot until the wait ends. With this it notices within a second and exits (with
    // no acknowledgement: the client is gone). Never statement_timeout: a cancelled wait for
    // synchronous replication returns COMMIT with a mere warning — an ack of an unreplicated write.
    await this.sql(primary, `ALTER ROLE ${WRITER_ROLE} SET client_connection_check_interval = '1s'`);
    // The identity the writer reads back: pg_control_system() (superuser-only by default) and
    // hubha.promotions (created by the agent when it became the primary).
    await this.sql(primary, `GRANT EXECUTE ON FUNCTION pg_control_system() TO ${WRITER_ROLE}`);
    await this.sql(primary, `GRANT USAGE ON SCHEMA hubha TO ${WRITER_ROLE}`);
    await this.sql(primary, `GRANT SELECT ON hubha.promotions TO ${WRITER_ROLE}`);
  }

  /** Starts a writer in the client namespace, its JSON lines appended to `file`. */
  startWriter(file: string, firstId: number, options: { loops?: number; pauseMs?: number; queryMs?: number; maxMs?: number } = {}): Writer {
    const fd = openSync(file, 'a');
    const config = {
      host: this.vip,
      port: PG_PORT,
      user: WRITER_ROLE,
      password: WRITER_PASSWORD,
      table: WRITES_TABLE,
      firstId,
      loops: options.loops ?? 1,
      pauseMs: options.pauseMs ?? 2,
      connectMs: 1000,
      queryMs: options.queryMs ?? 2000,
      maxMs: options.maxMs ?? 600_000,
    };
    try {
      const child = this.lab.spawn('client', [process.execPath, WRITER_JS, JSON.stringify(config)], { stdio: ['ignore', fd, 'pipe'] });
      child.stderr?.resume();
      return new Writer(child, file, this.lab);
    } finally {
      closeSync(fd);
    }
  }

  /** The ids in the writes table on `hub` within [lo, hi]. */
  async idsOn(hub: string, lo: number, hi: number): Promise<Set<number>> {
    const rows = await this.sql<{ id: string }>(hub, `SELECT id::text AS id FROM ${WRITES_TABLE} WHERE id BETWEEN $1 AND $2`, [lo, hi], 20_000);
    return new Set(rows.map((r) => Number(r.id)));
  }

  async logs(name: string): Promise<Record<string, unknown>[]> {
    return readJsonLog(this.cluster.logFile(name));
  }

  /**
   * PostgreSQL's own server log lines (`<dataDir>.log`, log_line_prefix "%m [%p] "), with their
   * times in epoch ms: the same host clock as the members' pino times.
   */
  async pgLog(hub: string): Promise<{ at: number; text: string }[]> {
    const text = await readFile(`${this.cluster.pgDataDir(hub)}.log`, 'utf8').catch(() => '');
    const out: { at: number; text: string }[] = [];
    for (const line of text.split('\n')) {
      const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}\.\d{3}) UTC (.*)$/.exec(line);
      if (m) out.push({ at: Date.parse(`${m[1]}T${m[2]}Z`), text: m[3]! });
    }
    return out;
  }

  /** The Raft leader according to the members that answer (null when none agrees on one). */
  async raftLeader(): Promise<string | null> {
    const views = await this.observer.leaders().catch(() => [] as MemberLeaderView[]);
    return views.find((v) => v.role === 'leader')?.member ?? null;
  }

  /** Hands Raft leadership to `target` and waits until it leads. */
  async moveRaftLeader(target: string, timeoutMs = 15_000): Promise<void> {
    await waitFor(`${target} the Raft leader`, async () => {
      if ((await this.raftLeader()) === target) return true;
      await this.observer.transfer(target).catch(() => undefined);
      await sleep(300);
      return (await this.raftLeader()) === target;
    }, timeoutMs, 100);
  }
}

/** A writer process (see writer.mjs) and its history file. */
export class Writer {
  constructor(
    readonly child: ChildProcess,
    readonly file: string,
    private readonly lab: Lab,
  ) {}

  /** SIGTERM (SIGKILL after a grace), then the history it wrote. */
  async stop(): Promise<History> {
    await this.lab.stop(this.child, 4000);
    return this.history();
  }

  async history(): Promise<History> {
    return parseHistory(await readFile(this.file, 'utf8').catch(() => ''));
  }
}

/** pino `time` of a log line (epoch ms). */
export function logTime(line: Record<string, unknown>): number {
  return Number(line.time);
}

/** The log lines of `lines` with message `msg` (and, optionally, matching fields). */
export function linesWith(lines: readonly Record<string, unknown>[], msg: string, fields: Record<string, unknown> = {}): Record<string, unknown>[] {
  return lines.filter((l) => l.msg === msg && Object.entries(fields).every(([k, v]) => l[k] === v));
}
