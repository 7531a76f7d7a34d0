import type { Command } from 'commander';
import type { Member } from '@hubha/coord';
import { withClient } from './endpoints.js';

function printMembers(members: readonly Member[], json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(members)}\n`);
    return;
  }
  const rows = members.map((m) => [m.id, m.role, m.peerAddress ?? '-', m.clientAddress ?? '-']);
  const header = ['MEMBER', 'ROLE', 'PEER', 'CLIENT'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [header, ...rows]) process.stdout.write(`${row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
}

/** `hubha member …`: membership changes against a running cluster (sent to the leader). */
export function registerMemberCommands(program: Command): void {
  const member = program.command('member').description('list and change the cluster membership (single-server changes through the Raft log)');
  member
    .command('list')
    .description('list the members with their roles and endpoints')
    .option('-e, --endpoints <list>', 'comma-separated client endpoints (default $HUBHA_ENDPOINTS)')
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (opts: { endpoints?: string; output: string }) => {
      await withClient(opts.endpoints, async (client) => printMembers((await client.session('cli').memberList()).members, opts.output === 'json'));
    });
  member
    .command('add <id>')
    .description('add a node as a learner (non-voting; promote it once it has caught up)')
    .requiredOption('--peer <host:port>', "the new node's Raft peer endpoint")
    .requiredOption('--client <host:port>', "the new node's client endpoint")
    .option('-e, --endpoints <list>', 'comma-separated client endpoints (default $HUBHA_ENDPOINTS)')
    .action(async (id: string, opts: { peer: string; client: string; endpoints?: string }) => {
      await withClient(opts.endpoints, async (client) => printMembers((await client.session('cli').memberAddLearner(id, opts.peer, opts.client)).members, false));
    });
  member
    .command('promote <id>')
    .description('promote a caught-up learner to a voter')
    .option('-e, --endpoints <list>', 'comma-separated client endpoints (default $HUBHA_ENDPOINTS)')
    .action(async (id: string, opts: { endpoints?: string }) => {
      await withClient(opts.endpoints, async (client) => printMembers((await client.session('cli').memberPromote(id)).members, false));
    });
  member
    .command('remove <id>')
    .description('remove a member (if it is the leader, leadership is handed over first)')
    .option('-e, --endpoints <list>', 'comma-separated client endpoints (default $HUBHA_ENDPOINTS)')
    .action(async (id: string, opts: { endpoints?: string }) => {
      await withClient(opts.endpoints, async (client) => printMembers((await client.session('cli').memberRemove(id)).members, false));
    });
  program
    .command('transfer-leader [target]')
    .description('hand Raft leadership to a voter (default: the most up-to-date other voter)')
    .option('-e, --endpoints <list>', 'comma-separated client endpoints (default $HUBHA_ENDPOINTS)')
    .action(async (target: string | undefined, opts: { endpoints?: string }) => {
      await withClient(opts.endpoints, async (client) => {
        const res = await client.session('cli').transferLeader(target ?? '');
        process.stdout.write(`leader: ${res.header.leader || '(electing)'} (term ${res.header.raftTerm})\n`);
      });
    });
}
