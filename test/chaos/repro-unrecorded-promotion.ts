/**
 * A lost-write scenario found by the chaos runner (seed 777, round 38), fixed in the hub agent by
 * f046818 (the history entry is written before pg_promote) and kept as a regression check:
 * test/lab/unrecorded-promotion.test.ts runs it in CI, and
 * `npx tsx test/chaos/repro-unrecorded-promotion.ts` (root, PostgreSQL 15, after `npm run build`)
 * runs it once by hand: exit 1 when acknowledged writes were lost, 0 when not.
 *
 * Synchronous mode 'on'. The active hub A is isolated. The standby B takes the lease (epoch
 * e+1), records {primary: B, standby: null, epoch: e+1} and runs pg_promote — and right then is
 * cut from the store (the witness; A is gone) while the client still reaches it. B claims the
 * VIP and acknowledges writes on its new timeline without a synchronous standby (it recorded
 * "none"); it fences when its lease runs out. Before the fix B's history entry was written last
 * (after publishing itself, which failed) and a failed write was ignored: after the heal the
 * newest history entry still named A, which "restarted as the last primary" on its old timeline
 * (epoch e+2) and B was rewound onto it — every write B had acknowledged was gone (measured: 501
 * to 2434 per run, 5 runs of 5). With the fix the history names B, which comes back itself.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LabCluster, linesWith, logTime, sleep } from './lab-cluster.js';

/** After B's sync record write, before pg_promote returns (measured: about 170 ms after the grant). */
const CUT_AFTER_ACQUISITION_MS = 60;

export interface UnrecordedPromotionOutcome {
  /** B promoted and acknowledged writes on its new timeline: the scenario happened. */
  readonly promotedAndServed: boolean;
  readonly story: string[];
  /** Acknowledged writes missing on the final primary. */
  readonly lost: number;
}

/** Runs the scenario once on a healthy synchronous cluster whose writer table exists. */
export async function reproduceUnrecordedPromotion(lc: LabCluster, historyFile: string): Promise<UnrecordedPromotionOutcome> {
  const story: string[] = [];
  const r = await lc.waitRecovered(60_000);
  await lc.moveRaftLeader('witness');
  const A = r.active;
  const B = r.standby;
  const writer = lc.startWriter(historyFile, 1);
  try {
    await sleep(1500);
    const cutAt = Date.now();
    await lc.lab.isolate(A);
    let acquired: Record<string, unknown> | undefined;
    for (let i = 0; i < 5000 && acquired === undefined && Date.now() - cutAt < 20_000; i++) {
      acquired = linesWith(await lc.logs(B), 'hub role', { role: 'promoting' }).find((l) => logTime(l) > cutAt);
      if (acquired === undefined) await sleep(3);
    }
    if (acquired === undefined) throw new Error(`${B} never took the lease`);
    await sleep(Math.max(0, logTime(acquired) + CUT_AFTER_ACQUISITION_MS - Date.now()));
    await lc.lab.cutLink(B, 'witness');
    story.push(`${A} isolated; ${B} took the lease at +${logTime(acquired) - cutAt} ms and was cut from the store ${Date.now() - logTime(acquired)} ms later (the client still reaches it)`);
    await sleep(6000);
    const promoted = linesWith(await lc.logs(B), 'PostgreSQL promoted').find((l) => logTime(l) > cutAt);
    const newTl = promoted === undefined ? null : Number(promoted.timeline);
    const onNew = (await writer.history()).acks.filter((a) => a.tl === newTl);
    story.push(promoted === undefined ? `${B} did not promote (cut before it could record its promotion)` : `${B} promoted to timeline ${newTl} and acknowledged ${onNew.length} writes on it`);
    await lc.lab.heal();
    const rec = await lc.waitRecovered(60_000);
    await sleep(1000);
    const history = await writer.stop();
    const present = await lc.idsOn(rec.active, 1, 1e9);
    const missing = history.acks.filter((a) => !present.has(a.id));
    const restart = linesWith(await lc.logs(rec.active), 'active hub').filter((l) => logTime(l) > cutAt).at(-1);
    story.push(`after the heal: ${rec.active} active (epoch ${rec.epoch}, ${String(restart?.kind ?? '?')}); acknowledged writes missing on it: ${missing.length}${missing.length > 0 ? ` (timelines ${[...new Set(missing.map((a) => a.tl))].join(', ')})` : ''}`);
    return { promotedAndServed: promoted !== undefined && onNew.length > 0, story, lost: missing.length };
  } finally {
    await writer.stop();
  }
}

if (process.argv[1]?.endsWith('repro-unrecorded-promotion.ts')) {
  const lc = await LabCluster.start({ base: 'hubha-repro', subnet: '10.77.23.0/24', synchronous: 'on' });
  const dir = await mkdtemp(join(tmpdir(), 'hubha-repro-hist-'));
  let lost = 0;
  try {
    const r = await lc.waitRecovered(90_000);
    await lc.setupWorkload(r.active);
    const outcome = await reproduceUnrecordedPromotion(lc, join(dir, 'writer.jsonl'));
    for (const line of outcome.story) console.log(line);
    lost = outcome.lost;
  } finally {
    await lc.destroy({ keep: process.env.HUBHA_KEEP === '1' });
    await rm(dir, { recursive: true, force: true });
  }
  console.log(lost > 0 ? 'REPRODUCED: acknowledged writes lost in synchronous mode' : 'not reproduced');
  process.exit(lost > 0 ? 1 : 0);
}
