import type { HandoverReady, HandoverRequest } from '@hubha/coord';
import type { PgSnapshot } from '../postgres/observe.js';
import { parseLsn } from '../postgres/lsn.js';
import type { StoreView } from './store-view.js';

/**
 * A hub's part in a live switchover or manual failover request (hubha/handover/request), decided
 * from one store view. The request is live only while its lease window lasts (the store deletes
 * it then), so a reservation can never outlive a crashed admin, old primary or target.
 */
export type HandoverPart =
  /** No request concerns this hub, or none is live. */
  | { readonly kind: 'none' }
  /** This hub is the active hub asked to hand over now (a switchover whose time has come). */
  | { readonly kind: 'hand-over'; readonly request: HandoverRequest }
  /** This hub is the target: it alone may take the free lease (ready: the old primary's answer). */
  | { readonly kind: 'take-over'; readonly request: HandoverRequest; readonly ready: HandoverReady | null }
  /** Another hub is the target: do not take the lease while the request is live. */
  | { readonly kind: 'reserved'; readonly request: HandoverRequest };

export function handoverPart(view: StoreView, me: string, nowWallMs: number, myEpoch: number | null): HandoverPart {
  const request = view.handover;
  if (request === null) return { kind: 'none' };
  const current = view.lease?.epoch ?? view.lastPromotion?.epoch ?? 0;
  if (request.kind === 'switchover') {
    if (myEpoch !== null) {
      // The active hub: its part is to hand over, once, when the time has come.
      const mine = request.from === me && request.fromEpoch === myEpoch && view.handoverReady === null;
      return mine && Date.parse(request.at) <= nowWallMs ? { kind: 'hand-over', request } : { kind: 'none' };
    }
    // A request for an older epoch is void (the lease moved on since it was asked).
    if (view.lease !== null && view.lease.epoch !== request.fromEpoch) return { kind: 'none' };
    // A scheduled switchover reserves nothing before its time: were the active hub lost before
    // then, the automatic rules must not wait for a handover that will never come.
    if (Date.parse(request.at) > nowWallMs) return { kind: 'none' };
  } else if (myEpoch !== null || (view.lease !== null && view.lease.holder !== me)) {
    // A manual failover is only for a free lease; an active hub goes on as it is.
    return { kind: 'none' };
  }
  if (current > request.fromEpoch && view.lease?.epoch !== request.fromEpoch) return { kind: 'none' };
  return request.to === me ? { kind: 'take-over', request, ready: view.handoverReady } : { kind: 'reserved', request };
}

/**
 * The target has replayed the old primary's whole history: past the start of its shutdown
 * checkpoint record (the last record it wrote) on the same timeline. Checked, not assumed.
 */
export function replayedPast(snapshot: PgSnapshot, ready: HandoverReady): boolean {
  if (!snapshot.up || !snapshot.inRecovery || ready.shutdownCheckpointLsn === null || ready.timeline === null) return false;
  if (snapshot.replayLsn === null) return false;
  // The old primary checked, before stopping, that we streamed from it (so we are on its
  // timeline); a WAL receiver still running shows the timeline directly. (A standby's `timeline`
  // without a receiver comes from its last restartpoint, which may lag: not compared.)
  if (snapshot.walReceiver !== null && snapshot.walReceiver.receivedTimeline !== ready.timeline) return false;
  return snapshot.replayLsn > parseLsn(ready.shutdownCheckpointLsn);
}
