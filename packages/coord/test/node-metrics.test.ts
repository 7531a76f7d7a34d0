import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { ClusterStatus, HistoryEntry, HubReport, MemberProbe, MetricsSource, RaftMemberView, StatusInput } from '../src/index.js';
import { DEFAULT_THRESHOLDS, NodeMetrics, computeClusterStatus } from '../src/index.js';
import { prometheusSamples as samples } from '../../../test/support/prometheus.js';

const logger = pino({ level: 'silent' });
const T0 = Date.parse('2026-11-26T10:00:00.000Z');
const iso = (ms: number): string => new Date(ms).toISOString();

function report(name: string, role: 'primary' | 'standby', standbys: HubReport['standbys'] = []): HubReport {
  return {
    name,
    at: iso(T0 - 1500),
    seq: 3,
    role,
    epoch: role === 'primary' ? 2 : null,
    postgres: { up: true, inRecovery: role === 'standby', timeline: 2, systemId: '7000', lsn: '0/3000000', replayLsn: '0/3000000', streaming: role === 'standby', address: `127.0.0.1:${name === 'hub1' ? 5432 : 5433}` },
    standbys,
    tags: { nofailover: false, priority: 100 },
    vipHeld: null,
    lastHookFailure: null,
  };
}

const history: HistoryEntry[] = [
  { epoch: 1, at: iso(T0 - 600_000), kind: 'bootstrap', from: null, to: 'hub2', reason: 'first primary', dataLossBytes: 0 },
  { epoch: 2, at: iso(T0 - 60_000), kind: 'failover', from: 'hub2', to: 'hub1', reason: 'hub2 lost the lease', dataLossBytes: 0 },
];

const up = (state: string): MemberProbe => ({ reachable: true, state, term: 4, leader: 'witness', commitIndex: 100, appliedIndex: 100, version: '0.1.0' });
const member = (name: string, probe: MemberProbe): RaftMemberView => ({ name, role: 'voter', kind: name.startsWith('hub') ? 'hub' : 'witness', peerAddress: null, clientAddress: null, probe });

/** hub1 active, hub2 streaming 4096 bytes behind; `hub2Down`: hub2 unreachable for 10 s. */
function status(options: { hub2Down?: boolean } = {}): ClusterStatus {
  const input: StatusInput = {
    now: T0,
    records: {
      active: { name: 'hub1', address: '127.0.0.1:5432', vip: null, epoch: 2, since: iso(T0 - 60_000) },
      lease: { holder: 'hub1', epoch: 2, ttlMs: 2500, remainingMs: null },
      sync: { primary: 'hub1', standby: 'hub2', epoch: 2, at: iso(T0 - 50_000) },
      paused: null,
      reports: [report('hub1', 'primary', [{ name: 'hub2', state: 'streaming', syncState: 'sync', flushLsn: '0/3000000', replayLsn: '0/2FFF000', lagBytes: 4096, replayLagMs: 250 }]), report('hub2', 'standby')],
      history,
      rejoins: [],
      problems: [],
    },
    raft: {
      servedBy: 'witness',
      leader: 'witness',
      term: 4,
      members: [member('hub1', up('follower')), member('hub2', options.hub2Down === true ? { reachable: false, error: 'connect ECONNREFUSED', unreachableSince: T0 - 10_000, lastSeen: T0 - 11_000 } : up('follower')), member('witness', up('leader'))],
    },
    read: { linearizable: false, revision: 50, barrierError: null },
    thresholds: DEFAULT_THRESHOLDS,
  };
  return computeClusterStatus(input);
}

class FakeSource implements MetricsSource {
  readonly version = '9.9.9';
  raft = { term: 4, leader: 'witness', commit: 120, applied: 118 };
  next: ClusterStatus | Error = status();
  calls = 0;
  constructor(readonly id: string) {}
  raftStatus() {
    return this.raft;
  }
  async cluster() {
    this.calls++;
    await new Promise((r) => setTimeout(r, 20));
    if (this.next instanceof Error) throw this.next;
    return { status: this.next, history };
  }
}

