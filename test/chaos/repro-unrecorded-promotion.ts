/**
 * Reproduction of a lost-write bug found by the chaos runner (seed 777, round 38), for the hub
 * agent's owners: `npx tsx test/chaos/repro-unrecorded-promotion.ts` (root, PostgreSQL 15;
 * `npm run build` first). Exit 1 when acknowledged writes were lost, 0 when not.
 *
 * Synchronous mode 'on'. The active hub A is isolated. The standby B takes the lease (epoch
 * e+1), records {primary: B, standby: null, epoch: e+1} and runs pg_promote — and right then is
 * cut from the store (the witness; A is gone) while the client still reaches it. B claims the
 * VIP and acknowledges writes on its new timeline without a synchronous standby (it recorded
 * "none"), but cannot publish itself nor write its history entry (becomePrimary writes the
 * history last, and a failed write is ignored); it fences when its lease runs out. After the
 * heal, the lease is free and the newest history entry still names A: A "restarts as the last
 * primary" on its old timeline (epoch e+2) and B is rewound onto it — every write B
 * acknowledged is gone.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LabCluster, linesWith, logTime, sleep } from './lab-cluster.js';

const CUT_AFTER_ACQUISITION_MS = 60; // after B's sync record write, before pg_promote returns (measured: ~170 ms)

const lc = await LabCluster.start({ base: 'hubha-repro', subnet: '10.77.23.0/24', synchronous: 'on' });
let lost = 0;
const histDir = await mkdtemp(join(tmpdir(), 'hubha-repro-hist-'));
try {
  const r = await lc.waitRecovered(90_000);
  await lc.setupWorkload(r.active);
  await lc.moveRaftLeader('witness');
  const A = r.active;
  const B = r.standby;
  const writer = lc.startWriter(join(histDir, 'writer.jsonl'), 1);
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
  console.log(`${A} isolated; ${B} took the lease at +${logTime(acquired) - cutAt} ms and was cut from the store ${Date.now() - logTime(acquired)} ms later (the client still reaches it)`);
  await sleep(6000);
  const promoted = linesWith(await lc.logs(B), 'PostgreSQL promoted').find((l) => logTime(l) > cutAt);
  const newTl = promoted === undefined ? null : Number(promoted.timeline);
  const onNew = (await writer.history()).acks.filter((a) => a.tl === newTl);
  console.log(promoted === undefined ? `${B} did not promote (the cut came too early): not reproduced this time` : `${B} promoted to timeline ${newTl} and acknowledged ${onNew.length} writes on it`);
  await lc.lab.heal();
  const rec = await lc.waitRecovered(60_000);
  await sleep(1000);
  const history = await writer.stop();
  const present = await lc.idsOn(rec.active, 1, 1e9);
  const missing = history.acks.filter((a) => !present.has(a.id));
  lost = missing.length;
  const restart = linesWith(await lc.logs(rec.active), 'active hub').filter((l) => logTime(l) > cutAt).at(-1);
  console.log(`after the heal: ${rec.active} active (epoch ${rec.epoch}, ${String(restart?.kind ?? '?')}); acknowledged writes missing on it: ${lost}${lost > 0 ? ` (timelines ${[...new Set(missing.map((a) => a.tl))].join(', ')})` : ''}`);
} finally {
  await lc.destroy({ keep: process.env.HUBHA_KEEP === '1' });
  await rm(histDir, { recursive: true, force: true });
}
console.log(lost > 0 ? 'REPRODUCED: acknowledged writes lost in synchronous mode' : 'not reproduced');
process.exit(lost > 0 ? 1 : 0);
