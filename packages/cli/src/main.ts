#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { ConfigError, loadNodeConfig } from '@hubha/coord';
import { AdminCallError, AdminUnreachableError, CoordClientError } from '@hubha/coord';
import { resolveHubSettings } from '@hubha/hub';
import { runNode } from './commands/run.js';
import { UsageError } from './commands/endpoints.js';
import { registerKvCommands } from './commands/kv.js';
import { registerMemberCommands } from './commands/members.js';
import { registerActiveHubCommand } from './commands/active-hub.js';
import { registerStatusCommand } from './commands/status.js';
import { registerHistoryCommand } from './commands/history.js';
import { registerPauseCommands } from './commands/pause.js';
import { registerWatchCommand } from './commands/watch.js';
import { registerInventoryCommand } from './commands/inventory.js';
import { registerHandoverCommands } from './commands/handover.js';

/** Exit codes scripts can rely on: 0 ok, 1 degraded / operation refused, 2 failed or usage. */
export const EXIT_OK = 0;
export const EXIT_REFUSED = 1;
export const EXIT_FAILED = 2;

const program = new Command()
  .name('hubha')
  .description('High availability for PostgreSQL hub pairs on a Raft log: run a node, manage the cluster')
  .exitOverride();

program
  .command('run')
  .description('run one node (a member of the coordination store) from its configuration file')
  .requiredOption('-c, --config <file>', 'YAML configuration file')
  .action(async (options: { config: string }) => {
    await runNode(options.config);
  });

program
  .command('config')
  .description('configuration helpers')
  .command('validate <file>')
  .description('check a configuration file; prints what is wrong with it, by key')
  .action(async (file: string) => {
    const config = await loadNodeConfig(file);
    const role = config.role ?? config.cluster.members.find((m) => m.name === config.node.name)?.role ?? 'witness';
    if (role === 'hub') resolveHubSettings(config, file);
    const voters = config.cluster.members.length;
    process.stdout.write(`${file}: ok (cluster ${config.cluster.id}, node ${config.node.name}, role ${role}, ${voters} members)\n`);
    if (voters % 2 === 0) process.stderr.write(`warning: ${voters} voting members: an even number tolerates no more failures than ${voters - 1}\n`);
  });

registerMemberCommands(program);
registerKvCommands(program);
registerActiveHubCommand(program);
registerStatusCommand(program);
registerHistoryCommand(program);
registerPauseCommands(program);
registerWatchCommand(program);
registerInventoryCommand(program);
registerHandoverCommands(program);

async function main(): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? EXIT_OK : EXIT_FAILED);
    if (err instanceof ConfigError || err instanceof UsageError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(EXIT_FAILED);
    }
    if (err instanceof AdminUnreachableError) {
      process.stderr.write(`hubha: ${err.message}\n`);
      process.exit(EXIT_FAILED);
    }
    if (err instanceof AdminCallError) {
      // A member answered "no" (invalid argument, no quorum, a state that forbids it): a refusal. A
      // deadline or an internal error is no answer: the operation may or may not have happened.
      const refused = err.refused;
      process.stderr.write(`hubha: ${refused ? 'refused' : 'failed'}: ${err.code === '' || err.details.startsWith(`${err.code}:`) ? '' : `${err.code}: `}${err.details}\n`);
      process.exit(refused ? EXIT_REFUSED : EXIT_FAILED);
    }
    if (err instanceof CoordClientError) {
      // The cluster answered "no" (e.g. conf-change-pending): a refusal, not a crash.
      process.stderr.write(`hubha: refused: ${err.code}: ${err.message}\n`);
      process.exit(err.code === 'unavailable' || err.code === 'timeout' ? EXIT_FAILED : EXIT_REFUSED);
    }
    process.stderr.write(`hubha: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(EXIT_FAILED);
  }
}

void main();
