import type { Command } from 'commander';
import { AdminClient, MemberAdminClient } from '@hubha/coord';
import type { ClusterStatus, MemberStatus } from '@hubha/coord';
import { UsageError, resolveEndpoints } from './endpoints.js';
import type { CommandOutput } from './status.js';
import { positiveNumber } from './status.js';

/**
 * `hubha members` (and `hubha member list`), `hubha member add|promote|remove` and `hubha
 * transfer-leader`, all through the Admin API: any member answers, and the membership changes
 * are taken to the Raft leader, which refuses what is unsafe (the refusal's code is printed, exit 1).
 */

const ENDPOINTS_HELP = 'comma-separated client endpoints, tried in turn (default $HUBHA_ENDPOINTS)';

export interface MemberList {
  readonly members: readonly MemberStatus[];
  readonly raft: ClusterStatus['raft'];
  readonly servedBy: string;
  readonly linearizable: boolean;
}

/** One row per member: name, kind, Raft role and state, whether it is the active hub, its endpoints. */
export function renderMembers(members: readonly MemberStatus[]): string {
  const header = ['MEMBER', 'KIND', 'RAFT ROLE', 'STATE', 'ACTIVE', 'PEER', 'CLIENT'];
  const rows = members.map((m) => [
    m.name,
    m.kind,
    m.raft.role ?? 'not a member',
    m.reachable ? m.raft.state : 'unreachable',
    m.active ? 'active hub' : '-',
    m.raft.peerAddress ?? '-',
    m.raft.clientAddress ?? '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((row) => `${row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`).join('');
}

/** The table and a line on the Raft group as the answering member sees it. */
export function renderMemberList(list: MemberList): string {
  const r = list.raft;
  const leader = r.leader === null ? `no Raft leader known (term ${r.term})` : `Raft leader ${r.leader} (term ${r.term})`;
  return `${renderMembers(list.members)}${leader}; ${r.reachableVoters}/${r.voters} voters reachable${r.quorum ? '' : ', NO QUORUM'}; answered by ${list.servedBy}\n`;
}

function outputFormat(output: string | undefined): 'table' | 'json' {
  const format = output ?? 'table';
  if (format !== 'table' && format !== 'json') throw new UsageError(`--output must be table or json, got ${JSON.stringify(format)}`);
  return format;
}

/** `hubha members`: exit 0 when a member answered, 2 when none did. */
export async function membersCommand(options: { endpoints?: string | undefined; output?: string | undefined; serializable?: boolean | undefined; timeoutMs?: number | undefined }, stdout: CommandOutput = process.stdout, stderr: CommandOutput = process.stderr): Promise<number> {
  const endpoints = resolveEndpoints(options.endpoints);
  const output = outputFormat(options.output);
  const client = await AdminClient.create({ timeoutMs: options.timeoutMs ?? 5_000 });
  try {
    const { value, failures } = await client.members(endpoints, { serializable: options.serializable === true });
    for (const f of failures) stderr.write(`hubha: ${f.endpoint} did not answer: ${f.error}\n`);
    if (!value.linearizable && options.serializable !== true) stderr.write(`hubha: warning: no member could confirm it is current; the answer from ${value.servedBy} may be stale\n`);
    stdout.write(output === 'json' ? `${JSON.stringify({ servedBy: value.servedBy, linearizable: value.linearizable, raft: value.raft, members: value.members })}\n` : renderMemberList(value));
    return 0;
  } finally {
    client.close();
  }
}

/** Runs one membership change; prints the leader's message and the members after it. */
async function changeCommand(endpointsFlag: string | undefined, run: (client: MemberAdminClient, endpoints: string[]) => Promise<string>, stdout: CommandOutput = process.stdout): Promise<number> {
  const endpoints = resolveEndpoints(endpointsFlag);
  const client = await MemberAdminClient.create();
  try {
    stdout.write(await run(client, endpoints));
    return 0;
  } finally {
    client.close();
  }
}

const CHANGE_EXIT_CODES = '\nExit codes: 0 done, 1 refused (the reason\'s code is printed, e.g. learner-not-caught-up), 2 no member answered or the outcome is unknown.\n';

export function registerMemberCommands(program: Command): void {
  const list = async (opts: { endpoints?: string; output: string; serializable?: boolean; timeout: string }): Promise<void> => {
    const timeoutMs = positiveNumber(opts.timeout, '--timeout');
    if (timeoutMs === 0) throw new UsageError('--timeout must be positive');
    process.exitCode = await membersCommand({ endpoints: opts.endpoints, output: opts.output, serializable: opts.serializable, timeoutMs });
  };
  const listOptions = (command: Command): Command =>
    command
      .option('-e, --endpoints <list>', ENDPOINTS_HELP)
      .option('-o, --output <format>', 'table or json', 'table')
      .option('--serializable', "accept the first member's answer without a read barrier (possibly stale)")
      .option('--timeout <ms>', 'per-endpoint deadline in milliseconds', '5000')
      .addHelpText('after', '\nExit codes: 0 a member answered, 2 none did (or usage).\n\nExamples:\n  hubha members --endpoints 10.0.0.13:7101\n  hubha members -o json | jq -r \'.members[] | select(.raft.role == "learner") | .name\'\n')
      .action(list);

  listOptions(program.command('members').description('the members of the cluster: kind, Raft role and state, the active hub, endpoints (same as `member list`)'));
  const member = program.command('member').description('list and change the cluster membership through the Admin API (single-server changes, made by the Raft leader)');
  listOptions(member.command('list').description('the members of the cluster (same as `hubha members`)'));
  member
    .command('add <name>')
    .description('add a node as a Raft learner (non-voting); start it with node.join: true, then promote it once it has caught up')
    .requiredOption('--peer <host:port>', "the new node's Raft peer endpoint")
    .requiredOption('--client <host:port>', "the new node's client endpoint")
    .option('--role <role>', 'hub or witness', 'witness')
    .option('-e, --endpoints <list>', ENDPOINTS_HELP)
    .addHelpText('after', `${CHANGE_EXIT_CODES}\nRefused: invalid-name, invalid-address, invalid-role, member-exists, address-in-use, conf-change-pending.\n\nExample:\n  hubha member add witness2 --peer 10.0.0.14:7001 --client 10.0.0.14:7101 --role witness\n`)
    .action(async (name: string, opts: { peer: string; client: string; role: string; endpoints?: string }) => {
      process.exitCode = await changeCommand(opts.endpoints, async (client, endpoints) => {
        const { value } = await client.addMember(endpoints, { name, peerAddress: opts.peer, clientAddress: opts.client, role: opts.role });
        return `${value.message}\n${renderMembers(value.members)}`;
      });
    });
  member
    .command('promote <name>')
    .description('promote a learner that has caught up with the leader to a voter')
    .option('-e, --endpoints <list>', ENDPOINTS_HELP)
    .addHelpText('after', `${CHANGE_EXIT_CODES}\nRefused: no-such-member, not-a-learner, learner-not-caught-up, member-unreachable, would-lose-quorum.\n\nExample:\n  hubha member promote witness2\n`)
    .action(async (name: string, opts: { endpoints?: string }) => {
      process.exitCode = await changeCommand(opts.endpoints, async (client, endpoints) => {
        const { value } = await client.promoteMember(endpoints, name);
        return `${value.message}\n${renderMembers(value.members)}`;
      });
    });
  member
    .command('remove <name>')
    .description('remove a member (the leader hands its leadership over first when it is the one removed); stop its process afterwards')
    .option('--force', 'remove even when fewer than three voters remain (e.g. the last witness of a three-voter cluster)')
    .option('-e, --endpoints <list>', ENDPOINTS_HELP)
    .addHelpText(
      'after',
      `${CHANGE_EXIT_CODES}\nRefused: no-such-member, active-hub (switch over first), would-lose-quorum (the reachable voters left would be no majority; --force does not help), last-witness and no-spare-voter (fewer than three voters left; --force overrides), last-voter.\n\nExample:\n  hubha member remove witness2\n`,
    )
    .action(async (name: string, opts: { force?: boolean; endpoints?: string }) => {
      process.exitCode = await changeCommand(opts.endpoints, async (client, endpoints) => {
        const { value } = await client.removeMember(endpoints, name, opts.force === true);
        return `${value.message}\n${renderMembers(value.members)}`;
      });
    });
  program
    .command('transfer-leader [target]')
    .description('hand Raft leadership to a voter (default: the most up-to-date reachable one, not the active hub if another will do)')
    .option('-e, --endpoints <list>', ENDPOINTS_HELP)
    .addHelpText('after', `${CHANGE_EXIT_CODES}\nRefused: no-such-member, not-a-voter, member-unreachable, no-transfer-target.\n\nExample:\n  hubha transfer-leader witness\n`)
    .action(async (target: string | undefined, opts: { endpoints?: string }) => {
      process.exitCode = await changeCommand(opts.endpoints, async (client, endpoints) => {
        const { value } = await client.transferLeadership(endpoints, target ?? '');
        return `leader: ${value.leader} (term ${value.term})\n`;
      });
    });
}
