import { join } from 'node:path';
import type { PgBinaries } from './binaries.js';
import type { PgCommandRunner } from './command.js';
import { formatLsn, type Lsn } from './lsn.js';

/**
 * What a former primary wrote after the fork — the WAL pg_rewind is about to throw away — read
 * with `pg_waldump --stats=record` before the rewind. In asynchronous mode the commits among it
 * are what the failover lost (each one may have been acknowledged to a client). Unlike the span
 * from the fork to the last checkpoint, this excludes segment padding and WAL-internal records
 * (checkpoints, segment switches, written by crash recovery too).
 */
export interface WalAfterFork {
  /** Transactions committed after the fork (COMMIT and COMMIT_PREPARED records). */
  readonly commits: number;
  /** Records other than the WAL's own bookkeeping (rmgr XLOG). */
  readonly records: number;
  /** Their combined size, full-page images included. */
  readonly bytes: number;
}

/** A bound on what is parsed: one line per record type, a few dozen types at most. */
const MAX_STATS_LINES = 500;

/**
 * Parses `pg_waldump --stats=record` (PostgreSQL 15): one line per record type,
 * "Rmgr/TYPE  N (%)  record size (%)  FPI size (%)  combined size (%)". Null when no statistics
 * table is found (the output is not what we expect: say nothing rather than guess).
 */
export function parseWaldumpStats(text: string): WalAfterFork | null {
  const lines = text.split('\n').slice(0, MAX_STATS_LINES);
  if (!lines.some((l) => /^Type\s+N\s+\(%\)/.test(l))) return null;
  let commits = 0;
  let records = 0;
  let bytes = 0;
  for (const line of lines) {
    const m = /^(\w+)\/(\S+)\s+(\d+)\s+\(\s*[\d.]+\)\s+(\d+)\s+\(\s*[\d.]+\)\s+(\d+)\s+\(\s*[\d.]+\)\s+(\d+)\s+\(\s*[\d.]+\)\s*$/.exec(line);
    if (m === null) continue;
    const [, rmgr, type, n, , , combined] = m;
    if (rmgr === 'XLOG') continue;
    const count = Number(n);
    records += count;
    bytes += Number(combined);
    if (rmgr === 'Transaction' && (type === 'COMMIT' || type === 'COMMIT_PREPARED')) commits += count;
  }
  return { commits, records, bytes };
}

/**
 * Reads this stopped node's WAL on `timeline` from `fork` to its end. Null when pg_waldump fails
 * or says something unexpected: the figure is an account for the operator, never a reason to
 * stop a rejoin.
 */
export async function walAfterFork(runner: PgCommandRunner, binaries: PgBinaries, dataDir: string, timeline: number, fork: Lsn, timeoutMs: number): Promise<WalAfterFork | null> {
  try {
    // Exit code 1 is the normal end: "invalid record length" where the WAL stops.
    const res = await runner.run({
      command: binaries.path('pg_waldump'),
      args: ['--stats=record', '--path', join(dataDir, 'pg_wal'), '--timeline', String(timeline), '--start', formatLsn(fork)],
      timeoutMs,
      okExitCodes: [0, 1],
    });
    return parseWaldumpStats(res.stdout);
  } catch {
    return null;
  }
}
