import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  VipError,
  VipManager,
  VipReconciler,
  classifyCommandStderr,
  parseAddrShow,
  parseVipAddress,
  toVipControl,
  validateInterfaceName,
} from '../src/vip/index.js';

describe('VIP address and interface validation', () => {
  it('accepts a host address with its prefix length, canonicalized', () => {
    expect(parseVipAddress('10.77.0.100/24')).toEqual({ address: '10.77.0.100', prefixLength: 24, cidr: '10.77.0.100/24' });
    expect(parseVipAddress('192.168.1.1/32')).toEqual({ address: '192.168.1.1', prefixLength: 32, cidr: '192.168.1.1/32' });
    expect(parseVipAddress('10.0.0.0/31')).toMatchObject({ cidr: '10.0.0.0/31' }); // /31: both addresses usable
  });

  it.each([
    ['10.77.0.100', 'needs a prefix length'],
    ['10.77.0.100/', 'not a number'],
    ['10.77.0.100/33', 'outside 8..32'],
    ['10.77.0.100/7', 'outside 8..32'],
    ['10.77.0.1000/24', 'not an IPv4'],
    ['10.77.0.010/24', 'not an IPv4'],
    ['10.77.0/24', 'not an IPv4'],
    ['10.77.0.0/24', 'network address'],
    ['10.77.0.255/24', 'broadcast address'],
    ['127.0.0.2/8', 'loopback'],
    ['0.1.2.3/24', '0.0.0.0/8'],
    ['224.0.0.5/24', 'multicast'],
    ['169.254.1.1/16', 'link-local'],
    [' 10.77.0.100/24', 'not an IPv4'],
  ])('refuses %j (%s)', (text, why) => {
    const r = parseVipAddress(text);
    expect(typeof r).toBe('string');
    expect(r).toContain(why);
  });

  it('checks interface names like the kernel, a bit stricter', () => {
    for (const ok of ['eth0', 'ens3', 'bond0.100', 'br-lan', 'a', 'x_y', '123456789012345']) expect(validateInterfaceName(ok)).toBeUndefined();
    for (const bad of ['', '-f', 'eth0:1', 'eth 0', 'a/b', '.', '..', '1234567890123456', 'eth0\n']) expect(validateInterfaceName(bad)).toBeTypeOf('string');
  });

  it('the constructor throws INVALID_CONFIG for bad settings', () => {
    const bad: Array<Record<string, unknown>> = [
      { address: '10.77.0.0/24', interface: 'eth0' },
      { address: '10.77.0.100/24', interface: 'eth0:1' },
      { address: '10.77.0.100/24', interface: 'eth0', netns: '../etc' },
      { address: '10.77.0.100/24', interface: 'eth0', arpingCount: -1 },
      { address: '10.77.0.100/24', interface: 'eth0', arpingIntervalMs: 1.5 },
      { address: '10.77.0.100/24', interface: 'eth0', ipCommand: '-x' },
    ];
    for (const options of bad) {
      let caught: unknown;
      try {
        new VipManager(options as never);
      } catch (err) {
        caught = err;
      }
      expect(caught, JSON.stringify(options)).toBeInstanceOf(VipError);
      expect((caught as VipError).code).toBe('INVALID_CONFIG');
    }
  });
});

describe('parsing `ip -j addr show dev IFACE`', () => {
  const sample = JSON.stringify([
    {
      ifindex: 2,
      ifname: 'eth0',
      flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
      mtu: 1500,
      addr_info: [
        { family: 'inet', local: '10.77.0.11', prefixlen: 24, scope: 'global', label: 'eth0' },
        { family: 'inet', local: '10.77.0.100', prefixlen: 24, scope: 'global', secondary: true, label: 'eth0' },
        { family: 'inet6', local: 'fe80::1', prefixlen: 64, scope: 'link' },
      ],
    },
  ]);

  it('extracts the IPv4 addresses and the link flags', () => {
    expect(parseAddrShow(sample, 'eth0')).toEqual({
      ifname: 'eth0',
      up: true,
      lowerUp: true,
      ipv4: [
        { address: '10.77.0.11', prefixLength: 24 },
        { address: '10.77.0.100', prefixLength: 24 },
      ],
    });
  });

  it.each([
    ['not json', 'not JSON'],
    ['{}', 'JSON array'],
    ['[]', 'exactly one interface'],
    [JSON.stringify([{ ifname: 'eth1', flags: [], addr_info: [] }]), 'expected "eth0"'],
    [JSON.stringify([{ ifname: 'eth0', flags: 'UP', addr_info: [] }]), 'flags'],
    [JSON.stringify([{ ifname: 'eth0', flags: [], addr_info: {} }]), 'addr_info'],
    [JSON.stringify([{ ifname: 'eth0', flags: [], addr_info: [{ family: 'inet', local: '10.1.1', prefixlen: 24 }] }]), 'malformed address'],
    [JSON.stringify([{ ifname: 'eth0', flags: [], addr_info: [{ family: 'inet', local: '10.1.1.1', prefixlen: 40 }] }]), 'malformed prefixlen'],
    [JSON.stringify([{ ifname: 'eth0', flags: [], addr_info: [{ local: '10.1.1.1', prefixlen: 24 }] }]), 'without a family'],
  ])('refuses %s', (text, why) => {
    const r = parseAddrShow(text, 'eth0');
    expect(typeof r).toBe('string');
    expect(r).toContain(why);
  });
});

