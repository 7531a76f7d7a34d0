/**
 * Asymmetric cuts of the active hub (lab.cutOneWay: IPv4 dropped in one direction only, ARP
 * still passing):
 *
 * 1. Everything the active hub sends is dropped (it still hears everyone): its renewals never
 *    get an answer, so it fences itself before the standby takes the lease; the standby's
 *    gratuitous ARP still reaches the client, which follows the VIP to the new primary. On heal
 *    the old hub rejoins as a standby.
 * 2. The Raft leader (the witness) can no longer reach the active hub, which can still reach
 *    it: TCP needs both directions, so the active hub is cut from the leader but not from the
 *    standby. Whatever the cluster does, it must be safe (one writable primary, no acknowledged
 *    write lost) and recover on heal.
 */
import { describe, expect, it } from 'vitest';
import { MEMBERS, linesWith, logTime, sleep, waitFor, type PgRole } from '../chaos/lab-cluster.js';
import { dumpLogsOnFailure, hhmmss, permitted, useLabCluster } from '../chaos/scenario.js';
import { verifyHistory } from '../chaos/verify.js';

const s = useLabCluster({ base: 'hubha-loneway', subnet: '10.77.14.0/24', synchronous: 'on' });

describe.skipIf(!permitted)('one-way cuts of the active hub', () => {
  it("the active hub's outgoing packets dropped: it fences, the standby takes over, the client follows", { timeout: 60_000 }, async () => {
    dumpLogsOnFailure(s);
    const { lc } = s;
    const before = await lc.waitRecovered(30_000);
    const { active, standby } = before;
    const writer = lc.startWriter(await s.historyFile('one-way-out'), 1);
    await waitFor('acks through the VIP', async () => (await writer.history()).acks.length >= 20, 10_000);

    const cutAt = Date.now();
    for (const to of [...MEMBERS.filter((m) => m !== active), 'client']) await lc.lab.cutOneWay(active, to);
    const promoted = await waitFor(`${standby} promoted`, async () => linesWith(await lc.logs(standby), 'PostgreSQL promoted').find((l) => logTime(l) > cutAt), 20_000);
    const demoting = linesWith(await lc.logs(active), 'demoting: fencing this hub').find((l) => logTime(l) > cutAt);
    const acquired = linesWith(await lc.logs(standby), 'hub role', { role: 'promoting' }).find((l) => logTime(l) > cutAt);
    const shutdown = (await lc.pgLog(active)).find((l) => l.at > cutAt && /received (fast|immediate) shutdown request/.test(l.text));
    expect(demoting).toBeDefined();
    expect(acquired).toBeDefined();
    expect(shutdown).toBeDefined();
    expect(shutdown!.at).toBeLessThan(logTime(acquired!));
    expect(await lc.holdsVip(active)).toBe(false);
    // The client follows the VIP (ARP passes the cut): writes go on on the new primary.
    const n = (await writer.history()).acks.filter((a) => a.tl === Number(promoted.timeline)).length;
    await waitFor('acks from the new primary during the cut', async () => (await writer.history()).acks.filter((a) => a.tl === Number(promoted.timeline)).length > n + 20, 15_000);

    const healAt = Date.now();
    await lc.lab.heal();
    const after = await lc.waitRecovered(45_000);
    expect(after.active).toBe(standby);
    const history = await writer.stop();
    const firstNew = history.acks.find((a) => a.tl === Number(promoted.timeline));
    console.log(
      `${active}'s outgoing IPv4 cut at ${hhmmss(cutAt)}: fencing began at +${logTime(demoting!) - cutAt} ms, PostgreSQL shutting down at +${shutdown!.at - cutAt} ms; ` +
        `${standby} took the lease at +${logTime(acquired!) - cutAt} ms, promoted at +${logTime(promoted) - cutAt} ms; first ack through the VIP from it at +${firstNew!.ack - cutAt} ms; ` +
        `recovered ${after.ms} ms after the heal with ${active} as the standby`,
    );
    expect(healAt).toBeGreaterThan(firstNew!.ack);
    const { violations } = await verifyHistory(lc, history.acks, after.active);
    expect(violations).toEqual([]);
  });

  it('the Raft leader cannot reach the active hub (the other direction is open): safe, and recovers', { timeout: 75_000 }, async () => {
    dumpLogsOnFailure(s);
    const { lc } = s;
    const before = await lc.waitRecovered(45_000);
    const { active } = before;
    await lc.moveRaftLeader('witness');
    const writer = lc.startWriter(await s.historyFile('one-way-in'), 10_000_000);
    await waitFor('acks through the VIP', async () => (await writer.history()).acks.length >= 20, 10_000);

    const cutAt = Date.now();
    await lc.lab.cutOneWay('witness', active);
    const samples: Record<string, PgRole>[] = [];
    for (let i = 0; i < 100 && Date.now() - cutAt < 10_000; i++) {
      const [r1, r2] = await Promise.all([lc.pgRole('hub1'), lc.pgRole('hub2')]);
      samples.push({ hub1: r1, hub2: r2 });
      await sleep(200);
    }
    const during = await lc.observer.state();
    const healAt = Date.now();
    await lc.lab.heal();
    expect(samples.filter((x) => x.hub1 === 'primary' && x.hub2 === 'primary')).toEqual([]);

    const after = await lc.waitRecovered(45_000);
    await sleep(500);
    const history = await writer.stop();
    const promotions = linesWith(await lc.logs(before.standby), 'PostgreSQL promoted').filter((l) => logTime(l) > cutAt);
    const fenced = linesWith(await lc.logs(active), 'demoting: fencing this hub').filter((l) => logTime(l) > cutAt);
    const acksDuring = history.acks.filter((a) => a.ack > cutAt && a.ack < healAt).length;
    console.log(
      `witness -> ${active} cut at ${hhmmss(cutAt)} for ${healAt - cutAt} ms: active hub during the cut ${JSON.stringify(during?.active?.name ?? null)} (epoch ${String(during?.active?.epoch ?? '-')}); ` +
        `${active} fenced ${fenced.length} time(s), ${before.standby} promoted ${promotions.length} time(s); ${acksDuring} acks during the cut, ${history.inDoubt.length} in doubt; ` +
        `recovered ${after.ms} ms after the heal: ${after.active} active (epoch ${after.epoch})`,
    );
    const { violations } = await verifyHistory(lc, history.acks, after.active);
    expect(violations).toEqual([]);
  });
});
