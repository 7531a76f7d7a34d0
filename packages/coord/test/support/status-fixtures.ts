/**
 * A status input for unit tests of pure logic: a healthy-looking pair (hub1 active at epoch 5,
 * hub2 its synchronous standby) and a witness, at the fixed time T0; callers override pieces.
 */
import type { HubReport, StatusInput, StatusRecords } from '../../src/index.js';
import { DEFAULT_THRESHOLDS } from '../../src/index.js';

export const T0 = Date.parse('2026-11-26T10:00:00.000Z');
export const iso = (ms: number): string => new Date(ms).toISOString();

export function report(name: string, role: HubReport['role'], over: Partial<HubReport> = {}): HubReport {
  const up = role !== 'stopped';
  return {
    name,
    at: iso(T0 - 300),
    seq: 3,
    role,
    epoch: role === 'primary' ? 5 : null,
    postgres: { up, inRecovery: up ? role !== 'primary' : null, timeline: up ? 3 : null, systemId: up ? '7300000000000000001' : null, lsn: up ? '0/5000060' : null, replayLsn: up ? '0/5000060' : null, streaming: role === 'standby', address: `127.0.0.1:${name === 'hub1' ? 5432 : 5433}` },
    standbys: role === 'primary' ? [{ name: 'hub2', state: 'streaming', syncState: 'sync', flushLsn: '0/5000060', replayLsn: '0/5000060', lagBytes: 0, replayLagMs: 1.5 }] : [],
    tags: { nofailover: false, priority: 100 },
    vipHeld: role === 'primary' ? true : false,
    lastHookFailure: null,
    ...over,
  };
}

export function records(over: Partial<StatusRecords> = {}): StatusRecords {
  return {
    active: { name: 'hub1', address: '127.0.0.1:5432', vip: '10.0.0.100/24', epoch: 5, since: iso(T0 - 10_000) },
    lease: { holder: 'hub1', epoch: 5, ttlMs: 2000, remainingMs: 1700 },
    sync: { primary: 'hub1', standby: 'hub2', epoch: 5, at: iso(T0 - 9000) },
    paused: null,
    reports: [report('hub1', 'primary'), report('hub2', 'standby')],
    history: [{ epoch: 5, at: iso(T0 - 10_000), kind: 'failover', from: 'hub2', to: 'hub1', reason: 'hub2 lost the lease', dataLossBytes: 0 }],
    rejoins: [],
    problems: [],
    ...over,
  };
}

export function input(over: Partial<StatusInput> = {}): StatusInput {
  return {
    now: T0,
    records: records(),
    raft: {
      servedBy: 'witness',
      leader: 'witness',
      term: 9,
      members: [
        { name: 'hub1', role: 'voter', kind: 'hub', peerAddress: '127.0.0.1:7001', clientAddress: '127.0.0.1:7101', probe: { reachable: true, state: 'follower', term: 9, leader: 'witness', commitIndex: 50, appliedIndex: 50, version: '0.1.0' } },
        { name: 'hub2', role: 'voter', kind: 'hub', peerAddress: '127.0.0.1:7002', clientAddress: '127.0.0.1:7102', probe: { reachable: false, error: 'DEADLINE_EXCEEDED', unreachableSince: T0 - 4000, lastSeen: T0 - 5000 } },
        { name: 'witness', role: 'learner', kind: 'witness', peerAddress: null, clientAddress: '127.0.0.1:7103', probe: { reachable: true, state: 'leader', term: 9, leader: 'witness', commitIndex: 50, appliedIndex: 49, version: '0.1.0' } },
      ],
    },
    read: { linearizable: true, revision: 77, barrierError: null },
    thresholds: DEFAULT_THRESHOLDS,
    ...over,
  };
}
