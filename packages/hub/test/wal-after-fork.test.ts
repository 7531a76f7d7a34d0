import { describe, expect, it } from 'vitest';
import { parseWaldumpStats } from '../src/postgres/index.js';

// pg_waldump --stats=record of PostgreSQL 15, as printed (a fresh cluster, a table, two inserts).
const STATS = `WAL statistics between 0/15000B8 and 0/1516800:
Type                                           N      (%)          Record size      (%)             FPI size      (%)        Combined size      (%)
----                                           -      ---          -----------      ---             --------      ---        -------------      ---
XLOG/CHECKPOINT_SHUTDOWN                       1 (  1.75)                  114 (  2.34)                    0 (  0.00)                  114 (  0.12)
XLOG/CHECKPOINT_ONLINE                         2 (  3.51)                  228 (  4.68)                    0 (  0.00)                  228 (  0.25)
XLOG/NEXTOID                                   1 (  1.75)                   30 (  0.62)                    0 (  0.00)                   30 (  0.03)
Transaction/COMMIT                             5 (  8.77)                  605 ( 12.42)                    0 (  0.00)                  605 (  0.66)
Storage/CREATE                                 1 (  1.75)                   42 (  0.86)                    0 (  0.00)                   42 (  0.05)
Heap2/MULTI_INSERT                             5 (  8.77)                 1086 ( 22.29)                18652 ( 21.53)                19738 ( 21.57)
Heap/INSERT                                    6 ( 10.53)                  607 ( 12.46)                 2976 (  3.43)                 3583 (  3.92)
Btree/INSERT_LEAF                             30 ( 52.63)                 1819 ( 37.34)                65016 ( 75.04)                66835 ( 73.03)
                                        --------                      --------                      --------                      --------
Total                                         57                          4872 [5.32%]                 86644 [94.68%]                91516 [100%]
`;

describe('parseWaldumpStats', () => {
  it('counts commits, and records and bytes without the WAL bookkeeping (XLOG)', () => {
    expect(parseWaldumpStats(STATS)).toEqual({ commits: 5, records: 5 + 1 + 5 + 6 + 30, bytes: 605 + 42 + 19738 + 3583 + 66835 });
  });

  it('only checkpoints after the fork (crash recovery): nothing written, nothing lost', () => {
    const onlyCheckpoint = STATS.split('\n').filter((l) => !/^(Transaction|Storage|Heap|Heap2|Btree)\//.test(l)).join('\n');
    expect(parseWaldumpStats(onlyCheckpoint)).toEqual({ commits: 0, records: 0, bytes: 0 });
  });

  it('says nothing when the output is not a statistics table', () => {
    expect(parseWaldumpStats('pg_waldump: error: could not find a valid record after 0/3000000\n')).toBeNull();
    expect(parseWaldumpStats('')).toBeNull();
  });
});
