import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, cleanupOrphans, labPermitted, ownedPrefix } from '../../../deploy/lab/lab.js';
import { VipManager, VipReconciler } from '../src/vip/index.js';

/**
 * The VIP manager on real interfaces, inside a network-namespace lab (deploy/lab): hub1 and hub2
 * take turns holding 10.77.0.100/24 and the client, on the same bridge, must follow.
 */

const permitted = await (async () => {
  const lab = await labPermitted();
  if (!lab.ok) return lab;
  const arping = spawnSync('arping', ['-V'], { stdio: 'ignore' });
  if (arping.error) return { ok: false as const, reason: 'arping (iputils-arping) is not installed' };
  return lab;
})();
if (!permitted.ok) console.warn(`[vip.test] SKIPPED: ${permitted.reason}`);
const title = permitted.ok ? 'VIP in a network-namespace lab' : `VIP in a network-namespace lab (skipped: ${permitted.reason})`;

const BASE = 'hubha-tvip';
const PORT = 7100;

describe.skipIf(!permitted.ok)(title, () => {
  let lab: Lab;
  let vip: string;
  let cidr: string;
  let vip1: VipManager;
  let vip2: VipManager;
  const tmp = mkdtempSync(join(tmpdir(), 'hubha-vip-lab-'));

  beforeAll(async () => {
    await cleanupOrphans(BASE); // leftovers of crashed earlier runs (not a concurrent run's lab)
    lab = await Lab.create({ prefix: ownedPrefix(BASE), hosts: ['hub1', 'hub2', 'client'], subnet: '10.77.0.0/24' });
    vip = lab.subnetAddress(100);
    cidr = `${vip}/${lab.prefixLength}`;
    const common = { address: cidr, interface: lab.interface, arpingCount: 5, arpingIntervalMs: 200 };
    vip1 = new VipManager({ ...common, netns: lab.namespace('hub1') });
    vip2 = new VipManager({ ...common, netns: lab.namespace('hub2') });
    // Each hub answers its own name on PORT: the client can tell who holds the VIP.
    await Promise.all([lab.startResponder('hub1', PORT), lab.startResponder('hub2', PORT)]);
  });

  afterAll(async () => {
    await vip1?.close();
    await vip2?.close();
    await lab?.destroy();
    rmSync(tmp, { recursive: true, force: true });
  });

  const addrsOn = async (host: string): Promise<string[]> => {
    const r = await lab.exec(host, ['ip', '-j', 'addr', 'show', 'dev', lab.interface]);
    const doc = JSON.parse(r.stdout) as Array<{ addr_info: Array<{ family: string; local: string; prefixlen: number }> }>;
    return (doc[0]?.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
  };
  const whoAnswers = async (): Promise<string | undefined> => {
    const r = await lab.tcpConnect('client', vip, PORT, { timeoutMs: 300 });
    return r.ok ? r.reply : undefined;
  };
  const neighbourMac = async (): Promise<string | undefined> => {
    const r = await lab.exec('client', ['ip', '-j', 'neigh', 'show', vip, 'dev', lab.interface]);
    const doc = JSON.parse(r.stdout || '[]') as Array<{ lladdr?: string }>;
    return doc[0]?.lladdr?.toLowerCase();
  };

  it('adds the VIP on hub1 without waiting for the ARP burst; the client reaches hub1 through it', async () => {
    const t0 = Date.now();
    const o = await vip1.reconcile(true);
    const took = Date.now() - t0;
    expect(o).toMatchObject({ ok: true, action: 'added', held: true });
    expect(took).toBeLessThan(700); // the burst (5 x 200 ms, each arping lingering ~1 s) is not awaited
    expect(vip1.status.announcing).toBe(true);

    expect(await addrsOn('hub1')).toContain(cidr);
    expect(await addrsOn('hub2')).not.toContain(cidr);

    // "ping" at the ARP level (no ICMP ping binary needed): hub1's MAC answers for the VIP.
    const arp = await lab.exec('client', ['arping', '-c', '1', '-w', '2', '-I', lab.interface, vip], { check: false });
    expect(arp.exitCode).toBe(0);
    expect(arp.stdout.toLowerCase()).toContain(lab.mac('hub1'));
    expect(await whoAnswers()).toBe('hub1');

    const report = await vip1.whenAnnounced();
    expect(report).toMatchObject({ sent: 5, failed: 0, cancelled: false });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(800);
  });

  it('moves: released on hub1, added on hub2; the gratuitous ARP repoints the client at once', async () => {
    expect(await neighbourMac()).toBe(lab.mac('hub1'));
    const rel = await vip1.release();
    expect(rel).toMatchObject({ ok: true, action: 'removed', held: false });
    expect(await addrsOn('hub1')).not.toContain(cidr);

    const t0 = Date.now();
    expect(await vip2.reconcile(true)).toMatchObject({ ok: true, action: 'added', held: true });
    // Without the gratuitous ARP the client's entry would stay on hub1's MAC for its reachable
    // time (15..45 s) and hub1 would drop the packets; with it the move takes well under 2 s.
    await until(async () => (await neighbourMac()) === lab.mac('hub2'), 2000);
    await until(async () => (await whoAnswers()) === 'hub2', 2000);
    expect(Date.now() - t0).toBeLessThan(2500);
    expect(await vip2.whenAnnounced()).toMatchObject({ sent: 5, failed: 0 });
  });

  it('is idempotent: repeated calls change nothing and leave one address', async () => {
    for (let i = 0; i < 3; i++) expect(await vip2.reconcile(true)).toMatchObject({ ok: true, action: 'none', held: true });
    expect(await vip1.reconcile(false)).toMatchObject({ ok: true, action: 'none', held: false });
    expect(await vip1.release()).toMatchObject({ ok: true, action: 'none', held: false });
    expect((await addrsOn('hub2')).filter((a) => a.startsWith(`${vip}/`))).toEqual([cidr]);
    expect(await addrsOn('hub1')).toEqual([lab.cidr('hub1')]);
    expect(await vip2.held()).toBe(true);
    expect(await vip1.held()).toBe(false);
    expect(await whoAnswers()).toBe('hub2');
  });

  it('replaces the VIP found with another prefix length', async () => {
    await lab.exec('hub1', ['ip', 'addr', 'add', `${vip}/32`, 'dev', lab.interface]);
    const m = new VipManager({ address: cidr, interface: lab.interface, netns: lab.namespace('hub1'), arpingCount: 0 });
    expect(await m.reconcile(true)).toMatchObject({ ok: true, action: 'added' });
    expect((await addrsOn('hub1')).filter((a) => a.startsWith(`${vip}/`))).toEqual([cidr]);
    expect(await m.release()).toMatchObject({ ok: true, action: 'removed' });
    expect(await addrsOn('hub1')).toEqual([lab.cidr('hub1')]);
    await m.close();
  });

  it('reports a failed add (missing interface, missing namespace, no CAP_NET_ADMIN) as a value', async () => {
    const noIf = new VipManager({ address: cidr, interface: 'nosuch0', netns: lab.namespace('hub1') });
    const a = await noIf.reconcile(true);
    expect(a.ok).toBe(false);
    if (!a.ok) {
      expect(a.error.code).toBe('INTERFACE_MISSING');
      expect(a.error.command?.stderr).toContain('nosuch0');
    }
    expect(await noIf.release()).toMatchObject({ ok: false, error: { code: 'INTERFACE_MISSING' } });

    const noNs = new VipManager({ address: cidr, interface: lab.interface, netns: `${lab.prefix}.nosuch` });
    expect(await noNs.reconcile(true)).toMatchObject({ ok: false, error: { code: 'NETNS_MISSING' } });

    // A real EPERM: `ip` run without CAP_NET_ADMIN (dropped from the bounding set).
    const ipNoCap = join(tmp, 'ip-without-net-admin');
    writeFileSync(ipNoCap, '#!/bin/sh\nexec setpriv --bounding-set=-net_admin -- ip "$@"\n');
    chmodSync(ipNoCap, 0o755);
    const noCap = new VipManager({ address: cidr, interface: lab.interface, netns: lab.namespace('hub1'), ipCommand: ipNoCap });
    const e = await noCap.reconcile(true);
    expect(e).toMatchObject({ ok: false, held: false, error: { code: 'PERMISSION_DENIED' } });
    expect(await addrsOn('hub1')).not.toContain(cidr);

    // A reconciler on a broken manager keeps running and reporting; close() is clean and idempotent.
    const seen: string[] = [];
    const rec = new VipReconciler({ manager: noIf, desired: () => true, intervalMs: 20, onOutcome: (o) => seen.push(o.ok ? 'ok' : o.error.code) }).start();
    await until(async () => seen.length >= 3, 3000);
    await rec.close();
    await rec.close();
    expect(new Set(seen)).toEqual(new Set(['INTERFACE_MISSING']));
    expect(rec.lastOutcome).toMatchObject({ ok: false, error: { code: 'INTERFACE_MISSING' } });
    await Promise.all([noIf.close(), noNs.close(), noCap.close()]);
  });

  it('a reconciler moves the VIP back to hub1 when desire changes', async () => {
    let hub1Wants = false;
    const r1 = new VipReconciler({ manager: vip1, desired: () => hub1Wants, intervalMs: 50 }).start();
    const r2 = new VipReconciler({ manager: vip2, desired: () => !hub1Wants, intervalMs: 50 }).start();
    try {
      await until(async () => (await whoAnswers()) === 'hub2', 2000);
      // Demotion first (release), then the other side's loop picks it up.
      hub1Wants = true;
      await vip2.release();
      r1.kick();
      await until(async () => (await whoAnswers()) === 'hub1', 3000);
      expect(await vip2.held()).toBe(false);
    } finally {
      await Promise.all([r1.close(), r2.close()]);
    }
    await vip1.release();
    expect(await addrsOn('hub1')).toEqual([lab.cidr('hub1')]);
  });
});

async function until(cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`condition not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
