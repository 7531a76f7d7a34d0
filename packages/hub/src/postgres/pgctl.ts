import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { PgBinaries } from './binaries.js';
import { tailOf } from './bounded-output.js';
import type { PgCommandRunner } from './command.js';
import { PgCommandError, PgManagerError, describeError } from './errors.js';
import { isProcessAlive, postgresProcessesIn, readPostmasterPid } from './pidfile.js';

/* The server process: pg_ctl start/stop/status, single-user crash recovery, and waiting for
 * processes to be gone. */

export interface ServerProcessContext {
  readonly binaries: PgBinaries;
  readonly runner: PgCommandRunner;
  readonly dataDir: string;
  readonly logFile: string;
}

export type StopMode = 'smart' | 'fast' | 'immediate';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The last `bytes` of the server log, for error messages. */
export async function logTail(logFile: string, bytes = 3000): Promise<string> {
  try {
    const h = await open(logFile, 'r');
    try {
      const { size } = await h.stat();
      const start = Math.max(0, size - bytes);
      const buf = Buffer.alloc(size - start);
      await h.read(buf, 0, buf.length, start);
      return buf.toString('utf8');
    } finally {
      await h.close();
    }
  } catch {
    return '';
  }
}

/**
 * Is a postmaster running on this data directory? `pg_ctl status` says so AND the PID in
 * postmaster.pid is a live, non-zombie `postgres` process (pg_ctl counts a zombie as running, and
 * in a container whose init does not reap, a SIGKILLed postmaster stays a zombie).
 */
export async function serverStatus(ctx: ServerProcessContext): Promise<{ running: boolean; pid: number | undefined }> {
  const res = await ctx.runner.run({
    command: ctx.binaries.path('pg_ctl'),
    args: ['status', '-D', ctx.dataDir],
    timeoutMs: 10_000,
    okExitCodes: [0, 3, 4],
  });
  const pidFile = await readPostmasterPid(ctx.dataDir);
  if (res.exitCode !== 0 || pidFile === undefined) return { running: false, pid: undefined };
  const alive = await isProcessAlive(pidFile.pid, 'postgres');
  return { running: alive, pid: alive ? pidFile.pid : undefined };
}

/** pg_ctl start -w: returns when the postmaster reports ready (primary) or standby (hot standby). */
export async function pgCtlStart(ctx: ServerProcessContext, timeoutMs: number): Promise<void> {
  const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
  try {
    await ctx.runner.run({
      command: ctx.binaries.path('pg_ctl'),
      args: ['start', '-D', ctx.dataDir, '-l', ctx.logFile, '-w', '-t', String(seconds), '-s'],
      timeoutMs: seconds * 1000 + 10_000,
    });
  } catch (err) {
    const log = tailOf(await logTail(ctx.logFile), 1500);
    const timedOut =
      (err instanceof PgCommandError && err.code === 'COMMAND_TIMEOUT') ||
      (err instanceof PgCommandError && /did not start in time/.test(err.failure.stdout + err.failure.stderr));
    throw new PgManagerError(
      timedOut ? 'START_TIMEOUT' : 'START_FAILED',
      `${timedOut ? `PostgreSQL did not become ready within ${seconds} s (the postmaster may still be running; stop or fence it)` : 'PostgreSQL failed to start'}: ${describeError(err)}${log ? `\nserver log tail:\n${log}` : ''}`,
      { cause: err },
    );
  }
}

/** Waits until `pid` is no longer a live postgres process. */
export async function waitForExit(pid: number, timeoutMs: number, pollMs = 25): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (await isProcessAlive(pid, 'postgres')) {
    if (Date.now() >= deadline) return false;
    await sleep(pollMs);
  }
  return true;
}

/** How often a stopping postmaster's PID is checked. */
const STOP_POLL_MS = 10;

/**
 * Waits until no postgres process works in the data directory (orphaned backends of a crashed
 * postmaster hold its shared memory; starting again before they exit fails).
 */
export async function waitForOrphans(dataDir: string, timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = await postgresProcessesIn(dataDir);
    if (pids.length === 0) return [];
    if (Date.now() >= deadline) return pids;
    await sleep(50);
  }
}

/**
 * pg_ctl stop -m <mode> -w, then waits for the postmaster PID to be gone. Not running → no-op
 * (returns false). Timeout → STOP_TIMEOUT (the server may still run).
 */
