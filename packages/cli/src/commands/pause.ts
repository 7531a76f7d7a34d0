import { hostname, userInfo } from 'node:os';
import type { Command } from 'commander';
import { AdminClient } from '@hubha/coord';
import { resolveEndpoints } from './endpoints.js';
import type { CommandOutput } from './status.js';

/** Who is asking, for the record: user@host. */
export function defaultRequester(): string {
  let user = process.env.USER ?? '';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (a container): keep $USER
  }
  return `${user === '' ? 'unknown' : user}@${hostname()}`;
}

/**
 * `hubha pause` / `hubha resume`: writes hubha/paused through any member. Exit 0 done (or already
 * so), 1 refused by the cluster, 2 no member answered.
 */
export async function pauseCommand(pause: boolean, options: { endpoints?: string | undefined; reason?: string | undefined; by?: string | undefined }, stdout: CommandOutput = process.stdout): Promise<number> {
  const endpoints = resolveEndpoints(options.endpoints);
  const client = await AdminClient.create();
  try {
    const by = options.by ?? defaultRequester();
    const { value } = pause ? await client.pause(endpoints, options.reason ?? '', by) : await client.resume(endpoints, options.reason ?? '', by);
    const p = value.paused;
    const why = p.reason === '' ? '' : ` (${p.reason})`;
    if (pause) stdout.write(value.changed ? `paused by ${p.by} at ${p.at}${why}: no automatic failover until \`hubha resume\`\n` : `already paused by ${p.by} since ${p.at}${why}\n`);
    else stdout.write(value.changed ? `resumed by ${p.by} at ${p.at}${why}: automatic failover is on again\n` : 'not paused: nothing to resume\n');
    return 0;
  } finally {
    client.close();
  }
}

export function registerPauseCommands(program: Command): void {
  const endpointsHelp = 'comma-separated client endpoints, tried in turn (default $HUBHA_ENDPOINTS)';
  program
    .command('pause')
    .description('maintenance mode: no automatic failover until resumed (the active hub keeps running; every status shows it)')
    .option('-e, --endpoints <list>', endpointsHelp)
    .option('-r, --reason <text>', 'why (shown in the status and the events)')
    .option('--by <who>', 'who pauses (default user@host)')
    .addHelpText('after', '\nExit codes: 0 paused (or already paused), 1 refused (e.g. the store has no quorum), 2 no member answered.\n\nExample:\n  hubha pause --reason "kernel upgrade on hub2"\n')
    .action(async (opts: { endpoints?: string; reason?: string; by?: string }) => {
      process.exitCode = await pauseCommand(true, opts);
    });
  program
    .command('resume')
    .description('end maintenance mode: automatic failover is on again')
    .option('-e, --endpoints <list>', endpointsHelp)
    .option('-r, --reason <text>', 'a note for the record')
    .option('--by <who>', 'who resumes (default user@host)')
    .addHelpText('after', '\nExit codes: 0 resumed (or was not paused), 1 refused, 2 no member answered.\n')
    .action(async (opts: { endpoints?: string; reason?: string; by?: string }) => {
      process.exitCode = await pauseCommand(false, opts);
    });
}
