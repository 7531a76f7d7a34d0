/**
 * GET /metrics on a real local cluster (two hubs with PostgreSQL 15 and a witness, as `hubha run`
 * processes), scraped from every member:
 *
 * 1. Healthy: one Raft leader among the three, the same term everywhere, the active hub and its
 *    lease epoch, the standby's lag and both hubs' report ages, no failover, no reason.
 * 2. The active hub killed (sidecar and postmaster, SIGKILL): the witness's metrics show the other
 *    hub active at epoch + 1, one failover, the dead hub unreachable as a degraded reason.
 * 3. The new active hub killed too: the witness alone, without quorum, still answers at once, with
 *    the no-quorum reason and the failed state.
 */
import { describe, expect, it } from 'vitest';
import { dumpLogsOnFailure, waitFor, waitHealthy } from '../hub/support.js';
import { useHubCluster } from '../support/hub-cluster-fixture.js';
import { scrapeMetrics } from '../support/prometheus.js';

const fixture = useHubCluster('metrics');

const scrape = (member: string): Promise<Map<string, number>> => scrapeMetrics(fixture.cluster.member(member).http);
const series = (samples: Map<string, number>, prefix: string): string[] => [...samples.keys()].filter((k) => k.startsWith(prefix)).sort();

describe('GET /metrics on a real cluster', () => {
  it('healthy, then a failover, then no quorum: the metrics follow, from the status model', { timeout: 150_000 }, async () => {
    const { cluster, client } = fixture;
    dumpLogsOnFailure(() => cluster);
    const { active, standby } = await waitHealthy(cluster, client, { synchronous: true });
    const names = cluster.members.map((m) => m.name);

    // 1. Healthy, once the standby's lag and both reports are in (reports come every second).
    const healthy = await waitFor('healthy metrics on the witness', async () => {
      const s = await scrape('witness');
      return s.get('hubha_ha_state{state="healthy"}') === 1 && s.has(`hubha_replication_lag_bytes{standby="${standby}"}`) && s.has(`hubha_report_age_seconds{hub="${standby}"}`) ? s : null;
    }, 20_000, 250);
    expect(healthy.get('hubha_status_up')).toBe(1);
    expect(healthy.get('hubha_ha_state{state="degraded"}')).toBe(0);
    expect(series(healthy, 'hubha_degraded_reason')).toEqual([]);
    expect(healthy.get(`hubha_active_hub_lease_epoch{holder="${active.name}"}`)).toBe(active.epoch);
    expect(healthy.get(`hubha_hub_active{hub="${active.name}"}`)).toBe(1);
    expect(healthy.get(`hubha_hub_active{hub="${standby}"}`)).toBe(0);
    expect(healthy.get('hubha_failovers_total{kind="failover"}')).toBe(0);
    expect(healthy.get('hubha_failovers_total{kind="switchover"}')).toBe(0);
    expect(healthy.get(`hubha_replication_lag_bytes{standby="${standby}"}`)).toBeGreaterThanOrEqual(0);
    expect(healthy.get(`hubha_replication_lag_bytes{standby="${standby}"}`)).toBeLessThan(16 * 1024 * 1024);
    for (const hub of [active.name, standby]) expect(healthy.get(`hubha_report_age_seconds{hub="${hub}"}`)).toBeLessThan(5);
    expect(healthy.get('hubha_members')).toBe(3);
    expect(healthy.get('hubha_members_reachable')).toBe(3);
    expect(healthy.get('hubha_raft_quorum')).toBe(1);
    expect(healthy.get('hubha_paused')).toBe(0);
    expect(healthy.get('hubha_process_resident_memory_bytes')).toBeGreaterThan(0);

    // Each member answers for itself: one leader, one term, everything committed applied or close.
    const all = await Promise.all(names.map((n) => scrape(n)));
    names.forEach((n, i) => expect(all[i]!.get(`hubha_node_info{node="${n}",version="0.1.0"}`)).toBe(1));
    expect(all.map((s) => s.get('hubha_raft_is_leader')).reduce((a, b) => a! + b!, 0)).toBe(1);
    expect(all.every((s) => s.get('hubha_raft_leader_known') === 1)).toBe(true);
    expect(new Set(all.map((s) => s.get('hubha_raft_term'))).size).toBe(1);
    for (const s of all) {
      expect(s.get('hubha_raft_commit_index')).toBeGreaterThan(0);
      expect(s.get('hubha_raft_applied_index')).toBeGreaterThan(0);
    }

    // 2. Failover.
    const killedAt = Date.now();
    await cluster.kill(active.name, 'SIGKILL');
    await cluster.killPostgres(active.name);
    const after = await waitFor('the failover in the metrics', async () => {
      const s = await scrape('witness');
      return s.get(`hubha_hub_active{hub="${standby}"}`) === 1 && s.get('hubha_failovers_total{kind="failover"}') === 1 && s.get(`hubha_degraded_reason{code="member-unreachable",member="${active.name}"}`) === 1 ? s : null;
    }, 30_000, 250);
    expect(after.get(`hubha_active_hub_lease_epoch{holder="${standby}"}`)).toBe(active.epoch + 1);
    expect(series(after, 'hubha_active_hub_lease_epoch')).toEqual([`hubha_active_hub_lease_epoch{holder="${standby}"}`]);
    expect(after.get(`hubha_hub_active{hub="${active.name}"}`)).toBe(0);
    expect(after.get('hubha_ha_state{state="degraded"}')).toBe(1);
    expect(after.get(`hubha_member_reachable{member="${active.name}",kind="hub"}`)).toBe(0);
    expect(after.get('hubha_members_reachable')).toBe(2);
    const since = after.get(`hubha_degraded_reason_since_seconds{code="member-unreachable",member="${active.name}"}`)!;
    expect(Math.abs(since * 1000 - killedAt)).toBeLessThan(3000);

    // 3. The witness alone: no quorum, and it still answers, at once.
    await cluster.kill(standby, 'SIGKILL');
    await cluster.killPostgres(standby);
    const alone = await waitFor('no quorum in the metrics', async () => {
      const s = await scrape('witness');
      return s.get('hubha_degraded_reason{code="no-quorum",member=""}') === 1 ? s : null;
    }, 20_000, 250);
    expect(alone.get('hubha_status_up')).toBe(1);
    expect(alone.get('hubha_raft_quorum')).toBe(0);
    expect(alone.get('hubha_ha_state{state="failed"}')).toBe(1);
    expect(alone.get('hubha_members_reachable')).toBe(1);
    const started = performance.now();
    await scrape('witness');
    // The serializable read needs no barrier; only the probes of the dead members take time (700 ms).
    expect(performance.now() - started).toBeLessThan(2500);
  });
});
