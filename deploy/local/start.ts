/**
 * `npm start`: the real local hubha cluster on 127.0.0.1 — two hubs (each a `hubha run` sidecar
 * with its own PostgreSQL 15) and a witness — with its data under one directory (default
 * ./.data/local, reused across runs so a restart keeps the data; --fresh wipes it). Prints the
 * ports, waits until an active hub is published and the standby streams, prints how to use and
 * break it, then follows the store (polled every second) and prints a line per change. SIGINT /
 * SIGTERM stop everything in order: the standby, then the active hub (which fences PostgreSQL and
 * releases the lease), then the witness; nothing is left running.
 *
 *   npm start [-- --dir DIR] [-- --fresh] [-- --no-restart] [-- --log-level LEVEL]
 */
import type { ChildProcess } from 'node:child_process';
import { access, constants, readFile, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { CoordClient } from '@hubha/coord';
import { HUBHA_CLI, LocalHubCluster, PG_BIN_DIR } from './local-cluster.js';
import { connectStore, missingPgBinaries, readActiveHub, readSyncStandby, replication, sleep } from './probe.js';
import type { ReplicationRow } from './probe.js';

const REPO = resolve(import.meta.dirname, '../..');
const DEFAULT_DIR = join(REPO, '.data', 'local');
const LOCK_FILE = 'npm-start.json';
const RESTART_DELAY_MS = 5000;
const HEALTHY_TIMEOUT_MS = 120_000;
const POLL_MS = 1000;

const EXIT_USAGE = 2;

/** Set once the cluster is started: stops it if main() fails half-way. */
let emergencyStop: ((why: string, code: number) => Promise<void>) | null = null;

const USAGE = `usage: npm start [-- options]

Runs two hubs (each with its own PostgreSQL 15) and a witness on 127.0.0.1.

  --dir DIR          where everything lives (default ./.data/local); reused when it exists
  --fresh            wipe DIR first (a new cluster, new ports, new data)
  --no-restart       do not restart a sidecar that died (default: restart it after ${RESTART_DELAY_MS / 1000} s, as systemd would)
  --log-level LEVEL  the members' log level (default info); logs go to DIR/<member>.log
  -h, --help         this text
`;

function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

function clock(): string {
  const d = new Date();
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

function event(line: string): void {
  out(`${clock()}  ${line}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function cmdline(pid: number): Promise<string> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
}

async function onPath(program: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir === '') continue;
    if (await access(join(dir, program), constants.X_OK).then(() => true, () => false)) return true;
  }
  return false;
}

/** A path as the user should type it: relative to the current directory when that is shorter. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel !== '' && !rel.startsWith('..') && rel.length < path.length ? rel : path;
}

interface Lock {
  readonly pid: number;
  readonly sidecars: Record<string, number>;
}

async function readLock(dir: string): Promise<Lock | null> {
  const text = await readFile(join(dir, LOCK_FILE), 'utf8').catch(() => null);
  if (text === null) return null;
  try {
    return JSON.parse(text) as Lock;
  } catch {
    return null;
  }
}

/** Refuses to touch a directory another `npm start` (or its surviving sidecars) still uses. */
async function checkNotInUse(dir: string): Promise<string | null> {
  const lock = await readLock(dir);
  if (lock === null) return null;
  if (lock.pid !== process.pid && alive(lock.pid) && (await cmdline(lock.pid)).includes('start.ts')) {
    return `another npm start (PID ${lock.pid}) is running on ${dir}; stop it first (kill -TERM ${lock.pid})`;
  }
  const survivors: string[] = [];
  for (const [name, pid] of Object.entries(lock.sidecars ?? {})) {
    if (alive(pid) && (await cmdline(pid)).includes(join(dir, `${name}.yaml`))) survivors.push(`${name} (PID ${pid})`);
  }
  if (survivors.length > 0) {
    return `sidecars of an earlier npm start on ${dir} are still running: ${survivors.join(', ')}; stop them first (kill -TERM ${Object.values(lock.sidecars).join(' ')})`;
  }
  return null;
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({
      options: {
        dir: { type: 'string' },
        fresh: { type: 'boolean', default: false },
        'no-restart': { type: 'boolean', default: false },
        'log-level': { type: 'string', default: 'info' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    process.exit(EXIT_USAGE);
  }
  if (args.help) {
    out(USAGE);
    return;
  }
  const dir = args.dir === undefined ? DEFAULT_DIR : resolve(args.dir);
  const restartDead = !args['no-restart'];

  // ---------------------------------------------------------------- preflight
  const missing = await missingPgBinaries();
  if (missing.length > 0) {
    process.stderr.write(
      [
        `npm start: the PostgreSQL 15 server binaries are missing: ${missing.join(', ')}`,
        '',
        'Each hub runs its own PostgreSQL 15 from /usr/lib/postgresql/15/bin. Install it (Debian/Ubuntu):',
        '',
        '  apt-get install postgresql-15',
        '',
        'On a release without PostgreSQL 15 in its archive, add the PGDG repository first',
        '(https://wiki.postgresql.org/wiki/Apt), then run the line above. The cluster stops and starts',
        'its own PostgreSQL instances; the distribution\'s default instance is not used.',
        '',
      ].join('\n'),
    );
    process.exit(EXIT_USAGE);
  }
  if (process.getuid?.() === 0) {
    const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
    if (!passwd.split('\n').some((l) => l.startsWith('postgres:'))) {
      process.stderr.write('npm start: running as root, but there is no "postgres" OS user for PostgreSQL to run as (apt-get install postgresql-15 creates it)\n');
      process.exit(EXIT_USAGE);
    }
  }
  if (!(await access(HUBHA_CLI).then(() => true, () => false))) {
    process.stderr.write(`npm start: ${HUBHA_CLI} is missing: run npm run build (npm start does it first)\n`);
    process.exit(EXIT_USAGE);
  }
  const inUse = await checkNotInUse(dir);
  if (inUse !== null) {
    process.stderr.write(`npm start: ${inUse}\n`);
    process.exit(1);
  }
  if (args.fresh) await rm(dir, { recursive: true, force: true });

  // ---------------------------------------------------------------- the cluster
  let cluster = await LocalHubCluster.open(dir, { detached: true });
  const reused = cluster !== null;
  if (cluster === null) {
    const entries = await readdir(dir).catch(() => [] as string[]);
    if (entries.length > 0) {
      process.stderr.write(`npm start: ${dir} is not empty but holds no local cluster (no <member>.yaml / replication.pass); use --fresh to wipe it or --dir elsewhere\n`);
      process.exit(EXIT_USAGE);
    }
    cluster = await LocalHubCluster.create({ dir, synchronous: 'on', logLevel: args['log-level'], detached: true });
  }
  const c = cluster;
  const hubs = c.hubs().map((h) => h.name);

  let stopping = false;
  let store: CoordClient | null = null;
  let lastActive: { name: string; epoch: number } | null = null;
  const restartTimers = new Map<string, NodeJS.Timeout>();
  const everPids = new Set<number>();

  const writeLock = async (): Promise<void> => {
    const sidecars: Record<string, number> = {};
    for (const [name, child] of c.processes) if (child.pid !== undefined) sidecars[name] = child.pid;
    await writeFile(join(dir, LOCK_FILE), `${JSON.stringify({ pid: process.pid, sidecars } satisfies Lock)}\n`).catch(() => undefined);
  };

  const launch = (name: string): ChildProcess => {
    const child = c.start(name);
    if (child.pid !== undefined) everPids.add(child.pid);
    child.once('exit', (code, signal) => {
      if (stopping) return;
      event(`${name} sidecar (PID ${child.pid}) exited (${signal ?? `code ${code}`}); log: ${shown(c.logFile(name))}`);
      if (!restartDead) return;
      event(`restarting ${name} in ${RESTART_DELAY_MS / 1000} s (as systemd would; --no-restart leaves it down)`);
      restartTimers.set(
        name,
        setTimeout(() => {
          restartTimers.delete(name);
          if (stopping) return;
          const again = launch(name);
          void writeLock();
          event(`${name} sidecar restarted: PID ${again.pid}`);
        }, RESTART_DELAY_MS),
      );
    });
    return child;
  };

  // ---------------------------------------------------------------- stopping
  let firstSignalAt = 0;
  const shutdown = async (signal: string, exitCode = 0): Promise<void> => {
    if (stopping) {
      if (performance.now() - firstSignalAt < 2000) return; // the same Ctrl-C relayed by npm/tsx
      event(`${signal} again: killing everything now (SIGKILL)`);
      await c.stop('SIGKILL', 0);
      process.exit(130);
    }
    stopping = true;
    firstSignalAt = performance.now();
    out();
    event(`${signal}: stopping (a second Ctrl-C after 2 s forces SIGKILL)`);
    for (const timer of restartTimers.values()) clearTimeout(timer);
    const postmasters = new Map<string, number>();
    for (const hub of hubs) {
      const pid = await c.postmasterPid(hub);
      if (pid !== null) postmasters.set(hub, pid);
    }
    // The standby first (so it cannot take over from the active hub that is stopping), then the
    // active hub (it fences its PostgreSQL and releases the lease while the store has a quorum),
    // then the witness.
    const active = lastActive?.name ?? null;
    const order = [...hubs.filter((h) => h !== active), ...hubs.filter((h) => h === active), ...c.members.filter((m) => m.role === 'witness').map((m) => m.name)];
    for (const name of order) {
      const child = c.processes.get(name);
      if (child !== undefined) {
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await c.kill(name, 'SIGTERM');
        clearTimeout(timer);
        event(`${name} sidecar (PID ${child.pid}) stopped${child.signalCode === 'SIGKILL' ? ' (SIGKILL after 20 s)' : ''}`);
      }
      if (c.member(name).role === 'hub') {
        // A standby's sidecar leaves PostgreSQL running (it outlives sidecar restarts): stop it
        // with a fast shutdown (SIGINT to the postmaster).
        const pid = await c.postmasterPid(name);
        if (pid !== null) {
          process.kill(pid, 'SIGINT');
          for (let i = 0; i < 300 && alive(pid); i++) await sleep(50);
          event(`${name} PostgreSQL (postmaster ${pid}) ${alive(pid) ? 'still running' : 'stopped (fast shutdown)'}`);
        } else if (postmasters.has(name)) {
          event(`${name} PostgreSQL (postmaster ${postmasters.get(name)}) stopped by its sidecar`);
        }
      }
    }
    await store?.close().catch(() => undefined);
    await c.stop('SIGTERM', 5000); // whatever is left, by PID
    // A postmaster removes its pid file just before it exits: give the PIDs a moment to go.
    const pids = [...everPids, ...postmasters.values()];
    for (let i = 0; i < 100 && pids.some(alive); i++) await sleep(50);
    const left = pids.filter(alive);
    await unlink(join(dir, LOCK_FILE)).catch(() => undefined);
    if (left.length > 0) {
      event(`still running: PIDs ${left.join(' ')}`);
      process.exit(1);
    }
    event(`stopped; nothing left running. Data kept in ${shown(dir)} (npm start reuses it; --fresh wipes it)`);
    process.exit(exitCode);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void shutdown(signal));
  emergencyStop = shutdown;

  // ---------------------------------------------------------------- start and describe
  out(`hubha local cluster in ${shown(dir)} (${reused ? 'existing data reused; --fresh wipes it' : 'new'})`);
  const started = performance.now();
  for (const m of c.members) launch(m.name);
  await writeLock();
  out();
  const rows = [
    ['member', 'role', 'sidecar PID', 'Raft peer', 'client API', 'HTTP', 'PostgreSQL'],
    ...c.members.map((m) => [m.name, m.role, String(c.processes.get(m.name)?.pid ?? '-'), m.peer, m.client, m.http, m.pgPort === null ? '-' : `127.0.0.1:${m.pgPort}`]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) out(`  ${r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ')}`.trimEnd());
  out();
  out(`  member logs (pino JSON): ${shown(join(dir, '<member>.log'))}; PostgreSQL logs: ${shown(join(dir, '<hub>', 'pg.log'))}`);
  out(`  PostgreSQL data: ${shown(join(dir, '<hub>', 'pg'))}; unix sockets: ${shown(join(dir, '<hub>', 'run'))}`);
  out();
  out(`waiting for an active hub and a streaming standby (up to ${HEALTHY_TIMEOUT_MS / 1000} s) ...`);

  store = await connectStore(c, 3000);
  let health: { active: { name: string; epoch: number; address: string }; standby: string; sync: string } | null = null;
  const deadline = performance.now() + HEALTHY_TIMEOUT_MS;
  while (!stopping && health === null && performance.now() < deadline) {
    const down = c.members.filter((m) => !c.processes.has(m.name) && !restartTimers.has(m.name));
    if (down.length > 0 && !restartDead) break;
    try {
      const active = await readActiveHub(store, 1500);
      if (active !== null) {
        const standby = hubs.find((h) => h !== active.name)!;
        const row = (await replication(c, active.name)).find((r) => r.application_name === standby && r.state === 'streaming');
        if (row !== undefined) health = { active, standby, sync: row.sync_state };
      }
    } catch {
      // not yet
    }
    if (health === null) await sleep(250);
  }
  if (stopping) return;
  if (health === null) {
    process.stderr.write(`npm start: the cluster did not become healthy within ${HEALTHY_TIMEOUT_MS / 1000} s; the members' logs:\n`);
    for (const m of c.members) {
      const text = await readFile(c.logFile(m.name), 'utf8').catch(() => '');
      process.stderr.write(`--- ${c.logFile(m.name)} (last lines)\n${text.trimEnd().split('\n').slice(-8).join('\n')}\n`);
    }
    await shutdown('not healthy', 1);
    return;
  }

  // Synchronous mode: the standby may take over only once it is synchronous and recorded as
  // such; wait for that (briefly) so that the failover printed below works right away.
  const { active, standby } = health;
  let syncState = health.sync;
  const syncDeadline = performance.now() + 30_000;
  while (!stopping && performance.now() < syncDeadline) {
    const rows = await replication(c, active.name).catch(() => [] as ReplicationRow[]);
    syncState = rows.find((r) => r.application_name === standby && r.state === 'streaming')?.sync_state ?? syncState;
    if (syncState === 'sync' && (await readSyncStandby(store, 1500).catch(() => null))?.standby === standby) break;
    await sleep(250);
  }
  if (stopping) return;
  out(`healthy after ${((performance.now() - started) / 1000).toFixed(1)} s`);
  lastActive = { name: active.name, epoch: active.epoch };
  const activePort = c.member(active.name).pgPort!;
  const socketDir = c.pgSocketConfig(active.name).host;
  const psql = (await onPath('psql')) ? 'psql' : join(PG_BIN_DIR, 'psql');
  const sidecarPid = c.processes.get(active.name)?.pid;
  const postmaster = await c.postmasterPid(active.name);
  const endpoints = c.endpoints().join(',');
  const http = c.members[0]!.http;
  out();
  out(`ACTIVE HUB: ${active.name} (epoch ${active.epoch}) — PostgreSQL at ${active.address}; ${standby} streams from it (${syncState})`);
  if (syncState !== 'sync') out(`  (${standby} is not yet the recorded synchronous standby: until it is, it will not take over)`);
  out();
  out('Write to the active hub — as its superuser over the unix socket (root or the postgres OS user):');
  out(`  ${psql} -h ${socketDir} -p ${activePort} -U postgres`);
  out(`  ${psql} -h ${socketDir} -p ${activePort} -U postgres -c "CREATE TABLE IF NOT EXISTS notes (id serial PRIMARY KEY, body text)" -c "INSERT INTO notes (body) VALUES ('hello')"`);
  out('  For TCP clients, create a role with a password (scram-sha-256, accepted from 127.0.0.0/8; it replicates to the standby):');
  out(`  ${psql} -h ${socketDir} -p ${activePort} -U postgres -c "CREATE ROLE app LOGIN PASSWORD 'app-secret'"`);
  out(`  ${psql} "postgresql://app:app-secret@${active.address}/postgres"`);
  out('  (After a failover the writable PostgreSQL is the other hub: its port and socket directory are in the table above.)');
  out();
  out('Read where the active hub is:');
  out(`  curl -s http://${http}/v1/active-hub`);
  out(`  node packages/cli/dist/main.js active-hub --endpoints ${endpoints}`);
  out();
  out(`Trigger a failover — kill -9 the active hub's sidecar and its PostgreSQL (postmaster):`);
  out(`  kill -9 ${sidecarPid ?? '?'} ${postmaster ?? '?'}`);
  out(`  ${standby} takes over within a few seconds (lease TTL 2 s, then promotion).${restartDead ? ` The killed sidecar is restarted after ${RESTART_DELAY_MS / 1000} s and rejoins as a standby (pg_rewind).` : ' The killed hub stays down (--no-restart).'}`);
  out(`Stop: Ctrl-C (or kill -TERM ${process.pid}) stops the standby, then the active hub (it fences PostgreSQL and`);
  out(`  releases the lease), then the witness; nothing is left running and the data stays in ${shown(dir)}.`);
  out();
  event(`active hub ${active.name} epoch ${active.epoch} at ${active.address}`);
  event(`${standby} streaming from ${active.name} (${syncState})`);

  // ---------------------------------------------------------------- following the store
  let storeDown = false;
  let lastReplication = `${standby} streaming from ${active.name} (${syncState})`;
  let noActiveReported = false;
  while (!stopping) {
    await sleep(POLL_MS);
    if (stopping) break;
    let current;
    try {
      current = await readActiveHub(store, 900);
      if (storeDown) event('store reachable again');
      storeDown = false;
    } catch (err) {
      if (!storeDown) event(`store unreachable (${err instanceof Error ? err.message : String(err)})`);
      storeDown = true;
      continue;
    }
    if (stopping) break;
    if (current === null) {
      if (!noActiveReported) event(`no active hub published${lastActive === null ? '' : ` (was ${lastActive.name} epoch ${lastActive.epoch})`}`);
      noActiveReported = true;
      continue;
    }
    noActiveReported = false;
    if (lastActive === null || current.name !== lastActive.name || current.epoch !== lastActive.epoch) {
      const was = lastActive === null ? '' : ` (was ${lastActive.name} epoch ${lastActive.epoch})`;
      lastActive = { name: current.name, epoch: current.epoch };
      event(`ACTIVE HUB ${current.name} epoch ${current.epoch} at ${current.address}${was}`);
      const pm = await c.postmasterPid(current.name);
      const sc = c.processes.get(current.name)?.pid;
      event(`  write: ${psql} -h ${c.pgSocketConfig(current.name).host} -p ${c.member(current.name).pgPort} -U postgres; fail over again: kill -9 ${sc ?? '?'} ${pm ?? '?'}`);
    }
    const other = hubs.find((h) => h !== current.name)!;
    const rows = await replication(c, current.name, 900).catch(() => null);
    if (stopping) break;
    const row = rows?.find((r) => r.application_name === other);
    const state =
      rows === null
        ? `${current.name} PostgreSQL not answering`
        : row === undefined
          ? `${other} not streaming from ${current.name}`
          : `${other} ${row.state} from ${current.name} (${row.sync_state})`;
    if (state !== lastReplication) {
      event(state);
      lastReplication = state;
    }
  }
}

main().catch(async (err: unknown) => {
  process.stderr.write(`npm start failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  if (emergencyStop !== null) await emergencyStop('failure', 1);
  process.exit(1);
});
