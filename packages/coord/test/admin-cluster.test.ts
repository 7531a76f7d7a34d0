import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminEvent, CoordSession, HubReport } from '../src/index.js';
import {
  ACTIVE_HUB_KEY,
  ACTIVE_HUB_LEASE,
  AdminCallError,
  AdminClient,
  AdminUnreachableError,
  CoordClient,
  LeaseKeeper,
  PAUSED_KEY,
  SYNC_STANDBY_KEY,
  adminService,
  encodeRecord,
  historyKey,
  parseRecord,
  pausedSchema,
  reportKey,
} from '../src/index.js';
import { eventually } from '../../../test/support/eventually.js';
import { LocalCluster } from './support/local-cluster.js';

const HUBHA_CLI = resolve(import.meta.dirname, '../../cli/dist/main.js');

function report(name: string, role: 'primary' | 'standby', epoch: number | null): HubReport {
  return {
    name,
    at: new Date().toISOString(),
    seq: 1,
    role,
    epoch,
    postgres: { up: true, inRecovery: role === 'standby', timeline: 1, systemId: '7000', lsn: '0/3000000', replayLsn: role === 'standby' ? '0/3000000' : null, streaming: role === 'standby', address: `127.0.0.1:${role === 'primary' ? 5432 : 5433}` },
    standbys: role === 'primary' ? [{ name: 'hub2', state: 'streaming', syncState: 'sync', flushLsn: '0/3000000', replayLsn: '0/3000000', lagBytes: 0, replayLagMs: 1 }] : [],
    tags: { nofailover: false, priority: 100 },
    vipHeld: null,
    lastHookFailure: null,
  };
}

