/**
 * The active hub's sidecar frozen (SIGSTOP through lab.pause) for longer than the lease TTL,
 * then resumed, while a client writes through the VIP in synchronous mode. Its PostgreSQL keeps
 * running the whole time — nobody fences it while the sidecar sleeps — but every commit waits
 * for the synchronous standby, which stops confirming when it is promoted. So no write can be
 * acknowledged by the old primary once the new one is writable: the checker finds no write
 * acknowledged by the old timeline that was sent after the promotion, no overlapping intervals,
 * and every acknowledged write on the new primary. (Between the standby taking the lease and its
 * pg_promote the old primary may still acknowledge a write — measured: one 29 ms after the lease
 * changed hands — but only once the standby has flushed it, so it is on the new primary.)
 * Resumed, the sidecar sees that its own
 * deadline has passed and fences at once (VIP, then PostgreSQL), then rejoins as a standby.
 */
import { describe, expect, it } from 'vitest';
import { linesWith, logTime, sleep, waitFor } from '../chaos/lab-cluster.js';
import { dumpLogsOnFailure, hhmmss, permitted, useLabCluster } from '../chaos/scenario.js';
import { verifyHistory } from '../chaos/verify.js';

const s = useLabCluster({ base: 'hubha-lpause', subnet: '10.77.15.0/24', synchronous: 'on' });

describe.skipIf(!permitted)("the active hub's sidecar paused beyond the lease TTL", () => {
  it('notices on resume and fences; no acknowledged write conflicts', { timeout: 90_000 }, async () => {
    dumpLogsOnFailure(s);
    const { lc } = s;
    const before = await lc.waitRecovered(30_000);
    const { active, standby } = before;
    await lc.moveRaftLeader('witness');
    const writer = lc.startWriter(await s.historyFile('sidecar-pause'), 1);
    await waitFor('acks through the VIP', async () => (await writer.history()).acks.length >= 20, 10_000);

    const pid = lc.memberPid(active);
    expect(pid).not.toBeNull();
    const pausedAt = Date.now();
    await lc.lab.pause(pid!);
    let resumedAt = 0;
    try {
      const promoted = await waitFor(`${standby} promoted`, async () => linesWith(await lc.logs(standby), 'PostgreSQL promoted').find((l) => logTime(l) > pausedAt), 20_000);
      // Still frozen a while after the takeover: the client moves to the new primary meanwhile.
      await sleep(1500);
      expect(await lc.pgAccepting(active)).toBe(true); // nobody fenced it: its sidecar sleeps
      resumedAt = Date.now();
      await lc.lab.resume(pid!);

      const demoting = await waitFor(`${active} demoting after the resume`, async () => linesWith(await lc.logs(active), 'demoting: fencing this hub').find((l) => logTime(l) >= resumedAt - 5), 10_000);
      expect(String(demoting.reason)).toMatch(/lease/);
      const vipReleased = linesWith(await lc.logs(active), 'VIP released').find((l) => logTime(l) >= resumedAt - 5);
      const shutdown = await waitFor('PostgreSQL shutdown', async () => (await lc.pgLog(active)).find((l) => l.at > resumedAt && /received (fast|immediate) shutdown request/.test(l.text)), 10_000);
      expect(vipReleased).toBeDefined();
      const fenced = await waitFor(`${active} fenced`, async () => linesWith(await lc.logs(active), 'fenced').find((l) => logTime(l) > resumedAt), 25_000);

      const after = await lc.waitRecovered(45_000);
      expect(after.active).toBe(standby);
      await sleep(500);
      const history = await writer.stop();
      const promotedAt = logTime(promoted);
      const newTl = Number(promoted.timeline);
      const oldAcks = history.acks.filter((a) => a.tl < newTl);
      const lastOld = oldAcks.at(-1)!;
      const firstNew = history.acks.find((a) => a.tl === newTl)!;
      const acquired = linesWith(await lc.logs(standby), 'hub role', { role: 'promoting' }).find((l) => logTime(l) > pausedAt)!;
      console.log(
        `${active}'s sidecar (pid ${pid!}) paused at ${hhmmss(pausedAt)} for ${resumedAt - pausedAt} ms: ${standby} took the lease at +${logTime(acquired) - pausedAt} ms, promoted at +${promotedAt - pausedAt} ms; ` +
          `last ack from ${active} at +${lastOld.ack - pausedAt} ms (sent ${promotedAt - lastOld.sent} ms before the promotion), first from ${standby} at +${firstNew.ack - pausedAt} ms; ${history.inDoubt.length} in doubt. ` +
          `Resumed: fencing began ${logTime(demoting) - resumedAt} ms later (${String(demoting.reason)}), VIP released at +${logTime(vipReleased!) - resumedAt} ms, ` +
          `PostgreSQL shutting down at +${shutdown.at - resumedAt} ms, postmaster gone at +${logTime(fenced) - resumedAt} ms; recovered ${after.ms} ms later`,
      );
      expect(lastOld.sent).toBeLessThan(promotedAt);
      const { violations } = await verifyHistory(lc, history.acks, after.active);
      expect(violations).toEqual([]);
      expect(logTime(demoting) - resumedAt).toBeLessThan(1000);
    } finally {
      if (resumedAt === 0) await lc.lab.resume(pid!).catch(() => undefined);
    }
  });
});
