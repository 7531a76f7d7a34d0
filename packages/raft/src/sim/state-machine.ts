import type { Entry } from '../core/types.js';
import { EntryType } from '../core/types.js';
import { FNV_OFFSET, fnvBytes, fnvNumber } from './hash.js';

/**
 * The simulated application: it applies Normal entries that carry data (leader no-ops and
 * membership changes are skipped) and keeps only (appliedCount, rolling hash of the payloads), so
 * a snapshot is 12 bytes no matter how long the history.
 */

export interface SmState {
  /** Raft index up to which the state is applied. */
  readonly index: number;
  /** How many application payloads have been applied. */
  readonly count: number;
  /** Rolling FNV-1a over the applied payloads (each prefixed by its length). */
  readonly hash: number;
}

export const INITIAL_SM_STATE: SmState = { index: 0, count: 0, hash: FNV_OFFSET };

/** Whether the state machine does anything with this entry. */
export function isAppPayload(entry: Entry): boolean {
  return entry.type === EntryType.Normal && entry.data.length > 0;
}

/** The state after applying one payload. */
export function foldPayload(state: Pick<SmState, 'count' | 'hash'>, data: Uint8Array): { count: number; hash: number } {
  return { count: state.count + 1, hash: fnvBytes(fnvNumber(state.hash, data.length), data) };
}

export function encodeSmState(state: SmState): Uint8Array {
  const out = new Uint8Array(12);
  const view = new DataView(out.buffer);
  view.setUint32(0, state.index);
  view.setUint32(4, state.count);
  view.setUint32(8, state.hash);
  return out;
}

/** Decodes snapshot data; empty data is the initial (bootstrap) state. Null when malformed. */
export function decodeSmState(data: Uint8Array): SmState | null {
  if (data.length === 0) return INITIAL_SM_STATE;
  if (data.length !== 12) return null;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return { index: view.getUint32(0), count: view.getUint32(4), hash: view.getUint32(8) };
}

export class SimStateMachine {
  private state: SmState = INITIAL_SM_STATE;

  get current(): SmState {
    return this.state;
  }

  get appliedIndex(): number {
    return this.state.index;
  }

  restore(state: SmState): void {
    this.state = state;
  }

  /** Applies one committed entry (the caller checks ordering). */
  apply(entry: Entry): void {
    if (isAppPayload(entry)) {
      const next = foldPayload(this.state, entry.data);
      this.state = { index: entry.index, count: next.count, hash: next.hash };
    } else {
      this.state = { index: entry.index, count: this.state.count, hash: this.state.hash };
    }
  }
}
