import type { Command } from 'commander';
import { AdminClient } from '@hubha/coord';
import type { HistoryEntry } from '@hubha/coord';
import { UsageError, resolveEndpoints } from './endpoints.js';
import { positiveNumber } from './status.js';
import type { CommandOutput } from './status.js';

/** The failover history as a table, oldest first. */
export function renderHistory(entries: readonly HistoryEntry[]): string {
  if (entries.length === 0) return 'no failover history: the cluster never had an active hub\n';
  const header = ['EPOCH', 'AT', 'KIND', 'FROM', 'TO', 'DATA LOSS', 'REASON'];
  const rows = entries.map((e) => [String(e.epoch), e.at, e.kind, e.from ?? '-', e.to, e.dataLossBytes === null ? 'unknown' : `${e.dataLossBytes} B`, e.reason]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((row) => `${row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`).join('');
}

export async function historyCommand(options: { endpoints?: string | undefined; output?: string | undefined; limit?: number | undefined; serializable?: boolean | undefined }, stdout: CommandOutput = process.stdout, stderr: CommandOutput = process.stderr): Promise<number> {
  const endpoints = resolveEndpoints(options.endpoints);
  const output = options.output ?? 'table';
  if (output !== 'table' && output !== 'json') throw new UsageError(`--output must be table or json, got ${JSON.stringify(output)}`);
  const client = await AdminClient.create();
  try {
    const { value } = await client.history(endpoints, { serializable: options.serializable === true, limit: options.limit ?? 0 });
    if (!value.linearizable && options.serializable !== true) stderr.write(`hubha: warning: no member could confirm it is current; the answer from ${value.servedBy} may be stale\n`);
    for (const problem of value.problems) stderr.write(`hubha: warning: invalid history record ignored: ${problem}\n`);
    stdout.write(output === 'json' ? `${JSON.stringify({ entries: value.entries, servedBy: value.servedBy, revision: value.revision, linearizable: value.linearizable })}\n` : renderHistory(value.entries));
    return 0;
  } finally {
    client.close();
  }
}

export function registerHistoryCommand(program: Command): void {
  program
    .command('history')
    .description('the failover history: every promotion (bootstrap, failover, switchover, manual failover) with its epoch, time, from, to, reason and data-loss bound')
    .option('-e, --endpoints <list>', 'comma-separated client endpoints, tried in turn (default $HUBHA_ENDPOINTS)')
    .option('-o, --output <format>', 'table or json', 'table')
    .option('-n, --limit <n>', 'only the last n entries')
    .option('--serializable', "accept the first member's answer without a read barrier (possibly stale)")
    .addHelpText('after', '\nExample:\n  hubha history --limit 10\n')
    .action(async (opts: { endpoints?: string; output: string; limit?: string; serializable?: boolean }) => {
      process.exitCode = await historyCommand({ endpoints: opts.endpoints, output: opts.output, limit: positiveNumber(opts.limit, '--limit'), serializable: opts.serializable });
    });
}
