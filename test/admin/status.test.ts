/**
 * The operator surface on a real local cluster (two hubs with PostgreSQL 15 and a witness, as
 * `hubha run` processes): GetStatus from every member (the witness too), GET /v1/status, the
 * `hubha status` command and its --check exit codes, pause / resume, the events.
 *
 * 1. After bootstrap: healthy, no reason at all, the standby eligible.
 * 2. The standby killed (sidecar and postmaster, SIGKILL): degraded with member-unreachable,
 *    standby-not-streaming, no-sync-standby and, once its last report is older than the limit,
 *    report-stale; the standby listed as not eligible, with its reasons. It comes back: healthy.
 * 3. Paused, then the active hub killed: no promotion while paused (failed: no-active-hub, paused;
 *    the standby not eligible because paused), then resume: the standby takes over.
 */
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '@hubha/coord';
import type { AdminEvent, ClusterStatus, CoordClient } from '@hubha/coord';
import { HUBHA_CLI, LocalHubCluster } from '../../deploy/local/local-cluster.js';
import { ELECTION_SAFE, connectClient, readActiveHub, readLease, readSyncStandby, sleep, waitFor, waitHealthy, waitStreaming } from '../hub/support.js';

const REPORT_MAX_AGE_MS = 5000; // the members' default threshold

let cluster: LocalHubCluster;
let client: CoordClient;
let admin: AdminClient;
const watchEvents: AdminEvent[] = [];
let watch: { cancel(): void } | null = null;

beforeAll(async () => {
  cluster = await LocalHubCluster.create({ dir: await mkdtemp(join(tmpdir(), 'hubha-admin-')), synchronous: 'on', ...ELECTION_SAFE });
  cluster.startAll();
  client = await connectClient(cluster);
  admin = await AdminClient.create({ timeoutMs: 5000 });
}, 120_000);

afterAll(async () => {
  watch?.cancel();
  admin?.close();
  await client?.close();
  await cluster?.destroy({ keep: process.env.HUBHA_KEEP === '1' });
});

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [HUBHA_CLI, ...args], { timeout: 30_000, env: { ...process.env, HUBHA_ENDPOINTS: cluster.endpoints().join(',') } }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

async function statusFrom(member: string): Promise<ClusterStatus> {
  return (await admin.status([cluster.member(member).client])).value;
}

const codes = (s: ClusterStatus): string[] => s.reasons.map((r) => (r.member === null ? r.code : `${r.code}:${r.member}`));

let primary: string;
let standby: string;

