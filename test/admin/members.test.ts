/**
 * The Admin API's membership operations and the `members` and `inventory` commands on a real
 * local cluster (two hubs with PostgreSQL 15 and a witness, as `hubha run` processes), plus a
 * second witness started as a separate process to join it.
 *
 * 1. `hubha members` / `member list` from any member, as a table and as JSON.
 * 2. `hubha inventory`: the active hub and its real IP, each host's HA status, paused and its
 *    reason, and "unknown" with exit 2 when no member answers.
 * 3. Every refusal, asked of a follower, with its code — and nothing changed.
 * 4. Removing a member while another is down: would-lose-quorum, even with force.
 * 5. witness2 added as a learner (refused promotion before it runs), promoted, made the Raft
 *    leader, the first witness removed; the last witness only with --force, the leader handing
 *    its leadership over first. The hubs carry on.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminCallError, AdminClient, MemberAdminClient } from '@hubha/coord';
import type { ClusterStatus, CoordClient } from '@hubha/coord';
import { HUBHA_CLI, LocalHubCluster, freePort } from '../../deploy/local/local-cluster.js';
import { NamedProcesses, readJsonLog } from '../../deploy/local/named-processes.js';
import { ELECTION_SAFE, connectClient, dumpLogsOnFailure, moveRaftLeader, readActiveHub, readLease, waitFor, waitHealthy } from '../hub/support.js';

let cluster: LocalHubCluster;
let client: CoordClient;
let admin: AdminClient;
let members: MemberAdminClient;
/** witness2: started by this test, not by the cluster. */
const joiners = new NamedProcesses();
let primary: string;
let standby: string;

beforeAll(async () => {
  cluster = await LocalHubCluster.create({ dir: await mkdtemp(join(tmpdir(), 'hubha-members-')), synchronous: 'on', ...ELECTION_SAFE });
  cluster.startAll();
  client = await connectClient(cluster);
  admin = await AdminClient.create({ timeoutMs: 5000 });
  members = await MemberAdminClient.create();
}, 120_000);

afterAll(async () => {
  for (const name of joiners.processes.keys()) await joiners.kill(name, 'SIGKILL');
  admin?.close();
  members?.close();
  await client?.close();
  await cluster?.destroy({ keep: process.env.HUBHA_KEEP === '1' });
});

function cli(args: string[], env: Record<string, string | undefined> = { HUBHA_ENDPOINTS: cluster.endpoints().join(',') }): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const { HUBHA_ENDPOINTS: _drop, ...base } = process.env;
    execFile(process.execPath, [HUBHA_CLI, ...args], { timeout: 40_000, env: { ...base, ...env } }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

const endpoint = (name: string): string => cluster.member(name).client;

async function statusFrom(name: string): Promise<ClusterStatus> {
  return (await admin.status([endpoint(name)])).value;
}

/** The refusal a promise ends with: gRPC status name and the hubha-error-code. */
async function refusal(call: Promise<unknown>): Promise<string> {
  const err = await call.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(err instanceof AdminCallError)) throw new Error(`expected a refusal, got ${err === null ? 'success' : String(err)}`);
  return `${grpc.status[err.status]}:${err.code}`;
}

async function voters(from: string): Promise<string[]> {
  const { value } = await admin.members([endpoint(from)]);
  return value.members.filter((m) => m.raft.role !== null).map((m) => `${m.name}:${m.raft.role}`).sort();
}

