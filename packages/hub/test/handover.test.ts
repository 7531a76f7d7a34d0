import { describe, expect, it } from 'vitest';
import type { HandoverReady, HandoverRequest, LeaseInfo } from '@hubha/coord';
import { handoverPart, replayedPast } from '../src/agent/handover.js';
import type { StoreView } from '../src/agent/store-view.js';
import type { PgSnapshot } from '../src/postgres/observe.js';

const NOW = Date.parse('2026-11-26T12:00:00Z');

function request(over: Partial<HandoverRequest> = {}): HandoverRequest {
  return {
    id: 'r1',
    kind: 'switchover',
    from: 'hub1',
    fromEpoch: 4,
    to: 'hub2',
    at: new Date(NOW).toISOString(),
    requestedAt: new Date(NOW).toISOString(),
    by: 'test',
    reason: '',
    force: false,
    leaseEpoch: 1,
    dataLossBytes: 0,
    ...over,
  };
}

function lease(holder: string, epoch: number): LeaseInfo {
  return { name: 'active-hub', holder, epoch, ttlMs: 2500, metadata: {}, grantRevision: 1, renewCount: 0 } as LeaseInfo;
}

function view(over: Partial<StoreView> = {}): StoreView {
  return { lease: null, active: null, sync: null, paused: null, reports: new Map(), lastPromotion: null, handover: null, handoverReady: null, reinit: new Map(), problems: [], ...over };
}

const ready: HandoverReady = { id: 'r1', from: 'hub1', fromEpoch: 4, to: 'hub2', shutdownCheckpointLsn: '0/3000028', timeline: 1, refused: null, at: new Date(NOW).toISOString() };

describe('handoverPart', () => {
  it('the active hub hands over when the time has come, once', () => {
    const v = view({ lease: lease('hub1', 4), handover: request() });
    expect(handoverPart(v, 'hub1', NOW, 4).kind).toBe('hand-over');
    expect(handoverPart({ ...v, handoverReady: ready }, 'hub1', NOW, 4).kind).toBe('none');
    // Not yet (scheduled), not for another epoch, not for another hub.
    expect(handoverPart(view({ lease: lease('hub1', 4), handover: request({ at: new Date(NOW + 60_000).toISOString() }) }), 'hub1', NOW, 4).kind).toBe('none');
    expect(handoverPart(v, 'hub1', NOW, 5).kind).toBe('none');
    expect(handoverPart(view({ lease: lease('hub3', 4), handover: request({ from: 'hub3' }) }), 'hub1', NOW, 4).kind).toBe('none');
  });

  it('reserves the free lease for the target, and only while the request is for the current epoch', () => {
    const v = view({ handover: request(), handoverReady: ready, lastPromotion: { epoch: 4, at: new Date(NOW).toISOString(), kind: 'failover', from: null, to: 'hub1', reason: '', dataLossBytes: 0 } });
    expect(handoverPart(v, 'hub2', NOW, null)).toMatchObject({ kind: 'take-over', ready });
    expect(handoverPart(v, 'hub3', NOW, null).kind).toBe('reserved');
    expect(handoverPart(v, 'hub1', NOW, null).kind).toBe('reserved');
    // A later promotion made the request void.
    const later = { ...v, lastPromotion: { ...v.lastPromotion!, epoch: 5, to: 'hub2' } };
    expect(handoverPart(later, 'hub3', NOW, null).kind).toBe('none');
    // The lease moved to another epoch meanwhile.
    expect(handoverPart({ ...v, lease: lease('hub3', 6) }, 'hub2', NOW, null).kind).toBe('none');
  });

  it('a scheduled switchover reserves nothing before its time', () => {
    const v = view({ handover: request({ at: new Date(NOW + 60_000).toISOString() }) });
    expect(handoverPart(v, 'hub3', NOW, null).kind).toBe('none');
    expect(handoverPart(v, 'hub2', NOW, null).kind).toBe('none');
  });

  it('a manual failover is only for a free lease', () => {
    const failover = request({ kind: 'failover', from: 'hub1', fromEpoch: 4 });
    expect(handoverPart(view({ handover: failover }), 'hub2', NOW, null).kind).toBe('take-over');
    expect(handoverPart(view({ handover: failover }), 'hub3', NOW, null).kind).toBe('reserved');
    expect(handoverPart(view({ handover: failover, lease: lease('hub1', 4) }), 'hub2', NOW, null).kind).toBe('none');
    expect(handoverPart(view({ handover: failover, lease: lease('hub1', 4) }), 'hub1', NOW, 4).kind).toBe('none');
  });
});

describe('replayedPast', () => {
  const standby = (replay: bigint | null, receivedTimeline: number | null): PgSnapshot =>
    ({
      up: true,
      inRecovery: true,
      replayLsn: replay,
      receiveLsn: replay,
      walReceiver: receivedTimeline === null ? null : { status: 'streaming', senderHost: null, senderPort: null, receivedTimeline, flushedLsn: replay, slotName: null },
    }) as unknown as PgSnapshot;

  it('needs the replay strictly past the start of the shutdown checkpoint record', () => {
    expect(replayedPast(standby(0x3000028n, null), ready)).toBe(false);
    expect(replayedPast(standby(0x30000a0n, null), ready)).toBe(true);
    expect(replayedPast(standby(null, null), ready)).toBe(false);
  });

  it('refuses another timeline, a refusal, or a server that is not a standby', () => {
    expect(replayedPast(standby(0x30000a0n, 2), ready)).toBe(false);
    expect(replayedPast(standby(0x30000a0n, 1), ready)).toBe(true);
    expect(replayedPast(standby(0x30000a0n, null), { ...ready, shutdownCheckpointLsn: null, refused: 'no' })).toBe(false);
    expect(replayedPast({ up: false } as unknown as PgSnapshot, ready)).toBe(false);
  });
});