describe('the Admin service on a three-member store (every member answers)', () => {
  const names = ['n1', 'n2', 'n3'];
  let cluster: LocalCluster;
  let coord: CoordClient;
  let session: CoordSession;
  let admin: AdminClient;
  let keeper: LeaseKeeper | null = null;
  let reporting: NodeJS.Timeout | null = null;
  let epoch = 0;
  const endpoints = (): string[] => names.map((n) => cluster.clientEndpoint(n));

  beforeAll(async () => {
    cluster = await LocalCluster.start({ names });
    await cluster.waitForLeader();
    coord = await CoordClient.connect({ endpoints: endpoints() });
    session = coord.session('fake-hubs');
    admin = await AdminClient.create({ timeoutMs: 5_000 });
  });
  afterAll(async () => {
    if (reporting !== null) clearInterval(reporting);
    await keeper?.close();
    admin?.close();
    await coord?.close();
    await cluster?.close();
  });

  it('without hubs: failed, no active hub, every member reachable, from every member', async () => {
    for (const name of names) {
      const { value: status, endpoint } = await eventually(`${name} answers linearizably`, async () => {
        const answer = await admin.status([cluster.clientEndpoint(name)]);
        return answer.value.linearizable && answer.value.raft.reachableVoters === 3 ? answer : undefined;
      });
      expect(endpoint).toBe(cluster.clientEndpoint(name));
      expect(status.servedBy).toBe(name);
      expect(status.state).toBe('failed');
      expect(status.reasons.map((r) => r.code)).toEqual(['no-active-hub']);
      expect(status.members.map((m) => [m.name, m.kind, m.raft.role, m.reachable])).toEqual(names.map((n) => [n, 'witness', 'voter', true]));
      expect(status.raft.quorum).toBe(true);
      expect(status.members.filter((m) => m.raft.state === 'leader')).toHaveLength(1);
    }
  });

  it('with a (simulated) healthy pair of hubs reporting: healthy, on gRPC and HTTP alike', async () => {
    keeper = session.keepLease({ name: ACTIVE_HUB_LEASE, holder: 'hub1', ttlMs: 3000, renewIntervalMs: 500, metadata: {} });
    epoch = await new Promise<number>((resolve) => keeper!.on('acquired', (e) => resolve(e.epoch)));
    const publish = async (): Promise<void> => {
      await session.put(reportKey('hub1'), encodeRecord(report('hub1', 'primary', epoch)));
      await session.put(reportKey('hub2'), encodeRecord(report('hub2', 'standby', null)));
    };
    await publish();
    reporting = setInterval(() => void publish().catch(() => undefined), 1000);
    await session.put(ACTIVE_HUB_KEY, encodeRecord({ name: 'hub1', address: '127.0.0.1:5432', vip: null, epoch, since: new Date().toISOString() }), { lease: { name: ACTIVE_HUB_LEASE, epoch } });
    await session.put(SYNC_STANDBY_KEY, encodeRecord({ primary: 'hub1', standby: 'hub2', epoch, at: new Date().toISOString() }));
    await session.put(historyKey(epoch), encodeRecord({ epoch, at: new Date().toISOString(), kind: 'bootstrap', from: null, to: 'hub1', reason: 'first primary', dataLossBytes: 0 }));

    const { value: status } = await admin.status(endpoints());
    expect(status.reasons).toEqual([]);
    expect(status.state).toBe('healthy');
    expect(status.activeHub).toMatchObject({ name: 'hub1', epoch });
    expect(status.lease).toMatchObject({ holder: 'hub1', epoch });
    expect(status.synchronous).toMatchObject({ mode: 'on', standby: 'hub2' });
    const hub2 = status.members.find((m) => m.name === 'hub2')!;
    expect(hub2).toMatchObject({ kind: 'hub', raft: { role: null }, postgres: { role: 'standby', replicationState: 'streaming', lagBytes: 0 }, eligibility: { eligible: true, reasons: [] } });

    const res = await fetch(`http://${cluster.httpEndpoint('n3')}/v1/status`, { signal: AbortSignal.timeout(5000) });
    expect(res.status).toBe(200);
    const json = (await res.json()) as Record<string, unknown>;
    expect(json).toMatchObject({ servedBy: 'n3', state: 'healthy', reasons: [], activeHub: { name: 'hub1', epoch } });
    expect(Object.keys(json)).toEqual(Object.keys(status));
    const history = await fetch(`http://${cluster.httpEndpoint('n2')}/v1/history?limit=5`, { signal: AbortSignal.timeout(5000) });
    expect(((await history.json()) as { entries: unknown[] }).entries).toHaveLength(1);
    expect((await fetch(`http://${cluster.httpEndpoint('n2')}/v1/status?serializable=maybe`)).status).toBe(400);

    const { value: history2 } = await admin.history([cluster.clientEndpoint('n2')]);
    expect(history2.entries).toEqual([expect.objectContaining({ epoch, kind: 'bootstrap', to: 'hub1' })]);
    const { value: members } = await admin.members([cluster.clientEndpoint('n1')]);
    expect(members.members.map((m) => m.name)).toEqual(['hub1', 'hub2', 'n1', 'n2', 'n3']);
  });

  it('pause and resume: recorded in hubha/paused, shown as a reason, idempotent; the watchers see it', async () => {
    const events: AdminEvent[] = [];
    let ended: Error | null | undefined;
    const watch = admin.watch(cluster.clientEndpoint('n2'), { onEvent: (e) => events.push(e), onEnd: (e) => (ended = e) });
    try {
      await eventually('the watching event', () => (events.some((e) => e.type === 'watching') ? true : undefined));
      const first = await admin.pause([cluster.clientEndpoint('n3')], 'kernel upgrade', 'alice@ops');
      expect(first.value).toMatchObject({ changed: true, servedBy: 'n3', paused: { paused: true, by: 'alice@ops', reason: 'kernel upgrade' } });
      const again = await admin.pause([cluster.clientEndpoint('n1')], 'again', 'bob');
      expect(again.value).toMatchObject({ changed: false, paused: { by: 'alice@ops' } });
      const stored = (await session.get(PAUSED_KEY)).kv!;
      expect(parseRecord(pausedSchema, PAUSED_KEY, stored.value)).toMatchObject({ ok: true, value: { paused: true, by: 'alice@ops' } });

      const { value: status } = await admin.status(endpoints());
      expect(status.state).toBe('degraded');
      expect(status.reasons.map((r) => r.code)).toEqual(['paused']);
      expect(status.reasons[0]!.message).toBe('the cluster is paused by alice@ops (kernel upgrade): no automatic failover until it is resumed');
      expect(status.members.find((m) => m.name === 'hub2')!.eligibility?.reasons.map((r) => r.code)).toEqual(['paused']);

      const resumed = await admin.resume(endpoints(), 'done', 'alice@ops');
      expect(resumed.value).toMatchObject({ changed: true, paused: { paused: false } });
      expect((await admin.resume(endpoints(), '', 'x')).value.changed).toBe(false);
      expect((await admin.status(endpoints())).value.state).toBe('healthy');

      await eventually('paused and resumed events', () => {
        const types = events.map((e) => e.type);
        return types.includes('paused') && types.includes('resumed') ? true : undefined;
      });
      expect(events.find((e) => e.type === 'paused')!.message).toBe('the cluster was paused by alice@ops: kernel upgrade (no automatic failover)');
      // A role change in a report is an event too.
      await session.put(reportKey('hub2'), encodeRecord({ ...report('hub2', 'standby', null), role: 'unknown' }));
      await eventually('a hub-role event', () => (events.some((e) => e.type === 'hub-role' && e.member === 'hub2' && e.message.includes('role unknown')) ? true : undefined));
      await eventually('an ha-state event', () => (events.some((e) => e.type === 'ha-state') ? true : undefined), 5000);
      expect(ended).toBeUndefined();
    } finally {
      watch.cancel();
    }
  });

  it('refuses bad arguments, and operations the state forbids, each with its code', async () => {
    await expect(admin.pause(endpoints(), 'x'.repeat(1001), 'me')).rejects.toMatchObject({ status: grpc.status.INVALID_ARGUMENT, code: 'reason-too-long' });
    // The simulated pair is still there (hub1 holds the lease, hub2 reports as its standby).
    for (const [method, request, status, code] of [
      [adminService.Switchover, { target: 'hub2', at: 'not a time' }, grpc.status.INVALID_ARGUMENT, 'invalid-at'],
      [adminService.Switchover, { target: 'hub9' }, grpc.status.FAILED_PRECONDITION, 'unknown-member'],
      [adminService.Switchover, { target: 'hub1' }, grpc.status.FAILED_PRECONDITION, 'target-is-active'],
      [adminService.Failover, { target: '' }, grpc.status.INVALID_ARGUMENT, 'target-required'],
      [adminService.Failover, { target: 'hub2', force: true }, grpc.status.FAILED_PRECONDITION, 'active-hub-alive'],
      [adminService.Reinit, { member: 'hub1' }, grpc.status.FAILED_PRECONDITION, 'member-is-active'],
      [adminService.Reinit, { member: 'n1' }, grpc.status.FAILED_PRECONDITION, 'unknown-member'],
    ] as const) {
      const err = await admin.call(endpoints(), method as typeof adminService.Switchover, request as never).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(AdminCallError);
      expect(err).toMatchObject({ status, code });
    }
    // The membership operations are implemented: a request without addresses is refused as such.
    await expect(admin.call(endpoints(), adminService.AddMember, { name: 'hub3', role: 'hub' } as never)).rejects.toMatchObject({ status: grpc.status.INVALID_ARGUMENT, code: 'invalid-address' });
  });

  it('the CLI: pause, resume, history and watch (events until SIGINT, exit 0)', async () => {
    const env = { ...process.env, HUBHA_ENDPOINTS: endpoints().join(',') };
    const run = (args: string[]): Promise<{ code: number | null; stdout: string }> =>
      new Promise((done) => {
        const child = spawn(process.execPath, [HUBHA_CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.on('exit', (code) => done({ code, stdout }));
      });
    const watcher = spawn(process.execPath, [HUBHA_CLI, 'watch', '-o', 'json', '--endpoints', cluster.clientEndpoint('n2')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let lines = '';
    watcher.stdout.on('data', (d: Buffer) => (lines += d.toString()));
    const exited = new Promise<number | null>((done) => watcher.on('exit', (code) => done(code)));
    const events = (): { type: string; message: string; endpoint: string }[] => lines.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { type: string; message: string; endpoint: string });
    await eventually('the watch started', () => (events().some((e) => e.type === 'watching') ? true : undefined));

    const paused = await run(['pause', '--reason', 'cli test', '--by', 'cli@test']);
    expect(paused).toMatchObject({ code: 0, stdout: expect.stringMatching(/^paused by cli@test at .* \(cli test\): no automatic failover until `hubha resume`\n$/) });
    expect((await run(['pause'])).stdout).toMatch(/^already paused by cli@test since /);
    expect((await run(['resume', '--by', 'cli@test'])).stdout).toMatch(/^resumed by cli@test at /);
    expect((await run(['resume'])).stdout).toBe('not paused: nothing to resume\n');
    const history = await run(['history']);
    expect(history.stdout).toMatch(/^EPOCH +AT +KIND +FROM +TO +DATA LOSS +REASON\n\d+ +\S+ +bootstrap +- +hub1 +0 B +first primary\n$/);
    await eventually('paused and resumed on the watch', () => (['paused', 'resumed'].every((t) => events().some((e) => e.type === t)) ? true : undefined));
    expect(events()[0]).toMatchObject({ type: 'watching', endpoint: cluster.clientEndpoint('n2') });
    watcher.kill('SIGINT');
    expect(await exited).toBe(0);
  });

  it('a member down: member-unreachable with its start, the others still answer; no member: unreachable', async () => {
    await cluster.stopNode('n3');
    const stoppedAt = Date.now();
    const status = await eventually('n3 unreachable', async () => {
      const { value } = await admin.status([cluster.clientEndpoint('n3'), cluster.clientEndpoint('n1')]);
      return value.reasons.some((r) => r.code === 'member-unreachable' && r.member === 'n3') ? value : undefined;
    });
    expect(status.servedBy).toBe('n1');
    const reason = status.reasons.find((r) => r.code === 'member-unreachable')!;
    expect(reason.message).toMatch(/^n3 has not answered n1 for \d+ (ms|s): (connect ECONNREFUSED 127\.0\.0\.1:\d+|UNAVAILABLE: .+)$/);
    expect(reason.message).not.toMatch(/Resolution note|null$/);
    expect(Math.abs(Date.parse(reason.since) - stoppedAt)).toBeLessThan(3000);
    expect(status.state).toBe('degraded');
    expect(status.raft).toMatchObject({ quorum: true, voters: 3, reachableVoters: 2 });
    expect(status.members.find((m) => m.name === 'n3')).toMatchObject({ reachable: false, raft: { state: 'unknown' } });
    // Later answers keep the start.
    await new Promise((r) => setTimeout(r, 1200));
    const later = (await admin.status([cluster.clientEndpoint('n1')])).value;
    expect(later.reasons.find((r) => r.code === 'member-unreachable')!.since).toBe(reason.since);

    await expect(admin.status([cluster.clientEndpoint('n3')])).rejects.toBeInstanceOf(AdminUnreachableError);
  });
});
