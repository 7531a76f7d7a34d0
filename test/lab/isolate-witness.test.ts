/**
 * The witness cut off from everyone while it is the Raft leader (where the active hub puts
 * leadership): the two hubs elect a leader among themselves, the active hub keeps its lease —
 * no fence, no failover, the same epoch — and the writes through the VIP go on without a pause
 * worth the name. After the heal the witness rejoins as a follower; nothing else changes.
 */
import { describe, expect, it } from 'vitest';
import { linesWith, logTime, sleep, waitFor } from '../chaos/lab-cluster.js';
import { dumpLogsOnFailure, hhmmss, permitted, useLabCluster } from '../chaos/scenario.js';
import { verifyHistory } from '../chaos/verify.js';

const s = useLabCluster({ base: 'hubha-lwit', subnet: '10.77.12.0/24', synchronous: 'on' });

const ISOLATION_MS = 8000;

describe.skipIf(!permitted)('the witness isolated', () => {
  it('costs no failover and no pause in the writes', { timeout: 90_000 }, async () => {
    dumpLogsOnFailure(s);
    const { lc } = s;
    const before = await lc.waitRecovered(30_000);
    await lc.moveRaftLeader('witness');
    const writer = lc.startWriter(await s.historyFile('isolate-witness'), 1);
    await waitFor('acks through the VIP', async () => (await writer.history()).acks.length >= 20, 10_000);

    const cutAt = Date.now();
    await lc.lab.isolate('witness');
    await sleep(ISOLATION_MS);
    const healAt = Date.now();
    // During the isolation: a new leader among the hubs, the same active hub and epoch.
    const state = await lc.observer.state();
    expect(state?.active?.name).toBe(before.active);
    expect(state?.active?.epoch).toBe(before.epoch);
    const leader = await lc.raftLeader();
    expect(leader === 'hub1' || leader === 'hub2').toBe(true);
    await lc.lab.heal();

    const after = await lc.waitRecovered(30_000);
    expect(after).toMatchObject({ active: before.active, epoch: before.epoch });
    const activeLog = await lc.logs(before.active);
    expect(linesWith(activeLog, 'demoting: fencing this hub').filter((l) => logTime(l) > cutAt)).toEqual([]);
    for (const hub of ['hub1', 'hub2']) expect(linesWith(await lc.logs(hub), 'PostgreSQL promoted').filter((l) => logTime(l) > cutAt)).toEqual([]);
    const elected = (await lc.logs(before.standby)).filter((l) => l.msg === 'leader changed' && logTime(l) > cutAt)[0];
    expect(elected).toBeDefined();
    await sleep(500);

    const history = await writer.stop();
    const during = history.acks.filter((a) => a.sent >= cutAt && a.ack <= healAt);
    let maxGap = 0;
    for (let i = 1; i < during.length; i++) maxGap = Math.max(maxGap, during[i]!.ack - during[i - 1]!.ack);
    console.log(
      `witness isolated at ${hhmmss(cutAt)} for ${ISOLATION_MS} ms: ${elected!.leader as string} elected (term ${String(elected!.term)}) at +${logTime(elected!) - cutAt} ms; ` +
        `${during.length} acks during the isolation, longest gap ${maxGap} ms; ${history.inDoubt.length} in doubt; active hub ${before.active} epoch ${before.epoch} throughout`,
    );
    expect(during.length).toBeGreaterThan(100);
    expect(maxGap).toBeLessThan(1000);
    expect(history.inDoubt).toEqual([]);
    const { violations } = await verifyHistory(lc, history.acks, after.active);
    expect(violations).toEqual([]);
  });
});