describe('classifying command errors', () => {
  it.each([
    ['RTNETLINK answers: Operation not permitted', 'PERMISSION_DENIED'],
    ['arping: socket: Operation not permitted', 'PERMISSION_DENIED'],
    ['Device "eth9" does not exist.', 'INTERFACE_MISSING'],
    ['Cannot find device "eth9"', 'INTERFACE_MISSING'],
    ['arping: Device eth9 not available.', 'INTERFACE_MISSING'],
    ['Cannot open network namespace "x": No such file or directory', 'NETNS_MISSING'],
    ['Error: something else', 'COMMAND_FAILED'],
  ] as const)('%s -> %s', (stderr, code) => {
    expect(classifyCommandStderr(stderr)).toBe(code);
  });
});

/**
 * A fake `ip`: a shell script that appends its arguments to a log and answers from a state file
 * (whether the VIP is "on" the interface). It lets the ordering rules be tested without a lab.
 */
describe('VipManager against a fake ip', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hubha-vip-'));
  const state = join(dir, 'state');
  const log = join(dir, 'log');
  const ip = join(dir, 'ip');
  const arping = join(dir, 'arping');
  writeFileSync(
    ip,
    `#!/bin/sh
echo "$*" >> ${log}
case "$*" in
  *"addr show"*)
    if [ -f ${state} ]; then a=',{"family":"inet","local":"10.77.0.100","prefixlen":'$(cat ${state})'}'; else a=''; fi
    echo '[{"ifname":"eth0","flags":["UP","LOWER_UP"],"addr_info":[{"family":"inet","local":"10.77.0.11","prefixlen":24}'"$a"']}]' ;;
  *"addr add"*)
    [ -f ${dir}/slow ] && sleep 0.3
    if [ -f ${state} ]; then echo "Error: ipv4: Address already assigned." >&2; exit 2; fi
    echo 24 > ${state} ;;
  *"addr del"*)
    if [ ! -f ${state} ] || [ "$(cat ${state})" != "\${3#*/}" ]; then echo "Error: ipv4: Address not found." >&2; exit 2; fi
    rm -f ${state} ;;
esac
`,
  );
  writeFileSync(arping, `#!/bin/sh\necho "arping $*" >> ${log}\nsleep 1\n`);
  chmodSync(ip, 0o755);
  chmodSync(arping, 0o755);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const reset = (): void => {
    rmSync(state, { force: true });
    writeFileSync(log, '');
  };
  const make = (extra: Record<string, unknown> = {}): VipManager =>
    new VipManager({ address: '10.77.0.100/24', interface: 'eth0', ipCommand: ip, arpingCommand: arping, arpingCount: 3, arpingIntervalMs: 50, ...extra });

  it('adds, announces in the background, and is idempotent', async () => {
    reset();
    const vip = make();
    const t0 = Date.now();
    const a = await vip.reconcile(true);
    expect(a).toMatchObject({ ok: true, action: 'added', held: true });
    expect(Date.now() - t0).toBeLessThan(900); // the 3 arpings take >= 1.1 s together
    expect(vip.status.announcing).toBe(true);
    const b = await vip.reconcile(true);
    expect(b).toMatchObject({ ok: true, action: 'none', held: true });
    const report = await vip.whenAnnounced();
    expect(report).toEqual({ sent: 3, failed: 0, cancelled: false, errors: [] });
    expect(vip.status.announcing).toBe(false);
    expect(await vip.held()).toBe(true);
    await vip.close();
  });

  it('release deletes first, in one command, and stops the ARP burst', async () => {
    reset();
    const vip = make({ arpingCount: 5, arpingIntervalMs: 200 });
    await vip.reconcile(true);
    writeFileSync(log, '');
    const r = await vip.release();
    expect(r).toMatchObject({ ok: true, action: 'removed', held: false });
    const report = await vip.whenAnnounced();
    expect(report?.cancelled).toBe(true);
    const { readFileSync } = await import('node:fs');
    // (arpings of the burst log to the same file; only the `ip` lines matter here)
    const lines = readFileSync(log, 'utf8').trim().split('\n').filter((l) => !l.startsWith('arping'));
    expect(lines[0]).toBe('addr del 10.77.0.100/24 dev eth0'); // nothing before the delete
    expect(await vip.release()).toMatchObject({ ok: true, action: 'none', held: false }); // idempotent
    await vip.close();
  });

  it('an add requested before a release does not survive it', async () => {
    reset();
    const vip = make();
    writeFileSync(join(dir, 'slow'), ''); // the runner passes no environment through: a file it is
    try {
      const add = vip.reconcile(true); // its `ip addr add` is in flight when release() arrives
      await new Promise((r) => setTimeout(r, 100));
      const rel = await vip.release();
      expect(rel.ok).toBe(true);
      const a = await add;
      expect(a).toMatchObject({ ok: true, superseded: true, held: false });
      expect(await vip.held()).toBe(false);
      // Queued but not yet started: void as well.
      const queued = [vip.reconcile(true), vip.reconcile(true)];
      expect(await vip.release()).toMatchObject({ ok: true, action: 'none' });
      for (const q of await Promise.all(queued)) expect(q).toMatchObject({ superseded: true });
      expect(await vip.held()).toBe(false);
      // A later request is honoured again.
      expect(await vip.reconcile(true)).toMatchObject({ ok: true, action: 'added' });
    } finally {
      rmSync(join(dir, 'slow'), { force: true });
      await vip.release();
      await vip.close();
    }
  });

  it('replaces the address found with another prefix length', async () => {
    reset();
    writeFileSync(state, '32\n');
    const vip = make({ arpingCount: 0 });
    expect(await vip.reconcile(true)).toMatchObject({ ok: true, action: 'added' });
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(log, 'utf8')).toContain('addr del 10.77.0.100/32 dev eth0');
    expect(readFileSync(state, 'utf8').trim()).toBe('24');
    expect(await vip.reconcile(false)).toMatchObject({ ok: true, action: 'removed' });
    await vip.close();
  });

  it('reports a missing binary as a value, never throws', async () => {
    const vip = new VipManager({ address: '10.77.0.100/24', interface: 'eth0', ipCommand: join(dir, 'no-such-ip') });
    const o = await vip.reconcile(true);
    expect(o.ok).toBe(false);
    if (!o.ok) expect(o.error.code).toBe('COMMAND_MISSING');
    const r = await vip.release();
    expect(r.ok).toBe(false);
    expect(vip.status.lastError?.code).toBe('COMMAND_MISSING');
    await vip.close();
    await vip.close(); // idempotent
    expect(await vip.reconcile(true)).toMatchObject({ ok: false, error: { code: 'CLOSED' } });
  });

  it('toVipControl adapts the outcome to the agent shape', async () => {
    reset();
    const ctl = toVipControl(make({ arpingCount: 0 }));
    expect(await ctl.reconcile(true)).toEqual({ held: true, error: null });
    await ctl.release();
    expect(await ctl.reconcile(false)).toEqual({ held: false, error: null });
    const broken = toVipControl(new VipManager({ address: '10.77.0.100/24', interface: 'eth0', ipCommand: join(dir, 'nope') }));
    const r = await broken.reconcile(true);
    expect(r.held).toBe(false);
    expect(r.error).toMatch(/^COMMAND_MISSING: /);
    await expect(broken.release()).rejects.toBeInstanceOf(VipError);
  });

  it('VipReconciler follows desired(), treats a throwing desired() as false, closes cleanly', async () => {
    reset();
    const vip = make({ arpingCount: 0 });
    let want: boolean | 'throw' = true;
    const outcomes: string[] = [];
    const rec = new VipReconciler({
      manager: vip,
      intervalMs: 20,
      desired: () => {
        if (want === 'throw') throw new Error('boom');
        return want;
      },
      onOutcome: (o) => outcomes.push(o.ok ? o.action : o.error.code),
    }).start();
    await until(() => vip.status.held === true);
    want = false;
    await until(() => vip.status.held === false);
    want = true;
    rec.kick();
    await until(() => vip.status.held === true);
    want = 'throw';
    await until(() => vip.status.held === false);
    await rec.close();
    await rec.close();
    const n = rec.rounds;
    await new Promise((r) => setTimeout(r, 100));
    expect(rec.rounds).toBe(n); // stopped
    expect(outcomes).toContain('added');
    expect(outcomes).toContain('removed');
    await vip.close();
  });
});

async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
