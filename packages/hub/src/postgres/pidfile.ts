import { readFile, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';

/** The first lines of postmaster.pid. */
export interface PostmasterPid {
  readonly pid: number;
  readonly dataDir: string;
  readonly port: number | undefined;
  /** Last line written by the postmaster: 'starting', 'ready', 'standby', 'stopping' (or undefined). */
  readonly status: string | undefined;
}

/** Reads `<dataDir>/postmaster.pid`; undefined if absent or unparsable (e.g. half written). */
export async function readPostmasterPid(dataDir: string): Promise<PostmasterPid | undefined> {
  let text: string;
  try {
    text = await readFile(join(dataDir, 'postmaster.pid'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const lines = text.split('\n');
  const pidText = lines[0]?.trim() ?? '';
  if (!/^\d{1,10}$/.test(pidText)) return undefined;
  const pid = Number(pidText);
  if (pid <= 1) return undefined;
  const portText = lines[3]?.trim() ?? '';
  const status = lines[7]?.trim();
  return {
    pid,
    dataDir: lines[1]?.trim() ?? '',
    port: /^\d{1,5}$/.test(portText) ? Number(portText) : undefined,
    status: status === undefined || status === '' ? undefined : status,
  };
}

/**
 * Is `pid` a live (non-zombie) process? When `comm` is given, the process name must match too
 * (guards against a recycled PID). Our init may not reap orphans, so a zombie counts as dead.
 */
export async function isProcessAlive(pid: number, comm?: string): Promise<boolean> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    // No /proc (or no such process): fall back to signal 0.
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
  // "<pid> (<comm>) <state> ..." — comm may contain spaces and parentheses: take the last ')'.
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  if (open < 0 || close < open) return false;
  const name = stat.slice(open + 1, close);
  const state = stat.slice(close + 2, close + 3);
  if (state === 'Z' || state === 'X' || state === 'x') return false;
  return comm === undefined || name === comm;
}

/**
 * PIDs of live `postgres` processes whose working directory is `dataDir` — a postmaster and its
 * children chdir into the data directory, so this finds the orphaned backends a SIGKILLed
 * postmaster leaves behind (they hold its shared memory and block a restart until they exit).
 */
export async function postgresProcessesIn(dataDir: string): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if ((await readlink(join('/proc', e, 'cwd'))) !== dataDir) continue;
      if (await isProcessAlive(Number(e), 'postgres')) out.push(Number(e));
    } catch {
      /* gone, or not ours to inspect */
    }
  }
  return out;
}
