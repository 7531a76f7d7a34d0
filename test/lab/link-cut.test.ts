/**
 * The link hub1 ↔ hub2 cut while both still see the witness (the Raft leader): the active hub
 * keeps its lease, replication breaks, and in synchronous mode the commits wait until the
 * primary has recorded "no synchronous standby" in the store and only then drops the standby —
 * no write is acknowledged in between. The standby, no longer recorded, cannot take over: there
 * is never more than one writable primary. After the heal the standby streams again and is
 * synchronous (and recorded) again.
 *
 * The agent counts the standby as gone when pg_stat_replication stops listing it as streaming,
 * and the walsender of a standby that silently vanished (a partition, not a crash) is listed as
 * streaming until wal_sender_timeout runs out: with PostgreSQL's 60 s default commits waited
 * about 62 s (measured) before the drop. hubha manages it now (replicationTimeoutsFor: 2 s with
 * the lab's syncDropAfterMs), so the drop comes after wal_sender_timeout + syncDropAfterMs.
 */
import { describe, expect, it } from 'vitest';
import { replicationTimeoutsFor } from '@hubha/hub';
import { LAB_TIMINGS, linesWith, logTime, sleep, waitFor, type PgRole } from '../chaos/lab-cluster.js';
import { dumpLogsOnFailure, hhmmss, permitted, useLabCluster } from '../chaos/scenario.js';
import { verifyHistory } from '../chaos/verify.js';

const s = useLabCluster({ base: 'hubha-llink', subnet: '10.77.13.0/24', synchronous: 'on' });

const CUT_MS = 10_000;
const SYNC_DROP_AFTER_MS = LAB_TIMINGS.timings!.syncDropAfterMs!;
const WAL_SENDER_TIMEOUT_MS = replicationTimeoutsFor({ syncDropAfterMs: SYNC_DROP_AFTER_MS }).walSenderTimeoutMs;

describe.skipIf(!permitted)('the link between the hubs cut', () => {
  it('drops the standby after recording it, never has two primaries, and recovers on heal', { timeout: 90_000 }, async () => {
    dumpLogsOnFailure(s);
    const { lc } = s;
    const before = await lc.waitRecovered(30_000);
    const { active, standby } = before;
    await lc.moveRaftLeader('witness');
    const writer = lc.startWriter(await s.historyFile('link-cut'), 1);
    await waitFor('acks through the VIP', async () => (await writer.history()).acks.length >= 20, 10_000);

    await lc.lab.cutLink('hub1', 'hub2');
    const cutAt = Date.now(); // the cut is in place from here on
    // Sample both hubs' PostgreSQL roles throughout the cut: never two primaries.
    const samples: { at: number; roles: Record<string, PgRole> }[] = [];
    for (let i = 0; i < 200 && Date.now() - cutAt < CUT_MS; i++) {
      const [r1, r2] = await Promise.all([lc.pgRole('hub1'), lc.pgRole('hub2')]);
      samples.push({ at: Date.now(), roles: { hub1: r1, hub2: r2 } });
      await sleep(200);
    }
    const state = await lc.observer.state();
    const healAt = Date.now();
    await lc.lab.heal();

    expect(samples.filter((x) => x.roles.hub1 === 'primary' && x.roles.hub2 === 'primary')).toEqual([]);
    expect(samples.every((x) => x.roles[active] === 'primary' && x.roles[standby] === 'standby')).toBe(true);
    expect(state?.active).toMatchObject({ name: active, epoch: before.epoch });
    expect(state?.sync).toMatchObject({ primary: active, standby: null });

    const activeLog = await lc.logs(active);
    const recordedNull = linesWith(activeLog, 'synchronous standby recorded', { standby: null }).find((l) => logTime(l) > cutAt);
    const dropped = linesWith(activeLog, 'no synchronous standby streaming: recorded, now replicating asynchronously').find((l) => logTime(l) > cutAt);
    expect(recordedNull).toBeDefined();
    expect(dropped).toBeDefined();
    expect(logTime(recordedNull!)).toBeLessThanOrEqual(logTime(dropped!));
    // wal_sender_timeout + syncDropAfterMs + a loop or two.
    expect(logTime(dropped!) - cutAt).toBeLessThan(WAL_SENDER_TIMEOUT_MS + SYNC_DROP_AFTER_MS + 2000);

    const after = await lc.waitRecovered(30_000);
    expect(after).toMatchObject({ active, standby, epoch: before.epoch });
    const recordedAgain = linesWith(await lc.logs(active), 'synchronous standby recorded', { standby }).find((l) => logTime(l) > healAt);
    expect(recordedAgain).toBeDefined();
    await sleep(500);
    const history = await writer.stop();

    // Writes sent once the cut was in place could not reach the standby: none of them was
    // acknowledged before the store said "no synchronous standby".
    const sentAfterCut = history.acks.filter((a) => a.sent > cutAt);
    const early = sentAfterCut.filter((a) => a.ack < logTime(recordedNull!));
    expect(early).toEqual([]);
    const during = history.acks.filter((a) => a.ack > cutAt && a.ack < healAt);
    const firstAfter = sentAfterCut[0];
    console.log(
      `link cut at ${hhmmss(cutAt)}: commits waited; "no synchronous standby" recorded at +${logTime(recordedNull!) - cutAt} ms, standby dropped at +${logTime(dropped!) - cutAt} ms, ` +
        `first write sent after the cut acknowledged at +${firstAfter === undefined ? '?' : firstAfter.ack - cutAt} ms; ${during.length} acks during the cut; ` +
        `${samples.length} role samples, one primary in each; healed: ${standby} synchronous and recorded again at +${logTime(recordedAgain!) - healAt} ms`,
    );
    const { violations } = await verifyHistory(lc, history.acks, active);
    expect(violations).toEqual([]);
  });
});
