import fc from 'fast-check';
import { hubha } from '@hubha/proto/admin';
import { describe, expect, it } from 'vitest';
import type { ClusterStatus, HubReport, RecordsRead, StatusRecords } from '../src/index.js';
import {
  DEFAULT_THRESHOLDS,
  MalformedAdminAnswerError,
  computeClusterStatus,
  diffSummaries,
  haStateEvent,
  historyFromWire,
  historyToWire,
  statusFromWire,
  statusToJson,
  statusToWire,
  summarize,
  thresholdsFromWire,
  watchingEvent,
} from '../src/index.js';
import { T0, input, iso, records, report } from './support/status-fixtures.js';

/** Through protobuf bytes and back. */
function roundTrip(status: ClusterStatus): ClusterStatus {
  const bytes = hubha.admin.ClusterStatus.encode(statusToWire(status)).finish();
  return statusFromWire(hubha.admin.ClusterStatus.decode(bytes));
}

const withoutKeys = (s: ClusterStatus): unknown => statusToJson(s);

describe('ClusterStatus on the wire', () => {
  it('survives encoding and decoding unchanged (the JSON is the same)', () => {
    const cases: ClusterStatus[] = [
      computeClusterStatus(input()),
      computeClusterStatus(input({ records: records({ active: null, lease: null, sync: null, reports: [report('hub1', 'stopped'), report('hub2', 'unknown', { lastHookFailure: 'exit 1' })], paused: { paused: true, by: 'ops', at: iso(T0 - 1000), reason: '' }, problems: ['hubha/x: bad'] }) })),
      computeClusterStatus(input({ records: records({ reports: [] }), thresholds: { ...DEFAULT_THRESHOLDS, synchronous: 'strict', lagMaxSeconds: 2.5 } })),
    ];
    for (const status of cases) expect(withoutKeys(roundTrip(status))).toEqual(withoutKeys(status));
  });

  it('property: any status computed from varied inputs round-trips', () => {
    fc.assert(
      fc.property(
        fc.record({
          hub2Role: fc.constantFrom<HubReport['role']>('standby', 'stopped', 'unknown', 'primary'),
          active: fc.boolean(),
          lagMs: fc.option(fc.double({ min: 0, max: 1e6, noNaN: true }), { nil: null }),
          vip: fc.option(fc.constant('10.0.0.100/24'), { nil: null }),
          linearizable: fc.boolean(),
          age: fc.integer({ min: 0, max: 100_000 }),
        }),
        (c) => {
          const status = computeClusterStatus(
            input({
              records: records({
                active: c.active ? { name: 'hub1', address: '127.0.0.1:5432', vip: c.vip, epoch: 5, since: iso(T0) } : null,
                reports: [report('hub1', 'primary', { standbys: [{ name: 'hub2', state: 'streaming', syncState: 'async', flushLsn: null, replayLsn: null, lagBytes: null, replayLagMs: c.lagMs }] }), report('hub2', c.hub2Role, { at: iso(T0 - c.age) })],
              }),
              read: { linearizable: c.linearizable, revision: 5, barrierError: c.linearizable ? null : 'timeout' },
            }),
          );
          expect(withoutKeys(roundTrip(status))).toEqual(withoutKeys(status));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses malformed answers', () => {
    expect(() => statusFromWire(null)).toThrow(MalformedAdminAnswerError);
    expect(() => statusFromWire({ state: 'fine' })).toThrow(/state must be healthy/);
    const wire = statusToWire(computeClusterStatus(input()));
    expect(() => statusFromWire({ ...wire, activeHub: { ...wire.activeHub, address: 'nowhere' } })).toThrow(/activeHub/);
    expect(() => statusFromWire({ ...wire, members: [{ ...wire.members![0], kind: 'robot' }] })).toThrow(/kind/);
  });

  it('history entries and thresholds', () => {
    const entry = { epoch: 2, at: iso(T0), kind: 'bootstrap' as const, from: null, to: 'hub1', reason: 'first primary', dataLossBytes: null };
    expect(historyFromWire(hubha.admin.HistoryEntry.decode(hubha.admin.HistoryEntry.encode(historyToWire(entry)).finish()))).toEqual(entry);
    expect(thresholdsFromWire(null)).toEqual(DEFAULT_THRESHOLDS);
    expect(thresholdsFromWire({ reportMaxAgeMs: 2000, synchronous: 'off' })).toEqual({ ...DEFAULT_THRESHOLDS, reportMaxAgeMs: 2000, synchronous: 'off' });
    expect(() => thresholdsFromWire({ synchronous: 'maybe' })).toThrow(/synchronous/);
  });
});

describe('events from two reads of the records', () => {
  const read = (over: Partial<StatusRecords> = {}, revision = 10, activeModRevision = 4): RecordsRead => ({ records: records(over), linearizable: true, barrierError: null, revision, activeModRevision });

  it('a failover, seen as lease, record, history, sync and roles', () => {
    const before = summarize(read());
    const after = summarize(
      read(
        {
          active: { name: 'hub2', address: '127.0.0.1:5433', vip: null, epoch: 6, since: iso(T0) },
          lease: { holder: 'hub2', epoch: 6, ttlMs: 2000, remainingMs: null },
          sync: { primary: 'hub2', standby: null, epoch: 6, at: iso(T0) },
          reports: [report('hub1', 'stopped'), report('hub2', 'primary')],
          history: [...records().history, { epoch: 6, at: iso(T0), kind: 'failover', from: 'hub1', to: 'hub2', reason: 'hub1 lost the lease', dataLossBytes: 0 }],
        },
        20,
        18,
      ),
    );
    const events = diffSummaries(before, after, iso(T0));
    expect(events.map((e) => `${e.type}:${e.member ?? ''}`)).toEqual(['lease-granted:hub2', 'active-hub:hub2', 'promotion:hub2', 'sync-standby:', 'hub-role:hub1', 'hub-role:hub2']);
    expect(events[2]!.message).toBe('failover: hub2 became the active hub at epoch 6 after hub1 (hub1 lost the lease; data loss bound 0 bytes)');
    expect(events[3]!.message).toMatch(/hub2 \(epoch 6\) has no synchronous standby/);
    expect(JSON.parse(events[1]!.recordJson!)).toMatchObject({ name: 'hub2', epoch: 6 });
    expect(events.every((e) => e.revision === 20)).toBe(true);
  });

  it('the lease freed and the record gone; pause and resume; streaming; nothing when nothing changed', () => {
    const base = summarize(read());
    expect(diffSummaries(base, summarize(read()), iso(T0))).toEqual([]);
    const gone = diffSummaries(base, summarize(read({ active: null, lease: null }, 11, 0)), iso(T0));
    expect(gone.map((e) => e.type)).toEqual(['lease-freed', 'active-hub-gone']);
    const paused = diffSummaries(base, summarize(read({ paused: { paused: true, by: 'ops', at: iso(T0), reason: 'upgrade' } })), iso(T0));
    expect(paused).toMatchObject([{ type: 'paused', message: 'the cluster was paused by ops: upgrade (no automatic failover)' }]);
    const resumed = diffSummaries(summarize(read({ paused: { paused: true, by: 'ops', at: iso(T0), reason: '' } })), summarize(read({ paused: { paused: false, by: 'ops', at: iso(T0), reason: '' } })), iso(T0));
    expect(resumed.map((e) => e.type)).toEqual(['resumed']);
    const stopped = diffSummaries(base, summarize(read({ reports: [report('hub1', 'primary'), report('hub2', 'standby', { postgres: { ...report('hub2', 'standby').postgres, streaming: false } })] })), iso(T0));
    expect(stopped.map((e) => `${e.type}:${e.member}`)).toEqual(['standby-not-streaming:hub2']);
    expect(watchingEvent('witness', base, iso(T0)).message).toBe('watching hubha/* on witness from revision 10: active hub hub1 (epoch 5)');
  });

  it('ha-state events only on a change', () => {
    const status = computeClusterStatus(input());
    expect(haStateEvent(null, status)?.message).toBe('the HA state is degraded: member-unreachable');
    expect(haStateEvent('degraded', status)).toBeNull();
    expect(haStateEvent('healthy', status)?.message).toBe('the HA state is degraded (was healthy): member-unreachable');
  });
});

describe('probe errors in a few words', () => {
  it('keeps the cause of a refused connection, drops grpc-js boilerplate', async () => {
    const { RpcFailure, probeError } = await import('../src/index.js');
    expect(probeError(new RpcFailure('x:1', 14, 'No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:7101. Resolution note: '))).toBe('connect ECONNREFUSED 127.0.0.1:7101');
    expect(probeError(new RpcFailure('x:1', 14, 'No connection established. Last error: null. Resolution note: '))).toBe('UNAVAILABLE: No connection established.');
    expect(probeError(new RpcFailure('x:1', 4, 'Deadline exceeded after 0.701s'))).toBe('DEADLINE_EXCEEDED: Deadline exceeded after 0.701s');
  });
});
