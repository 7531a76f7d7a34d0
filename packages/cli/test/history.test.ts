import { describe, expect, it } from 'vitest';
import type { HistoryEntry, Rejoin } from '@hubha/coord';
import { rejoinFromWire, rejoinToWire } from '@hubha/coord';
import { describeRejoin, renderHistory } from '../src/commands/history.js';

const entries: HistoryEntry[] = [
  { epoch: 1, at: '2026-11-26T10:00:00.000Z', kind: 'bootstrap', from: null, to: 'hub1', reason: 'first primary', dataLossBytes: 0 },
  { epoch: 2, at: '2026-11-26T11:00:00.000Z', kind: 'failover', from: 'hub1', to: 'hub2', reason: 'hub1 lost the lease; asynchronous, data loss unknown', dataLossBytes: null },
];
const rewound: Rejoin = { epoch: 2, member: 'hub1', primary: 'hub2', at: '2026-11-26T11:00:09.000Z', rewind: 'rewound', commitsAfterFork: 3, walBytesAfterFork: 912, divergedAt: '0/3027100' };

describe('hubha history with rejoins', () => {
  it('shows under a failover what its former primary lost when it came back', () => {
    const text = renderHistory(entries, [rewound]);
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[3]).toMatch(/^ +↳ hub1 rejoined at 2026-11-26T11:00:09.000Z: pg_rewind discarded 3 commits \(912 B of WAL\) after the fork that hub2 never had \(forked at 0\/3027100\)$/);
    // A rejoin that is not of the entry's former primary is not shown under it.
    expect(renderHistory(entries, [{ ...rewound, member: 'hub3' }]).trimEnd().split('\n')).toHaveLength(3);
  });

  it('words every way of coming back', () => {
    expect(describeRejoin({ ...rewound, commitsAfterFork: 1 })).toContain('discarded 1 commit (912 B of WAL)');
    expect(describeRejoin({ ...rewound, commitsAfterFork: null, walBytesAfterFork: null })).toContain('pg_rewind discarded what it wrote after the fork (how much is unknown) that hub2 never had (forked at 0/3027100)');
    expect(describeRejoin({ ...rewound, rewind: 'recloned', commitsAfterFork: null, walBytesAfterFork: null, divergedAt: null })).toBe('hub1 rejoined at 2026-11-26T11:00:09.000Z: re-cloned from hub2; what it wrote after the fork is unknown');
    expect(describeRejoin({ ...rewound, rewind: 'not-needed', commitsAfterFork: 0, walBytesAfterFork: 0, divergedAt: null })).toContain('nothing discarded (no rewind needed)');
  });

  it('a rejoin survives the wire unchanged; a malformed one is refused', () => {
    expect(rejoinFromWire(rejoinToWire(rewound))).toEqual(rewound);
    const unknown: Rejoin = { ...rewound, rewind: 'recloned', commitsAfterFork: null, walBytesAfterFork: null, divergedAt: null };
    expect(rejoinFromWire(rejoinToWire(unknown))).toEqual(unknown);
    expect(() => rejoinFromWire({ ...rejoinToWire(rewound), rewind: 'teleported' })).toThrow(/rewind/);
  });
});