describe('membership through the Admin API on a real cluster', () => {
  it('hubha members and member list: every member from any member, as a table and as JSON', async () => {
    dumpLogsOnFailure(() => cluster);
    const healthy = await waitHealthy(cluster, client, { synchronous: true });
    primary = healthy.active.name;
    standby = healthy.standby;
    await waitFor('a healthy status', async () => (await statusFrom('witness')).state === 'healthy', 30_000, 200);

    const table = await cli(['members', '--endpoints', endpoint('witness')]);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^MEMBER +KIND +RAFT ROLE +STATE +ACTIVE +PEER +CLIENT$/);
    expect(table.stdout).toMatch(new RegExp(`^${primary} +hub +voter +(leader|follower) +active hub +127\\.0\\.0\\.1:\\d+ +${endpoint(primary)}$`, 'm'));
    expect(table.stdout).toMatch(new RegExp(`^${standby} +hub +voter +(leader|follower) +- +127\\.0\\.0\\.1:\\d+ +${endpoint(standby)}$`, 'm'));
    expect(table.stdout).toMatch(/^witness +witness +voter +(leader|follower) +- /m);
    expect(lines.at(-1)).toMatch(/^Raft leader (hub1|hub2|witness) \(term \d+\); 3\/3 voters reachable; answered by witness$/);
    expect(lines.slice(1, -1).filter((l) => / leader /.test(l))).toHaveLength(1);

    const json = await cli(['member', 'list', '-o', 'json']);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as { raft: { voters: number; quorum: boolean }; members: { name: string; kind: string; active: boolean; raft: { role: string } }[] };
    expect(parsed.raft).toMatchObject({ voters: 3, quorum: true });
    expect(parsed.members.map((m) => `${m.name}:${m.kind}:${m.raft.role}:${m.active}`).sort()).toEqual([`${primary}:hub:voter:true`, `${standby}:hub:voter:false`, 'witness:witness:voter:false'].sort());

    const none = await cli(['members', '--endpoints', '127.0.0.1:1', '--timeout', '500']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no member answered');
  }, 150_000);

  it('hubha inventory: the facts in CFEngine module protocol, with the active hub real IP', async () => {
    dumpLogsOnFailure(() => cluster);
    const record = (await readActiveHub(client))!;
    const [ip, port] = [record.address.slice(0, record.address.lastIndexOf(':')), Number(record.address.slice(record.address.lastIndexOf(':') + 1))];
    // The IP is where the active hub's PostgreSQL listens.
    await new Promise<void>((resolve, reject) => {
      const socket = tcpConnect({ host: ip, port }, () => {
        socket.destroy();
        resolve();
      });
      socket.on('error', reject);
    });
    const facts = (node: string, status: string, state = 'healthy', paused = 'false', reasons: string | null = null): string =>
      [
        '^context=hubha',
        '^meta=source=hubha',
        `=hubha_node=${node}`,
        '^meta=inventory,attribute_name=HA active hub',
        `=hubha_active_hub=${primary}`,
        '^meta=inventory,attribute_name=HA active hub IP',
        `=hubha_active_hub_ip=${ip}`,
        '^meta=inventory,attribute_name=HA status',
        `=hubha_ha_status=${status}`,
        '^meta=inventory,attribute_name=HA state',
        `=hubha_ha_state=${state}`,
        ...(reasons === null ? [] : ['^meta=inventory,attribute_name=HA degraded reasons', `@hubha_degraded_reasons= ${reasons}`]),
        '^meta=inventory,attribute_name=HA paused',
        `=hubha_paused=${paused}`,
        '',
      ].join('\n');
    expect(ip).toBe('127.0.0.1');

    const active = await cli(['inventory', '--node', primary]);
    expect(active).toMatchObject({ code: 0, stdout: facts(primary, 'active') });
    expect((await cli(['inventory', '--node', 'witness'])).stdout).toBe(facts('witness', 'witness'));
    expect((await cli(['inventory', '--node', 'ghost'])).stdout).toBe(facts('ghost', 'unknown'));
    // As the standby's agent runs it: the node and the endpoints from its configuration file.
    const fromConfig = await cli(['inventory', '--config', cluster.configFile(standby)], {});
    expect(fromConfig).toMatchObject({ code: 0, stdout: facts(standby, 'standby') });
    // Neither endpoints nor a node configuration: the client configuration file.
    const clientConfig = join(cluster.dir, 'client.yaml');
    await writeFile(clientConfig, stringify({ endpoints: [endpoint('witness')] }));
    expect(await cli(['inventory', '--node', standby], { HUBHA_CLIENT_CONFIG: clientConfig })).toMatchObject({ code: 0, stdout: facts(standby, 'standby') });

    expect((await cli(['pause', '--reason', 'inventory "test"', '--by', 'tester@ci'])).code).toBe(0);
    try {
      const paused = await cli(['inventory', '--node', standby]);
      // The reason's quotes cannot end the list element: they become '.
      expect(paused.stdout).toBe(facts(standby, 'standby', 'degraded', 'true', `{ "paused: the cluster is paused by tester@ci (inventory 'test'): no automatic failover until it is resumed" }`));
    } finally {
      expect((await cli(['resume', '--by', 'tester@ci'])).code).toBe(0);
    }

    const cutOff = await cli(['inventory', '--node', primary, '--endpoints', '127.0.0.1:1', '--timeout', '500']);
    expect(cutOff.code).toBe(2);
    expect(cutOff.stdout).toContain('=hubha_ha_status=unknown\n');
    expect(cutOff.stdout).toContain('=hubha_ha_state=unknown\n');
    expect(cutOff.stdout).toContain('@hubha_degraded_reasons= { "unreachable: no member answered" }\n');
    expect(cutOff.stderr).toContain('no member answered');
  }, 60_000);

  it('refuses what is unsafe or wrong, with its code, when asked of a follower; nothing changes', async () => {
    dumpLogsOnFailure(() => cluster);
    const at = [endpoint('witness')];
    const add = (over: Partial<{ name: string; peerAddress: string; clientAddress: string; role: string }>): Promise<unknown> =>
      members.addMember(at, { name: 'witness9', peerAddress: '127.0.0.1:7901', clientAddress: '127.0.0.1:7902', role: 'witness', ...over });
    expect(await refusal(add({ name: 'Witness_9' }))).toBe('INVALID_ARGUMENT:invalid-name');
    expect(await refusal(add({ role: 'database' }))).toBe('INVALID_ARGUMENT:invalid-role');
    expect(await refusal(add({ peerAddress: '127.0.0.1' }))).toBe('INVALID_ARGUMENT:invalid-address');
    expect(await refusal(add({ clientAddress: '0.0.0.0:7902' }))).toBe('INVALID_ARGUMENT:invalid-address');
    expect(await refusal(add({ clientAddress: '127.0.0.1:7901' }))).toBe('INVALID_ARGUMENT:invalid-address');
    expect(await refusal(add({ name: 'witness' }))).toBe('FAILED_PRECONDITION:member-exists');
    expect(await refusal(add({ peerAddress: cluster.member(primary).peer }))).toBe('FAILED_PRECONDITION:address-in-use');
    expect(await refusal(add({ clientAddress: endpoint(standby) }))).toBe('FAILED_PRECONDITION:address-in-use');

    expect(await refusal(members.promoteMember(at, 'ghost'))).toBe('FAILED_PRECONDITION:no-such-member');
    expect(await refusal(members.promoteMember(at, 'witness'))).toBe('FAILED_PRECONDITION:not-a-learner');

    expect(await refusal(members.removeMember(at, primary))).toBe('FAILED_PRECONDITION:active-hub');
    expect(await refusal(members.removeMember(at, primary, true))).toBe('FAILED_PRECONDITION:active-hub');
    expect(await refusal(members.removeMember(at, 'witness'))).toBe('FAILED_PRECONDITION:last-witness');
    expect(await refusal(members.removeMember(at, standby))).toBe('FAILED_PRECONDITION:no-spare-voter');
    expect(await refusal(members.removeMember(at, 'ghost'))).toBe('FAILED_PRECONDITION:no-such-member');
    expect(await refusal(members.removeMember(at, ''))).toBe('INVALID_ARGUMENT:missing-name');

    expect(await refusal(members.transferLeadership(at, 'ghost'))).toBe('FAILED_PRECONDITION:no-such-member');
    expect(await refusal(members.transferLeadership(at, 'two words'))).toBe('INVALID_ARGUMENT:invalid-name');

    const viaCli = await cli(['member', 'remove', 'witness', '--endpoints', endpoint(standby)]);
    expect(viaCli.code).toBe(1);
    expect(viaCli.stderr).toMatch(/^hubha: refused: last-witness: witness is the last witness: the 2 voter\(s\) left/);
    const bad = await cli(['member', 'add', 'witness9', '--peer', '127.0.0.1:99999', '--client', '127.0.0.1:7902']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('invalid-address: peer_address "127.0.0.1:99999": port 99999 is outside 1..65535');

    expect(await voters('witness')).toEqual([`${primary}:voter`, `${standby}:voter`, 'witness:voter'].sort());
  }, 60_000);

  it('removing a member while another is down would lose the quorum: refused, even with force', async () => {
    dumpLogsOnFailure(() => cluster);
    await moveRaftLeader(cluster, client, primary);
    const witness = cluster.processes.get('witness')!;
    witness.kill('SIGSTOP');
    try {
      const err = await members.removeMember([endpoint(primary)], standby, true).then(
        () => null,
        (e: unknown) => e as AdminCallError,
      );
      expect(err).toMatchObject({ status: grpc.status.FAILED_PRECONDITION, code: 'would-lose-quorum' });
      expect(err!.details).toContain(`removing ${standby} leaves 2 voter(s) — ${primary}, witness (unreachable) — of which 1 can be reached, and a quorum needs 2`);
    } finally {
      witness.kill('SIGCONT');
    }
    await waitFor('every member reachable again', async () => (await statusFrom(primary)).raft.reachableVoters === 3, 20_000, 250);
    expect(await voters(primary)).toHaveLength(3);
  }, 60_000);

  it('a witness joins as a learner, is promoted, leads, and the witnesses are removed (the last one only with --force)', async () => {
    dumpLogsOnFailure(() => cluster);
    // A hub added as a learner is shown as a hub (the role travels in the change) and, never
    // started, may be removed again at once (a learner does not count towards the quorum).
    const hub3 = await members.addMember([endpoint('witness')], { name: 'hub3', peerAddress: `127.0.0.1:${await freePort()}`, clientAddress: `127.0.0.1:${await freePort()}`, role: 'hub' });
    expect(hub3.value.members.find((m) => m.name === 'hub3')).toMatchObject({ kind: 'hub', raft: { role: 'learner' }, reachable: false });
    expect((await admin.members([endpoint(standby)])).value.members.find((m) => m.name === 'hub3')?.kind).toBe('hub');
    expect((await members.removeMember([endpoint(standby)], 'hub3')).value.members.map((m) => m.name)).not.toContain('hub3');

    const joiner = { name: 'witness2', peer: `127.0.0.1:${await freePort()}`, client: `127.0.0.1:${await freePort()}` };
    const added = await cli(['member', 'add', 'witness2', '--peer', joiner.peer, '--client', joiner.client, '--role', 'witness', '--endpoints', endpoint(standby)]);
    expect(added.code).toBe(0);
    expect(added.stdout).toContain('witness2 added as a learner (witness): start it with node.join: true');
    expect(added.stdout).toMatch(new RegExp(`^witness2 +witness +learner +unreachable +- +${joiner.peer} +${joiner.client}$`, 'm'));
    // Not running yet: it has none of the log.
    expect(await refusal(members.promoteMember([endpoint('witness')], 'witness2'))).toBe('FAILED_PRECONDITION:learner-not-caught-up');
    expect(await refusal(members.addMember([endpoint(primary)], { name: 'witness2', peerAddress: '127.0.0.1:7911', clientAddress: '127.0.0.1:7912', role: 'witness' }))).toBe('FAILED_PRECONDITION:member-exists');

    // Its configuration: the cluster's, joining with its own advertised endpoints.
    const config = parse(await readFile(cluster.configFile('witness'), 'utf8')) as { node: Record<string, unknown> };
    config.node = { name: 'witness2', dataDir: join(cluster.dir, 'witness2', 'node'), join: true, peer: joiner.peer, client: joiner.client };
    await mkdir(join(cluster.dir, 'witness2'), { recursive: true });
    const file = join(cluster.dir, 'witness2.yaml');
    await writeFile(file, stringify(config));
    joiners.track('witness2', spawn(process.execPath, [HUBHA_CLI, 'run', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] }), join(cluster.dir, 'witness2.log'));

    const promoted = await waitFor('witness2 promoted', async () => {
      const r = await cli(['member', 'promote', 'witness2', '--endpoints', endpoint('witness')]);
      if (r.code === 1 && r.stderr.includes('learner-not-caught-up')) return null;
      return r;
    }, 30_000, 200);
    expect(promoted.code).toBe(0);
    expect(promoted.stdout).toMatch(/^witness2 is a voter$/m);
    expect(await voters(primary)).toEqual([`${primary}:voter`, `${standby}:voter`, 'witness2:voter', 'witness:voter'].sort());

    // At once after its promotion (the leader has yet to count it as recently active), through a follower.
    const first = await members.transferLeadership([endpoint(standby)], 'witness2');
    expect(first.value.leader).toBe('witness2');
    expect((await client.session('t').status(joiner.client)).role).toBe('leader');
    // No target: the most up-to-date other voter.
    const away = await cli(['transfer-leader', '--endpoints', endpoint(standby)]);
    expect(away.code).toBe(0);
    const next = /^leader: (\S+) \(term (\d+)\)\n$/.exec(away.stdout);
    expect(next?.[1]).not.toBe('witness2');
    expect(Number(next?.[2])).toBeGreaterThan(0);

    // Four voters: the first witness may go (witness2 is a witness too).
    const removed = await cli(['member', 'remove', 'witness', '--endpoints', endpoint(standby)]);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain('witness removed: stop its process');
    await cluster.kill('witness', 'SIGKILL');
    expect(await voters(primary)).toEqual([`${primary}:voter`, `${standby}:voter`, 'witness2:voter'].sort());

    const moved = await cli(['transfer-leader', 'witness2', '--endpoints', endpoint(standby)]);
    expect(moved.code).toBe(0);
    expect(moved.stdout).toMatch(/^leader: witness2 \(term \d+\)\n$/);
    expect((await client.session('t').status(joiner.client)).role).toBe('leader');

    // Now witness2 is the last witness of three voters, and the leader.
    expect(await refusal(members.removeMember([endpoint(primary)], 'witness2'))).toBe('FAILED_PRECONDITION:last-witness');
    const forced = await cli(['member', 'remove', 'witness2', '--force', '--endpoints', endpoint(primary)]);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain('witness2 removed');
    await joiners.kill('witness2', 'SIGKILL');

    const after = await admin.members([endpoint(primary), endpoint(standby)]);
    expect(after.value.members.map((m) => `${m.name}:${m.raft.role}`).sort()).toEqual([`${primary}:voter`, `${standby}:voter`].sort());
    expect([primary, standby]).toContain(after.value.raft.leader);
    // The hubs carry on: the same active hub holds its lease, and the store takes writes.
    expect((await readLease(client))?.holder).toBe(primary);
    await client.session('after').put('members-test/after', 'ok');
    // witness2 led when it was removed: it handed its leadership over, and the next leader removed it.
    expect((await readJsonLog(join(cluster.dir, 'witness2.log'))).some((l) => l.msg === 'removing the leader: leadership handed over first' && l.member === 'witness2')).toBe(true);
    const hubLogs = [...(await cluster.logs(primary)), ...(await cluster.logs(standby))];
    expect(hubLogs.some((l) => l.msg === 'member removed' && l.member === 'witness2')).toBe(true);
  }, 120_000);
});
