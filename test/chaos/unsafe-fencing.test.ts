/**
 * The chaos checker catches split brain on a real cluster. The same chaos round — the active hub
 * cut off from the other members (the store and the standby) while the client still reaches it,
 * asynchronous replication — run twice in the lab:
 *
 * - with self-fencing DISABLED (HUBHA_UNSAFE_DISABLE_FENCING=1, accepted only with
 *   HUBHA_UNSAFE_TESTING=1): the deposed primary keeps acknowledging writes after the standby was
 *   promoted, until the new primary's gratuitous ARP moves the client — the checker reports it as
 *   split brain, and the cluster does not recover (two hubs hold the VIP);
 * - with hubha as shipped: the active hub fences itself before the standby takes over, and the
 *   checker finds nothing (the writes it acknowledged in its last seconds are lost — asynchronous
 *   mode — which the checker reports as information, not as a violation).
 *
 * Synchronous mode needs no such demonstration of its own: there even a hub that does not fence
 * cannot acknowledge a write once its standby is gone, since dropping the standby requires a
 * store write fenced by its lease epoch.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { selfFencingDisabled } from '../../packages/hub/src/agent/unsafe-testing.js';
import type { Schedule } from './faults.js';
import { LabCluster } from './lab-cluster.js';
import { runRound, type RoundResult } from './round.js';
import { permitted } from './scenario.js';

const SCHEDULE: Schedule = { windowMs: 7000, events: [{ kind: 'store-partition', at: 500 }] };

async function oneRound(base: string, subnet: string, unsafe: boolean, recoveryBoundMs: number): Promise<RoundResult> {
  const lc = await LabCluster.start({
    base,
    subnet,
    synchronous: 'off',
    ...(unsafe ? { memberEnv: (name: string): Record<string, string> => (name.startsWith('hub') ? { HUBHA_UNSAFE_TESTING: '1', HUBHA_UNSAFE_DISABLE_FENCING: '1' } : {}) } : {}),
  });
  const dir = await mkdtemp(join(tmpdir(), `${base}-hist-`));
  try {
    const ready = await lc.waitRecovered(60_000);
    await lc.setupWorkload(ready.active);
    return await runRound(lc, { round: 1, schedule: () => SCHEDULE, historyFile: join(dir, 'round-1.jsonl'), recoveryBoundMs, earlierAcks: [], knownViolations: new Set(), knownLost: new Set(), writerLoops: 4 });
  } finally {
    await lc.destroy({ keep: process.env.HUBHA_KEEP === '1' });
    await rm(dir, { recursive: true, force: true });
  }
}

function summary(r: RoundResult): string {
  return `${r.described.join('; ')}: ${r.acks.length} acks, recovery ${r.recoveryMs ?? 'none'}; violations:\n${r.violations.map((v) => `  ${v.kind}: ${v.message}`).join('\n') || '  none'}${r.lostInfo.map((l) => `\n  info: ${l}`).join('')}`;
}

describe('the unsafe switch', () => {
  it('is refused without HUBHA_UNSAFE_TESTING=1, and off unless asked for', () => {
    expect(selfFencingDisabled({})).toBe(false);
    expect(selfFencingDisabled({ HUBHA_UNSAFE_DISABLE_FENCING: '0' })).toBe(false);
    expect(() => selfFencingDisabled({ HUBHA_UNSAFE_DISABLE_FENCING: '1' })).toThrow(/refusing to start.*HUBHA_UNSAFE_TESTING=1/);
    expect(() => selfFencingDisabled({ HUBHA_UNSAFE_DISABLE_FENCING: 'yes', HUBHA_UNSAFE_TESTING: '1' })).toThrow(/must be 1 or unset/);
    expect(selfFencingDisabled({ HUBHA_UNSAFE_DISABLE_FENCING: '1', HUBHA_UNSAFE_TESTING: '1' })).toBe(true);
  });
});

describe.skipIf(!permitted)('the chaos checker on a real cluster', () => {
  it('reports split brain when self-fencing is disabled', { timeout: 90_000 }, async () => {
    const r = await oneRound('hubha-cunsafe', '10.77.31.0/24', true, 12_000);
    console.log(`UNSAFE (self-fencing disabled): ${summary(r)}`);
    const split = r.violations.filter((v) => v.kind === 'stale-primary' || v.kind === 'split-brain');
    expect(split.length).toBeGreaterThan(0);
    expect(split[0]!.message).toMatch(/split brain|overlapping/);
  });

  it('finds nothing in the same round with hubha as shipped', { timeout: 90_000 }, async () => {
    const r = await oneRound('hubha-csafe', '10.77.32.0/24', false, 45_000);
    console.log(`SAFE (as shipped): ${summary(r)}`);
    expect(r.violations).toEqual([]);
    expect(r.final?.active).toBe(r.roles.standby); // it did fail over
  });
});
