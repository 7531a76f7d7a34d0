import type { Command } from 'commander';
import { AdminClient } from '@hubha/coord';
import type { HistoryEntry, Rejoin } from '@hubha/coord';
import { UsageError, resolveEndpoints } from './endpoints.js';
import { positiveNumber } from './status.js';
import type { CommandOutput } from './status.js';

/** How a promotion's former primary came back, in words. */
export function describeRejoin(r: Rejoin): string {
  const forked = r.divergedAt === null ? '' : ` (forked at ${r.divergedAt})`;
  const wrote =
    r.commitsAfterFork === null
      ? null
      : `${r.commitsAfterFork} commit${r.commitsAfterFork === 1 ? '' : 's'}${r.walBytesAfterFork === null ? '' : ` (${r.walBytesAfterFork} B of WAL)`} after the fork`;
  const how =
    r.rewind === 'rewound'
      ? `pg_rewind discarded ${wrote ?? 'what it wrote after the fork (how much is unknown)'} that ${r.primary} never had${forked}`
      : r.rewind === 'recloned'
        ? `re-cloned from ${r.primary}; ${wrote === null ? 'what it wrote after the fork is unknown' : `it had written ${wrote}`}`
        : `nothing discarded (${r.rewind === 'no-rewind-required' ? 'pg_rewind: no rewind required' : 'no rewind needed'})`;
  return `${r.member} rejoined at ${r.at}: ${how}`;
}

/** The failover history as a table, oldest first; under a promotion, how its former primary came back. */
export function renderHistory(entries: readonly HistoryEntry[], rejoins: readonly Rejoin[] = []): string {
  if (entries.length === 0) return 'no failover history: the cluster never had an active hub\n';
  const header = ['EPOCH', 'AT', 'KIND', 'FROM', 'TO', 'DATA LOSS', 'REASON'];
  const rows = entries.map((e) => [String(e.epoch), e.at, e.kind, e.from ?? '-', e.to, e.dataLossBytes === null ? 'unknown' : `${e.dataLossBytes} B`, e.reason]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (row: readonly string[]): string => `${row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`;
  const byEpoch = new Map(rejoins.map((r) => [r.epoch, r]));
  return (
    line(header) +
    entries
      .map((e, i) => {
        const rejoin = byEpoch.get(e.epoch);
        return line(rows[i]!) + (rejoin !== undefined && rejoin.member === e.from ? `${' '.repeat(widths[0]! + 2)}↳ ${describeRejoin(rejoin)}\n` : '');
      })
      .join('')
  );
}

export async function historyCommand(options: { endpoints?: string | undefined; output?: string | undefined; limit?: number | undefined; serializable?: boolean | undefined }, stdout: CommandOutput = process.stdout, stderr: CommandOutput = process.stderr): Promise<number> {
  const endpoints = resolveEndpoints(options.endpoints);
  const output = options.output ?? 'table';
  if (output !== 'table' && output !== 'json') throw new UsageError(`--output must be table or json, got ${JSON.stringify(output)}`);
  const client = await AdminClient.create();
  try {
    const { value } = await client.history(endpoints, { serializable: options.serializable === true, limit: options.limit ?? 0 });
    if (!value.linearizable && options.serializable !== true) stderr.write(`hubha: warning: no member could confirm it is current; the answer from ${value.servedBy} may be stale\n`);
    for (const problem of value.problems) stderr.write(`hubha: warning: invalid record ignored: ${problem}\n`);
    stdout.write(output === 'json' ? `${JSON.stringify({ entries: value.entries, rejoins: value.rejoins, servedBy: value.servedBy, revision: value.revision, linearizable: value.linearizable })}\n` : renderHistory(value.entries, value.rejoins));
    return 0;
  } finally {
    client.close();
  }
}

export function registerHistoryCommand(program: Command): void {
  program
    .command('history')
    .description('the failover history: every promotion (bootstrap, failover, switchover, manual failover) with its epoch, time, from, to, reason and data-loss bound, and how the former primary came back (the commits its pg_rewind discarded: in asynchronous mode, what the failover lost)')
    .option('-e, --endpoints <list>', 'comma-separated client endpoints, tried in turn (default $HUBHA_ENDPOINTS)')
    .option('-o, --output <format>', 'table or json', 'table')
    .option('-n, --limit <n>', 'only the last n entries')
    .option('--serializable', "accept the first member's answer without a read barrier (possibly stale)")
    .addHelpText('after', '\nExample:\n  hubha history --limit 10\n')
    .action(async (opts: { endpoints?: string; output: string; limit?: string; serializable?: boolean }) => {
      process.exitCode = await historyCommand({ endpoints: opts.endpoints, output: opts.output, limit: positiveNumber(opts.limit, '--limit'), serializable: opts.serializable });
    });
}