describe('NodeMetrics', () => {
  it('exposes the local Raft view and the cluster status of one evaluation', async () => {
    const source = new FakeSource('witness');
    const metrics = new NodeMetrics(source, logger);
    expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const s = samples(await metrics.render());
    expect(s.get('hubha_node_info{node="witness",version="9.9.9"}')).toBe(1);
    expect(s.get('hubha_raft_term')).toBe(4);
    expect(s.get('hubha_raft_is_leader')).toBe(1);
    expect(s.get('hubha_raft_leader_known')).toBe(1);
    expect(s.get('hubha_raft_commit_index')).toBe(120);
    expect(s.get('hubha_raft_applied_index')).toBe(118);
    expect(s.get('hubha_status_up')).toBe(1);
    expect(s.get('hubha_ha_state{state="healthy"}')).toBe(1);
    expect(s.get('hubha_ha_state{state="degraded"}')).toBe(0);
    expect(s.get('hubha_ha_state{state="failed"}')).toBe(0);
    expect([...s.keys()].filter((k) => k.startsWith('hubha_degraded_reason'))).toEqual([]);
    expect(s.get('hubha_active_hub_lease_epoch{holder="hub1"}')).toBe(2);
    expect(s.get('hubha_hub_active{hub="hub1"}')).toBe(1);
    expect(s.get('hubha_hub_active{hub="hub2"}')).toBe(0);
    expect(s.get('hubha_failovers_total{kind="failover"}')).toBe(1);
    expect(s.get('hubha_failovers_total{kind="manual-failover"}')).toBe(0);
    expect(s.get('hubha_failovers_total{kind="switchover"}')).toBe(0);
    expect(s.get('hubha_replication_lag_bytes{standby="hub2"}')).toBe(4096);
    expect(s.get('hubha_replication_lag_seconds{standby="hub2"}')).toBe(0.25);
    expect(s.has('hubha_replication_lag_bytes{standby="hub1"}')).toBe(false);
    expect(s.get('hubha_report_age_seconds{hub="hub1"}')).toBe(1.5);
    expect(s.get('hubha_paused')).toBe(0);
    expect(s.get('hubha_raft_quorum')).toBe(1);
    expect(s.get('hubha_members')).toBe(3);
    expect(s.get('hubha_members_reachable')).toBe(3);
    expect(s.get('hubha_member_reachable{member="witness",kind="witness"}')).toBe(1);
    // The process's own metrics, prefixed.
    expect(s.get('hubha_process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(s.has('hubha_nodejs_heap_size_used_bytes')).toBe(true);
    expect([...s.keys()].some((k) => /^(process|nodejs)_/.test(k))).toBe(false);
  });

  it('reasons appear as labelled series with their start, and vanish when they clear', async () => {
    const source = new FakeSource('hub1');
    source.raft = { term: 5, leader: '', commit: 130, applied: 130 };
    source.next = status({ hub2Down: true });
    const metrics = new NodeMetrics(source, logger);
    const degraded = samples(await metrics.render());
    expect(degraded.get('hubha_raft_is_leader')).toBe(0);
    expect(degraded.get('hubha_raft_leader_known')).toBe(0);
    expect(degraded.get('hubha_ha_state{state="degraded"}')).toBe(1);
    expect(degraded.get('hubha_degraded_reason{code="member-unreachable",member="hub2"}')).toBe(1);
    expect(degraded.get('hubha_degraded_reason_since_seconds{code="member-unreachable",member="hub2"}')).toBe((T0 - 10_000) / 1000);
    expect(degraded.get('hubha_member_reachable{member="hub2",kind="hub"}')).toBe(0);
    expect(degraded.get('hubha_members_reachable')).toBe(2);

    source.next = status();
    const healthy = samples(await metrics.render());
    expect(healthy.get('hubha_ha_state{state="healthy"}')).toBe(1);
    expect([...healthy.keys()].filter((k) => k.startsWith('hubha_degraded_reason'))).toEqual([]);
    expect(healthy.get('hubha_member_reachable{member="hub2",kind="hub"}')).toBe(1);
  });

  it('without a cluster status: status_up 0, the Raft view still there, no stale cluster series', async () => {
    const source = new FakeSource('witness');
    const metrics = new NodeMetrics(source, logger);
    await metrics.render();
    source.next = new Error('the member has not applied any of the log yet');
    const s = samples(await metrics.render());
    expect(s.get('hubha_status_up')).toBe(0);
    expect(s.get('hubha_raft_term')).toBe(4);
    expect([...s.keys()].filter((k) => /^hubha_(ha_state|degraded_reason|failovers_total|replication_lag|report_age|active_hub|hub_active|member|raft_quorum|paused)/.test(k))).toEqual([]);
  });

  it('members of one process answer each for itself; concurrent scrapes share one evaluation', async () => {
    const a = new FakeSource('hub1');
    const b = new FakeSource('hub2');
    const ma = new NodeMetrics(a, logger);
    const mb = new NodeMetrics(b, logger);
    const [ta, tb, tb2] = await Promise.all([ma.render(), mb.render(), mb.render()]);
    expect(samples(ta).get('hubha_node_info{node="hub1",version="9.9.9"}')).toBe(1);
    expect(samples(ta).has('hubha_node_info{node="hub2",version="9.9.9"}')).toBe(false);
    expect(samples(tb).get('hubha_node_info{node="hub2",version="9.9.9"}')).toBe(1);
    expect(tb2).toBe(tb);
    expect(b.calls).toBe(1);
    await mb.render();
    expect(b.calls).toBe(2);
  });
});
