import type { Command } from 'commander';
import { AdminClient } from '@hubha/coord';
import { resolveEndpoints } from './endpoints.js';
import { defaultRequester } from './pause.js';
import type { CommandOutput } from './status.js';

/**
 * `hubha switchover`, `hubha failover` and `hubha reinit`: the planned and manual operations.
 * The member asked only records the request; the hubs do the work and the call waits for the
 * outcome. Exit 0 done (or, with --dry-run, it would be done), 1 refused (with the reasons),
 * 2 no member answered.
 */

interface Common {
  endpoints?: string;
  reason?: string;
  by?: string;
  output?: string;
}

function json(stdout: CommandOutput, value: unknown): void {
  stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export async function switchoverCommand(options: Common & { to?: string; at?: string; dryRun?: boolean }, stdout: CommandOutput = process.stdout): Promise<number> {
  const endpoints = resolveEndpoints(options.endpoints);
  const client = await AdminClient.create();
  try {
    const { value } = await client.switchover(endpoints, { target: options.to ?? '', at: options.at ?? '', dryRun: options.dryRun === true, reason: options.reason ?? '', by: options.by ?? defaultRequester() });
    if (options.output === 'json') json(stdout, value);
    else if (value.dryRun) {
      stdout.write(`dry run: a switchover from ${value.from} to ${value.to} would${value.scheduledAt === null ? '' : ` (at ${value.scheduledAt})`}:\n`);
      value.steps.forEach((step, i) => stdout.write(`  ${i + 1}. ${step}\n`));
    } else if (value.scheduledAt !== null) stdout.write(`switchover from ${value.from} to ${value.to} scheduled at ${value.scheduledAt}\n`);
    else stdout.write(`switched over from ${value.from} to ${value.to} in ${value.durationS.toFixed(2)} s (epoch ${value.epoch}; ${value.to} replayed past ${value.from}'s final WAL position ${value.finalLsn ?? 'unknown'})\n`);
    return 0;
  } finally {
    client.close();
  }
}

export async function failoverCommand(options: Common & { to?: string; force?: boolean; dryRun?: boolean }, stdout: CommandOutput = process.stdout, stderr: CommandOutput = process.stderr): Promise<number> {
  const endpoints = resolveEndpoints(options.endpoints);
  const client = await AdminClient.create();
  try {
    const { value } = await client.failover(endpoints, { target: options.to ?? '', force: options.force === true, dryRun: options.dryRun === true, reason: options.reason ?? '', by: options.by ?? defaultRequester() });
    // Warnings go to stderr in capitals' spirit: a manual failover may lose data.
    for (const warning of value.warnings) stderr.write(`WARNING: ${warning}\n`);
    const loss = value.dataLossBytes === null ? 'unknown (not the synchronous standby)' : `${value.dataLossBytes} bytes`;
    if (options.output === 'json') json(stdout, value);
    else if (value.dryRun) {
      stdout.write(`dry run: a manual failover to ${value.to} would (data that could be lost: ${loss}):\n`);
      value.steps.forEach((step, i) => stdout.write(`  ${i + 1}. ${step}\n`));
    } else stdout.write(`failed over to ${value.to} (epoch ${value.epoch}; from ${value.from ?? 'no previous primary'}; data that could be lost: ${loss})\n`);
    return 0;
  } finally {
    client.close();
  }
}

export async function reinitCommand(member: string, options: { endpoints?: string; by?: string; force?: boolean }, stdout: CommandOutput = process.stdout): Promise<number> {
  const endpoints = resolveEndpoints(options.endpoints);
  const client = await AdminClient.create();
  try {
    const { value } = await client.reinit(endpoints, { member, force: options.force === true, by: options.by ?? defaultRequester() });
    stdout.write(`${value.message}\n`);
    return value.started ? 0 : 1;
  } finally {
    client.close();
  }
}

export function registerHandoverCommands(program: Command): void {
  const endpointsHelp = 'comma-separated client endpoints, tried in turn (default $HUBHA_ENDPOINTS)';
  program
    .command('switchover')
    .description('planned handover to a standby without data loss: the primary stops cleanly, the target replays all of it, then promotes')
    .option('-e, --endpoints <list>', endpointsHelp)
    .option('--to <hub>', 'the standby to hand over to (default: the synchronous / least lagging one)')
    .option('--at <time>', 'schedule it (RFC 3339, at most 55 minutes ahead)')
    .option('--dry-run', 'show the steps, or why it is refused, without doing anything')
    .option('-r, --reason <text>', 'why (kept in the history)')
    .option('--by <who>', 'who asks (default user@host)')
    .option('-o, --output <format>', 'text or json', 'text')
    .addHelpText(
      'after',
      '\nRefused (exit 1) when the target is not streaming, lags by more than 64 MiB, is tagged nofailover, does not report, or another handover is under way.\nExit codes: 0 done (or scheduled, or the dry run passes), 1 refused or failed, 2 no member answered.\n\nExamples:\n  hubha switchover --to hub2\n  hubha switchover --dry-run\n  hubha switchover --to hub2 --at 2026-11-26T22:00:00Z --reason "kernel upgrade on hub1"\n',
    )
    .action(async (opts: Common & { to?: string; at?: string; dryRun?: boolean }) => {
      process.exitCode = await switchoverCommand(opts);
    });
  program
    .command('failover')
    .description('manual failover to a standby when there is no active hub and the automatic rules refuse (or the cluster is paused)')
    .requiredOption('--to <hub>', 'the standby to promote')
    .option('-e, --endpoints <list>', endpointsHelp)
    .option('--force', 'promote although the rules refuse (e.g. not the synchronous standby): MAY LOSE ACKNOWLEDGED COMMITS')
    .option('--dry-run', 'show what would be done and what could be lost, without doing it')
    .option('-r, --reason <text>', 'why (kept in the history)')
    .option('--by <who>', 'who asks (default user@host)')
    .option('-o, --output <format>', 'text or json', 'text')
    .addHelpText(
      'after',
      '\nRefused while an active hub holds the lease (use switchover), when the target is not a running, reporting standby, or (without --force) when it is not eligible.\nExit codes: 0 done (or the dry run passes), 1 refused or failed, 2 no member answered.\n\nExamples:\n  hubha failover --to hub2 --dry-run\n  hubha failover --to hub2 --force --reason "hub1 lost its disk"\n',
    )
    .action(async (opts: Common & { to?: string; force?: boolean; dryRun?: boolean }) => {
      process.exitCode = await failoverCommand(opts);
    });
  program
    .command('reinit <member>')
    .description('re-clone a standby from the active hub (its data directory is replaced)')
    .option('-e, --endpoints <list>', endpointsHelp)
    .option('--force', 'ask even though its sidecar is not reporting (it acts when it returns), or replace a pending request')
    .option('--by <who>', 'who asks (default user@host)')
    .addHelpText('after', '\nExit codes: 0 the hub started (or finished) re-cloning, 1 refused or not picked up within 10 s, 2 no member answered.\n\nExample:\n  hubha reinit hub2\n')
    .action(async (member: string, opts: { endpoints?: string; by?: string; force?: boolean }) => {
      process.exitCode = await reinitCommand(member, opts);
    });
}