export async function pgCtlStop(ctx: ServerProcessContext, mode: StopMode, timeoutMs: number): Promise<boolean> {
  const status = await serverStatus(ctx);
  if (!status.running || status.pid === undefined) return false;
  const started = Date.now();
  try {
    // -W: signal and return. pg_ctl's own wait looks for the postmaster's exit only every 100 ms;
    // we watch the PID every 10 ms instead (a switchover's budget is about a second, and a
    // demotion's a few hundred milliseconds).
    await ctx.runner.run({ command: ctx.binaries.path('pg_ctl'), args: ['stop', '-D', ctx.dataDir, '-m', mode, '-W', '-s'], timeoutMs: 10_000 });
  } catch (err) {
    const out = err instanceof PgCommandError ? err.failure.stdout + err.failure.stderr : '';
    if (/PID file .* does not exist|Is server running\?/.test(out) && !(await isProcessAlive(status.pid, 'postgres'))) {
      return true; // it stopped under us
    }
    throw new PgManagerError('COMMAND_FAILED', `pg_ctl stop -m ${mode} failed: ${describeError(err)}`, { cause: err });
  }
  const left = Math.max(0, timeoutMs - (Date.now() - started));
  if (!(await waitForExit(status.pid, left, STOP_POLL_MS))) {
    throw new PgManagerError('STOP_TIMEOUT', `postmaster ${status.pid} still alive ${timeoutMs} ms after pg_ctl stop -m ${mode}`);
  }
  return true;
}

/**
 * Crash recovery without accepting connections, as Patroni does before pg_rewind: the postgres
 * binary in single-user mode replays WAL to a consistent state and, at EOF on stdin, writes a
 * shutdown checkpoint — pg_control then says "shut down". archive_mode=on with a failing
 * archive_command keeps .ready markers, so no WAL is lost for an archiver that runs later.
 * (standby.signal/recovery.signal must be gone: single-user mode refuses standby mode.)
 */
export async function singleUserCrashRecovery(ctx: ServerProcessContext, timeoutMs: number): Promise<{ durationMs: number }> {
  try {
    const res = await ctx.runner.run({
      command: ctx.binaries.path('postgres'),
      args: ['--single', '-F', '-D', ctx.dataDir, '-c', 'archive_mode=on', '-c', 'archive_command=false', 'postgres'],
      stdin: '',
      timeoutMs,
    });
    return { durationMs: res.durationMs };
  } catch (err) {
    throw new PgManagerError('CRASH_RECOVERY_FAILED', `single-user crash recovery failed: ${describeError(err)}`, { cause: err });
  }
}

/** Sends `signal` to the postmaster of the data directory (from postmaster.pid); false if none runs. */
export async function signalPostmaster(dataDir: string, signal: NodeJS.Signals): Promise<number | undefined> {
  const pidFile = await readPostmasterPid(dataDir);
  if (pidFile === undefined || !(await isProcessAlive(pidFile.pid, 'postgres'))) return undefined;
  try {
    process.kill(pidFile.pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
    throw err;
  }
  return pidFile.pid;
}

/** The postmaster's shutdown signals: SIGINT is a fast shutdown, SIGQUIT an immediate one. */
export const SHUTDOWN_SIGNALS = { fast: 'SIGINT', immediate: 'SIGQUIT' } as const;

/**
 * Signals the postmaster named in postmaster.pid directly (what `pg_ctl stop -m <mode>` sends)
 * and watches its PID every STOP_POLL_MS until it exits. For the fence, where every millisecond
 * counts: no pg_ctl processes are spawned (pg_ctl status, then pg_ctl stop: tens of milliseconds
 * each on a loaded machine), and the timeout is in milliseconds where pg_ctl's -t takes whole
 * seconds. 'not-running' when no live postmaster; false when it is still alive at the timeout.
 */
export async function signalAndWait(dataDir: string, mode: keyof typeof SHUTDOWN_SIGNALS, timeoutMs: number): Promise<'stopped' | 'not-running' | false> {
  const started = Date.now();
  const pid = await signalPostmaster(dataDir, SHUTDOWN_SIGNALS[mode]);
  if (pid === undefined) return 'not-running';
  return (await waitForExit(pid, Math.max(0, timeoutMs - (Date.now() - started)), STOP_POLL_MS)) ? 'stopped' : false;
}

/**
 * Removes a postmaster.pid left by a crashed postmaster when its PID is no live postgres process
 * and nothing runs in the data directory. PostgreSQL removes a stale lock itself when the PID is
 * gone, but not when the PID is a zombie (an init that does not reap orphans) or was recycled by
 * another process of the same user: both would refuse every start. Returns the stale PID, if any.
 */
export async function removeStalePidFile(dataDir: string): Promise<number | undefined> {
  const pidFile = await readPostmasterPid(dataDir);
  if (pidFile === undefined) return undefined;
  if (await isProcessAlive(pidFile.pid, 'postgres')) return undefined;
  if ((await postgresProcessesIn(dataDir)).length > 0) return undefined;
  await rm(join(dataDir, 'postmaster.pid'), { force: true });
  return pidFile.pid;
}

/**
 * Removes the unix socket's lock file (`.s.PGSQL.<port>.lock`) when the PID in it is no live
 * postgres process — the same zombie/recycled-PID trap as postmaster.pid, for the socket.
 */
export async function removeStaleSocketLock(socketDir: string, port: number): Promise<number | undefined> {
  const path = join(socketDir, `.s.PGSQL.${port}.lock`);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  const first = text.split('\n')[0]?.trim() ?? '';
  if (!/^-?\d{1,10}$/.test(first)) return undefined;
  const pid = Math.abs(Number(first));
  if (pid <= 1 || (await isProcessAlive(pid, 'postgres'))) return undefined;
  await rm(path, { force: true });
  return pid;
}
