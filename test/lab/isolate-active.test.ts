/**
 * The active hub cut off from everyone (lab.isolate, both ways, ARP included) while a client
 * writes through the VIP: it fences itself — VIP gone and PostgreSQL stopped, as seen from inside
 * its own namespace — before the other hub even takes the lease, let alone promotes (the pino
 * times of both logs, one host clock); after the heal it rejoins as a standby of the new primary.
 * The checker finds no split brain and no lost acknowledged write.
 */
import { describe, expect, it } from 'vitest';
import { linesWith, logTime, waitFor } from '../chaos/lab-cluster.js';
import { dumpLogsOnFailure, hhmmss, permitted, useLabCluster } from '../chaos/scenario.js';
import { verifyHistory } from '../chaos/verify.js';

const s = useLabCluster({ base: 'hubha-lisol', subnet: '10.77.11.0/24', synchronous: 'on' });

describe.skipIf(!permitted)('the active hub isolated', () => {
  it('fences itself before the other hub promotes, and rejoins as a standby on heal', { timeout: 90_000 }, async () => {
    dumpLogsOnFailure(s);
    const { lc } = s;
    const { lab } = lc;
    const before = await lc.waitRecovered(30_000);
    const active = before.active;
    const standby = before.standby;
    const writer = lc.startWriter(await s.historyFile('isolate-active'), 1);
    await waitFor('acks through the VIP', async () => (await writer.history()).acks.length >= 20, 10_000);

    const cutAt = Date.now();
    await lab.isolate(active);

    // The fence as the agent logs it: VIP first, then PostgreSQL's fast shutdown (from which on it
    // refuses connections and aborts transactions) — PostgreSQL's own log has the time.
    const demoting = await waitFor(`${active} demoting`, async () => linesWith(await lc.logs(active), 'demoting: fencing this hub').find((l) => logTime(l) > cutAt), 15_000);
    const promoted = await waitFor(`${standby} promoted`, async () => linesWith(await lc.logs(standby), 'PostgreSQL promoted').find((l) => logTime(l) > cutAt), 20_000);
    const vipReleased = linesWith(await lc.logs(active), 'VIP released').find((l) => logTime(l) > cutAt);
    const shutdown = (await lc.pgLog(active)).find((l) => l.at > cutAt && /received (fast|immediate) shutdown request/.test(l.text));
    const acquired = linesWith(await lc.logs(standby), 'hub role', { role: 'promoting' }).find((l) => logTime(l) > cutAt);
    expect(vipReleased).toBeDefined();
    expect(shutdown).toBeDefined();
    expect(acquired).toBeDefined();
    const acquiredAt = logTime(acquired!);
    const promotedAt = logTime(promoted);
    const stopAt = Math.max(logTime(vipReleased!), shutdown!.at);
    expect(logTime(demoting)).toBeLessThan(acquiredAt);
    expect(stopAt).toBeLessThan(acquiredAt);
    expect(stopAt).toBeLessThan(promotedAt);

    // Seen from its own namespace: no VIP, PostgreSQL not accepting connections; then the
    // postmaster gone (the agent's 'fenced' line).
    expect(await lc.holdsVip(active)).toBe(false);
    expect(await lc.pgAccepting(active)).toBe(false);
    const fencedLine = await waitFor(`${active} fenced`, async () => linesWith(await lc.logs(active), 'fenced').find((l) => logTime(l) > cutAt), 25_000);
    expect(await lc.postmasterPid(active)).toBeNull();
    console.log(
      `isolate ${active} at ${hhmmss(cutAt)}: ${active} began fencing at +${logTime(demoting) - cutAt} ms (${String(demoting.reason)}), VIP released at +${logTime(vipReleased!) - cutAt} ms, ` +
        `PostgreSQL shutting down (refusing connections) at +${shutdown!.at - cutAt} ms, postmaster gone at +${logTime(fencedLine) - cutAt} ms (${String(fencedLine.method)}); ` +
        `${standby} took the lease at +${acquiredAt - cutAt} ms and was promoted at +${promotedAt - cutAt} ms: ${active} stopped writes ${acquiredAt - stopAt} ms before the lease changed hands, ${promotedAt - stopAt} ms before the promotion`,
    );
    expect(promoted.epoch).toBe(before.epoch + 1);
    await waitFor(`the VIP on ${standby}`, () => lc.holdsVip(standby), 10_000);

    const healAt = Date.now();
    await lab.heal();
    const after = await lc.waitRecovered(45_000);
    expect(after.active).toBe(standby);
    const rejoined = linesWith(await lc.logs(active), 'rejoined as a standby').find((l) => logTime(l) > healAt);
    expect(rejoined).toBeDefined();
    console.log(`healed at ${hhmmss(healAt)}: ${active} rejoined (rewind: ${String(rejoined!.rewind)}) in ${after.ms} ms after the heal, streaming synchronously from ${standby}`);
    // Writes go on through the VIP, on the new primary.
    const n = (await writer.history()).acks.length;
    await waitFor('acks after the heal', async () => (await writer.history()).acks.length > n + 20, 10_000);

    const history = await writer.stop();
    const { violations } = await verifyHistory(lc, history.acks, after.active);
    expect(violations).toEqual([]);
    const lastOld = history.acks.filter((a) => a.tl < Number(promoted.timeline)).at(-1);
    console.log(`writer: ${history.acks.length} acks, ${history.inDoubt.length} in doubt; last ack from ${active} at ${hhmmss(lastOld!.ack)} (${promotedAt - lastOld!.ack} ms before the promotion)`);
  });
});
