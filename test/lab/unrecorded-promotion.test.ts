/**
 * Regression check for the lost writes the chaos runner found (seed 777, round 38; see
 * test/chaos/repro-unrecorded-promotion.ts): the standby promotes and is cut from the store
 * right then, while the client still reaches it through the VIP. Whatever it acknowledged must
 * survive the heal — the history must name it, so that it, not the old primary, comes back.
 */
import { describe, expect, it } from 'vitest';
import { reproduceUnrecordedPromotion } from '../chaos/repro-unrecorded-promotion.js';
import { dumpLogsOnFailure, permitted, useLabCluster } from '../chaos/scenario.js';

const s = useLabCluster({ base: 'hubha-lunrec', subnet: '10.77.16.0/24', synchronous: 'on' });

describe.skipIf(!permitted)('a promotion cut from the store right after pg_promote', () => {
  it('loses no acknowledged write', { timeout: 90_000 }, async () => {
    dumpLogsOnFailure(s);
    const outcome = await reproduceUnrecordedPromotion(s.lc, await s.historyFile('unrecorded-promotion'));
    console.log(outcome.story.join('\n'));
    expect(outcome.lost).toBe(0);
  });
});
