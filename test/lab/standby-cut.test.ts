/**
 * The synchronous standby cut off from everyone (lab.isolate) while it stays alive, in
 * synchronous mode 'on': the primary's commits wait for it only until hubha drops it — after
 * recording "no synchronous standby" — and then resume. Before hubha managed wal_sender_timeout
 * (PostgreSQL's default is 60 s), the walsender listed the silent standby as streaming for a
 * whole minute and commits stalled about 62 s (measured); now wal_sender_timeout is derived from
 * syncDropAfterMs (replicationTimeoutsFor), so the stall is about twice syncDropAfterMs.
 *
 * Measured here: from the cut to the walsender's "replication timeout", to the recorded drop, and
 * to the first acknowledgement of a write sent after the cut. Nothing acknowledged is lost: on
 * heal the standby streams synchronously again and has every acknowledged id.
 */
import { describe, expect, it } from 'vitest';
import { replicationTimeoutsFor } from '@hubha/hub';
import { LAB_TIMINGS, linesWith, logTime, sleep, waitFor } from '../chaos/lab-cluster.js';
import { dumpLogsOnFailure, hhmmss, permitted, useLabCluster } from '../chaos/scenario.js';
import { verifyHistory } from '../chaos/verify.js';

const s = useLabCluster({ base: 'hubha-lsbcut', subnet: '10.77.17.0/24', synchronous: 'on' });

/** Commits must resume within this after the cut (expected: about 2 × syncDropAfterMs + a loop). */
const RESUME_BOUND_MS = 15_000;
/** How long the standby stays cut off: long enough to see commits flow without it. */
const CUT_MS = 12_000;

describe.skipIf(!permitted)('the synchronous standby cut off, alive', () => {
  it('commits on the primary resume within seconds, after the drop is recorded; nothing acknowledged is lost', { timeout: 120_000 }, async () => {
    dumpLogsOnFailure(s);
    const { lc } = s;
    const before = await lc.waitRecovered(30_000);
    const { active, standby } = before;
    // The managed setting is in force on both hubs (each rewrote its managed file at its start).
    const want = replicationTimeoutsFor({ syncDropAfterMs: LAB_TIMINGS.timings!.syncDropAfterMs! });
    for (const hub of [active, standby]) {
      const [row] = await lc.sql<{ s: string; r: string; i: string; w: string }>(
        hub,
        "SELECT current_setting('wal_sender_timeout') AS s, current_setting('wal_receiver_timeout') AS r, current_setting('wal_receiver_status_interval') AS i, current_setting('wal_retrieve_retry_interval') AS w",
      );
      // PostgreSQL shows whole seconds in s, the rest in ms.
      const ms = (v: number): string => (v % 1000 === 0 ? `${v / 1000}s` : `${v}ms`);
      expect(row).toEqual({ s: ms(want.walSenderTimeoutMs), r: ms(want.walReceiverTimeoutMs), i: `${want.walReceiverStatusIntervalS}s`, w: ms(want.walRetrieveRetryIntervalMs) });
    }
    // Not the Raft leader on the standby: its isolation should cost no election here.
    await lc.moveRaftLeader('witness');
    const writer = lc.startWriter(await s.historyFile('standby-cut'), 1, { loops: 2, queryMs: 30_000 });
    await waitFor('acks through the VIP', async () => (await writer.history()).acks.length >= 20, 10_000);

    await lc.lab.isolate(standby);
    const cutAt = Date.now(); // the cut is in place from here on
    const firstAfter = await waitFor(
      'a write sent after the cut acknowledged',
      async () => (await writer.history()).acks.find((a) => a.sent > cutAt),
      RESUME_BOUND_MS + 5000,
      100,
    );
    const stillStandby = await lc.pgRole(standby); // over its unix socket: the cut is on the network only
    await sleep(Math.max(0, cutAt + CUT_MS - Date.now()));
    const state = await lc.observer.state();
    const healAt = Date.now();
    await lc.lab.heal();

    expect(stillStandby).toBe('standby');
    expect(state?.active).toMatchObject({ name: active, epoch: before.epoch });
    expect(state?.sync).toMatchObject({ primary: active, standby: null });
    const activeLog = await lc.logs(active);
    const recordedNull = linesWith(activeLog, 'synchronous standby recorded', { standby: null }).find((l) => logTime(l) > cutAt);
    const dropped = linesWith(activeLog, 'no synchronous standby streaming: recorded, now replicating asynchronously').find((l) => logTime(l) > cutAt);
    const walsenderGone = (await lc.pgLog(active)).find((l) => l.at > cutAt && /terminating walsender process due to replication timeout/.test(l.text));
    expect(recordedNull).toBeDefined();
    expect(dropped).toBeDefined();
    expect(walsenderGone).toBeDefined();
    expect(logTime(recordedNull!)).toBeLessThanOrEqual(logTime(dropped!));
    const resumeMs = firstAfter.ack - cutAt;
    expect(resumeMs).toBeLessThan(RESUME_BOUND_MS);

    const after = await lc.waitRecovered(45_000);
    expect(after).toMatchObject({ active, standby, epoch: before.epoch });
    await sleep(500);
    const history = await writer.stop();

    // Writes sent once the cut was in place could not reach the standby: none of them was
    // acknowledged before the store said "no synchronous standby".
    const early = history.acks.filter((a) => a.sent > cutAt && a.ack < logTime(recordedNull!));
    expect(early).toEqual([]);
    // The longest a write waited for its acknowledgement around the cut (sent before or after it).
    const stalled = history.acks.filter((a) => a.ack > cutAt && a.sent < logTime(dropped!) + 1000);
    const longestMs = Math.max(0, ...stalled.map((a) => a.ack - a.sent));
    console.log(
      `standby ${standby} isolated at ${hhmmss(cutAt)} (wal_sender_timeout ${want.walSenderTimeoutMs} ms, syncDropAfterMs ${LAB_TIMINGS.timings!.syncDropAfterMs} ms): ` +
        `walsender timed out at +${walsenderGone!.at - cutAt} ms, "no synchronous standby" recorded at +${logTime(recordedNull!) - cutAt} ms, ` +
        `dropped at +${logTime(dropped!) - cutAt} ms; first write sent after the cut acknowledged at +${resumeMs} ms; longest wait for an ack ${longestMs} ms; ` +
        `${history.acks.filter((a) => a.ack > cutAt && a.ack < healAt).length} acks during the cut; healed: ${standby} synchronous and recorded again ${after.ms} ms after the heal`,
    );
    // Every acknowledged write is on the primary, and on the standby once it caught up.
    const { violations } = await verifyHistory(lc, history.acks, active);
    expect(violations).toEqual([]);
    const ids = history.acks.map((a) => a.id);
    const onStandby = await waitFor(
      `${standby} replayed every acknowledged id`,
      async () => {
        const present = await lc.idsOn(standby, Math.min(...ids), Math.max(...ids));
        return ids.every((id) => present.has(id)) ? present : null;
      },
      15_000,
    );
    expect(onStandby.size).toBeGreaterThanOrEqual(ids.length);
  });
});