describe('the operator surface on a real cluster', () => {
  it('after bootstrap: healthy with no reason, from every member (the witness too), over gRPC, HTTP and the CLI', async () => {
    const healthy = await waitHealthy(cluster, client, { synchronous: true });
    primary = healthy.active.name;
    standby = healthy.standby;
    // Healthy, and the standby's own report caught up with its PostgreSQL (reports come every second).
    const status = await waitFor('a healthy status', async () => {
      const s = await statusFrom('witness');
      // The primary's report (every second) may still show the standby async just after the
      // store recorded it as synchronous: wait for the report to catch up too.
      const sb = s.members.find((m) => m.name === standby)?.postgres;
      return s.state === 'healthy' && sb?.role === 'standby' && sb.syncState === 'sync' ? s : null;
    }, 20_000, 200);
    expect(status.reasons).toEqual([]);
    expect(status.linearizable).toBe(true);
    expect(status.activeHub).toMatchObject({ name: primary, epoch: healthy.active.epoch });
    expect(status.synchronous).toMatchObject({ mode: 'on', standby });
    expect(status.raft).toMatchObject({ quorum: true, voters: 3, reachableVoters: 3 });
    const byName = new Map(status.members.map((m) => [m.name, m]));
    expect(byName.get(primary)).toMatchObject({ kind: 'hub', active: true, reachable: true, postgres: { role: 'primary', up: true }, report: { stale: false }, eligibility: null });
    expect(byName.get(standby)).toMatchObject({ kind: 'hub', active: false, postgres: { role: 'standby', replicationState: 'streaming', syncState: 'sync' }, eligibility: { eligible: true, reasons: [] } });
    expect(byName.get(standby)!.postgres!.timeline).toBe(byName.get(primary)!.postgres!.timeline);
    expect(byName.get('witness')).toMatchObject({ kind: 'witness', postgres: null, reachable: true });

    for (const member of [primary, standby]) expect((await statusFrom(member)).state).toBe('healthy');
    const res = await fetch(`http://${cluster.member('witness').http}/v1/status`, { signal: AbortSignal.timeout(5000) });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ servedBy: 'witness', state: 'healthy', reasons: [], activeHub: { name: primary } });

    const table = await cli(['status']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`\\| ${primary} +\\| hub +\\| 127\\.0\\.0\\.1:\\d+ +\\| Primary \\(active\\) +\\| running`));
    expect(table.stdout).toMatch(new RegExp(`\\| ${standby} +\\| hub +\\| 127\\.0\\.0\\.1:\\d+ +\\| Sync standby +\\| streaming`));
    expect(table.stdout).toContain('HA state: HEALTHY');
    expect(table.stdout).toContain(`${standby}: eligible`);
    expect((await cli(['status', '--check'])).code).toBe(0);
    const json = await cli(['status', '-o', 'json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ state: 'healthy', activeHub: { name: primary } });
    const history = await cli(['history']);
    expect(history.stdout).toMatch(new RegExp(`bootstrap +- +${primary}`));

    // Events from the witness from now on.
    watch = admin.watch(cluster.member('witness').client, { onEvent: (e) => watchEvents.push(e), onEnd: () => undefined });
    await waitFor('the watch started', async () => watchEvents.some((e) => e.type === 'watching'), 10_000);
  }, 150_000);

  it('the standby killed: degraded with every reason, the standby not eligible with its reasons; back: healthy', async () => {
    await cluster.kill(standby, 'SIGKILL');
    await cluster.killPostgres(standby);
    const killedAt = Date.now();

    const degraded = await waitFor('every reason of a dead standby', async () => {
      const s = await statusFrom('witness');
      const c = codes(s);
      return [`member-unreachable:${standby}`, `standby-not-streaming:${standby}`, 'no-sync-standby', `report-stale:${standby}`].every((x) => c.includes(x)) ? s : null;
    }, 30_000, 250);
    const seenAt = Date.now();
    expect(degraded.state).toBe('degraded');
    expect(degraded.activeHub?.name).toBe(primary);
    const reason = (code: string): NonNullable<ClusterStatus['reasons'][number]> => degraded.reasons.find((r) => r.code === code)!;
    // Nothing is reported stale before the limit, and the rest starts about when the standby died.
    expect(seenAt - killedAt).toBeGreaterThanOrEqual(REPORT_MAX_AGE_MS - 1500);
    expect(Math.abs(Date.parse(reason('member-unreachable').since) - killedAt)).toBeLessThan(2500);
    expect(reason('member-unreachable').message).toMatch(new RegExp(`^${standby} has not answered witness for \\d+ s`));
    expect(reason('standby-not-streaming').message).toContain(`${standby} is not streaming from ${primary}`);
    expect(reason('report-stale').message).toMatch(new RegExp(`^${standby} has not reported for \\d+ s`));
    expect(reason('no-sync-standby').message).toContain('no standby may take over automatically');
    // The unreachable hub is not what fails the cluster: the active hub and a quorum remain.
    expect(codes(degraded).filter((c) => c.startsWith('no-quorum') || c.startsWith('no-active-hub'))).toEqual([]);

    const candidate = degraded.members.find((m) => m.name === standby)!;
    expect(candidate.reachable).toBe(false);
    expect(candidate.eligibility?.eligible).toBe(false);
    expect(candidate.eligibility?.reasons.map((r) => r.code)).toEqual(['report-stale', 'not-sync-standby']);

    const check = await cli(['status', '--check']);
    expect(check.code).toBe(1);
    expect(check.stdout).toContain('HA state: DEGRADED');
    expect(check.stdout).toContain(`${standby}: NOT eligible`);
    expect(check.stdout).toMatch(/- member-unreachable \[\w+\] for \d+ s \(since .*\): \w+ has not answered/);
    expect(check.stdout).toMatch(new RegExp(`\\| ${standby} +\\| hub +\\| [^|]+\\| Standby +\\| not streaming +\\|`));
    await waitFor('the watch saw the standby go', async () => watchEvents.some((e) => e.type === 'sync-standby' && e.message.includes('no synchronous standby')), 10_000);

    cluster.start(standby);
    await waitStreaming(cluster, primary, standby, { sync: true, timeoutMs: 60_000 });
    await waitFor('the standby recorded as synchronous again', async () => (await readSyncStandby(client))?.standby === standby, 15_000);
    const back = await waitFor('healthy again', async () => {
      const s = await statusFrom('witness');
      return s.state === 'healthy' ? s : null;
    }, 20_000, 250);
    expect(back.reasons).toEqual([]);
    expect((await cli(['status', '--check'])).code).toBe(0);
  }, 150_000);

  it('paused: shown everywhere, and the active hub dies without a failover until resumed', async () => {
    const before = await readActiveHub(client);
    const paused = await cli(['pause', '--reason', 'maintenance test', '--by', 'tester@ci']);
    expect(paused.code).toBe(0);
    expect(paused.stdout).toMatch(/^paused by tester@ci at .* \(maintenance test\)/);
    expect((await cli(['pause'])).stdout).toMatch(/^already paused by tester@ci/);
    for (const member of ['witness', primary, standby]) {
      const s = await statusFrom(member);
      expect(codes(s)).toEqual(['paused']);
      expect(s.members.find((m) => m.name === standby)!.eligibility?.reasons.map((r) => r.code)).toEqual(['paused']);
    }
    expect((await cli(['status', '--check'])).code).toBe(1);

    await cluster.kill(primary, 'SIGKILL');
    await cluster.killPostgres(primary);
    const killedAt = performance.now();
    await waitFor("the dead hub's lease expired", async () => (await readLease(client)) === null, 20_000, 100);
    // Well past the TTL and through many agent loops: no promotion while paused.
    await sleep(5000);
    expect(await readLease(client)).toBeNull();
    expect(await readActiveHub(client)).toBeNull();
    const failed = await statusFrom('witness');
    expect(failed.state).toBe('failed');
    expect(codes(failed)).toEqual(expect.arrayContaining(['no-active-hub', 'paused', `member-unreachable:${primary}`]));
    expect(failed.reasons.find((r) => r.code === 'no-active-hub')!.message).toMatch(/no hub holds the active-hub lease.*paused, so no hub takes over automatically/);
    expect(failed.members.find((m) => m.name === standby)!.eligibility?.reasons.map((r) => r.code)).toContain('paused');
    const check = await cli(['status', '--check']);
    expect(check.code).toBe(2);
    expect(check.stdout).toContain('HA state: FAILED');
    const pausedFor = performance.now() - killedAt;

    const resumed = await cli(['resume', '--by', 'tester@ci']);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/^resumed by tester@ci/);
    const next = await waitFor('the standby active after resume', async () => {
      const record = await readActiveHub(client);
      return record?.name === standby ? record : null;
    }, 30_000, 100);
    expect(next.epoch).toBeGreaterThan(before!.epoch);
    const afterFailover = await waitFor('the new active hub in the status', async () => {
      const s = await statusFrom('witness');
      return s.activeHub?.name === standby && s.lastPromotion?.epoch === next.epoch ? s : null;
    }, 15_000, 200);
    expect(afterFailover.lastPromotion).toMatchObject({ kind: 'failover', from: primary, to: standby });
    expect(codes(afterFailover)).not.toContain('paused');
    const history = await cli(['history', '-o', 'json']);
    expect((JSON.parse(history.stdout) as { entries: { kind: string; to: string }[] }).entries.map((e) => `${e.kind}:${e.to}`)).toEqual([`bootstrap:${primary}`, `failover:${standby}`]);
    await waitFor('the watch saw pause, resume and the promotion', async () => {
      const types = watchEvents.map((e) => e.type);
      return ['paused', 'lease-freed', 'resumed', 'lease-granted', 'promotion', 'active-hub'].every((t) => types.includes(t));
    }, 10_000);
    const order = ['paused', 'resumed', 'promotion'].map((t) => watchEvents.findIndex((e) => e.type === t));
    expect(order).toEqual([...order].sort((a, b) => a - b));

    // The old primary comes back as a standby of the new one.
    cluster.start(primary);
    await waitStreaming(cluster, standby, primary, { timeoutMs: 60_000 });
    console.log(`[admin] no promotion for ${Math.round(pausedFor)} ms while paused with the active hub dead; after resume ${standby} active at epoch ${next.epoch}; ${watchEvents.length} events`);
  }, 180_000);

  it('hubha status --check exits 2 when no member answers; usage errors exit 2', async () => {
    const none = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, [HUBHA_CLI, 'status', '--check', '--timeout', '500', '--endpoints', '127.0.0.1:1'], (err, _stdout, stderr) => resolve({ code: (err as { code?: number } | null)?.code ?? 0, stderr }));
    });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no member answered');
    expect((await cli(['status', '-o', 'yaml'])).code).toBe(2);
  });
});
