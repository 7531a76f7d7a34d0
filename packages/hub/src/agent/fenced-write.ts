import type { CoordSession } from '@hubha/coord';
import { ACTIVE_HUB_LEASE } from '@hubha/coord';

/** A key attached to the active-hub lease; a Txn that puts it succeeds only while the lease is held at the epoch. */
export const FENCE_KEY = 'hubha/fence';

/**
 * Writes `key` only if the active-hub lease is still held at `epoch`, atomically: the Txn also
 * puts a marker attached to the lease at that epoch, which the store refuses once the lease has
 * expired or moved on. The written key itself is not attached, so it outlives the lease (the
 * next holder must be able to read who was synchronous). Returns false when fenced off.
 */
export function fencedPut(
  session: CoordSession,
  epoch: number,
  key: string,
  value: Uint8Array,
  /** Attach the written key to this lease too (it then ends with that lease). */
  attachTo?: { readonly name: string; readonly epoch: number },
): Promise<boolean> {
  return fencedPuts(session, epoch, [{ key, value, ...(attachTo === undefined ? {} : { attachTo }) }]);
}

/** Several keys in one fenced Txn (one Raft round instead of one per key): all or none. */
export async function fencedPuts(
  session: CoordSession,
  epoch: number,
  puts: readonly { readonly key: string; readonly value: Uint8Array; readonly attachTo?: { readonly name: string; readonly epoch: number } }[],
): Promise<boolean> {
  try {
    const res = await session.txn({
      compare: [],
      success: [
        { type: 'put', key: FENCE_KEY, value: Buffer.from(String(epoch)), lease: { name: ACTIVE_HUB_LEASE, epoch } },
        ...puts.map(({ key, value, attachTo }) => (attachTo === undefined ? { type: 'put' as const, key, value } : { type: 'put' as const, key, value, lease: { name: attachTo.name, epoch: attachTo.epoch } })),
      ],
      failure: [],
    });
    return res.succeeded;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'lease-epoch-mismatch' || code === 'lease-not-held') return false;
    throw err;
  }
}
