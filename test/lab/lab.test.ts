import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Lab,
  LabError,
  cleanupOrphans,
  cleanupStale,
  isAlive,
  labPermitted,
  listLabNamespaces,
  listNamespaces,
  ownedPrefix,
} from '../../deploy/lab/lab.js';

/**
 * The network-namespace lab itself: what it builds, what destroy() and cleanupStale() leave
 * behind (nothing), and whether the fault primitives cut exactly what they promise, measured
 * with TCP connects with short timeouts from inside the namespaces.
 */

const permitted = await labPermitted();
if (!permitted.ok) console.warn(`[lab.test] SKIPPED: ${permitted.reason}`);
const title = (t: string): string => (permitted.ok ? t : `${t} (skipped: ${permitted.reason})`);

const BASE = 'hubha-tlab';
const CRASH_BASE = 'hubha-tcrash';
const HOSTS = ['hub1', 'hub2', 'witness', 'client'] as const;
const PORT = 7200;
const TIMEOUT = 300;

describe('lab argument checks', () => {
  it.each([
    [{ prefix: 'lab', hosts: ['a'] }, 'must start with "hubha-"'],
    [{ prefix: 'hubha-Lab', hosts: ['a'] }, 'must start with "hubha-"'],
    [{ prefix: 'hubha-a.b', hosts: ['a'] }, 'must start with "hubha-"'],
    [{ prefix: 'hubha-x', hosts: [] }, 'at least one host'],
    [{ prefix: 'hubha-x', hosts: ['br'] }, 'host name "br"'],
    [{ prefix: 'hubha-x', hosts: ['Hub1'] }, 'host name "Hub1"'],
    [{ prefix: 'hubha-x', hosts: ['a-very-long-host'] }, 'host name'],
    [{ prefix: 'hubha-x', hosts: ['a', 'a'] }, 'listed twice'],
    [{ prefix: 'hubha-x', hosts: ['a'], subnet: '8.8.8.0/24' }, 'not inside 10/8'],
    [{ prefix: 'hubha-x', hosts: ['a'], subnet: '10.77.0.1/24' }, 'host bits'],
    [{ prefix: 'hubha-x', hosts: ['a'], subnet: '10.77.0.0/30' }, '16..28'],
  ])('refuses %j', async (options, why) => {
    await expect(Lab.create(options)).rejects.toThrow(why);
  });
});

describe.skipIf(!permitted.ok)(title('lab: build, destroy, faults'), () => {
  let lab: Lab;
  const others = (h: string): string[] => HOSTS.filter((x) => x !== h);

  /** Which hosts `from` reaches over TCP (each host runs a responder answering its name). */
  const reach = async (from: string): Promise<Record<string, boolean>> => {
    const targets = others(from).map((h) => ({ address: lab.address(h), port: PORT }));
    const results = await lab.tcpProbe(from, targets, { timeoutMs: TIMEOUT });
    return Object.fromEntries(others(from).map((h, i) => [h, results[i]?.ok === true && results[i]?.reply === h]));
  };
  const all = (from: string, value: boolean, except: Record<string, boolean> = {}): Record<string, boolean> =>
    Object.fromEntries(others(from).map((h) => [h, except[h] ?? value]));

  beforeAll(async () => {
    await cleanupOrphans(BASE);
    lab = await Lab.create({ prefix: ownedPrefix(BASE), hosts: HOSTS, subnet: '10.77.0.0/24' });
    await Promise.all(HOSTS.map((h) => lab.startResponder(h, PORT)));
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  it('builds one namespace per host plus the bridge, addressed, with no route out', async () => {
    expect((await listLabNamespaces(lab.prefix)).sort()).toEqual([...HOSTS.map((h) => `${lab.prefix}.${h}`), `${lab.prefix}.br`].sort());
    for (const [i, h] of HOSTS.entries()) {
      expect(lab.address(h)).toBe(`10.77.0.${11 + i}`);
      const link = JSON.parse((await lab.exec(h, ['ip', '-j', 'addr', 'show'])).stdout) as Array<{
        ifname: string;
        address: string;
        flags: string[];
        addr_info: Array<{ family: string; local: string; prefixlen: number }>;
      }>;
      expect(link.map((l) => l.ifname).sort()).toEqual(['eth0', 'lo']);
      const eth0 = link.find((l) => l.ifname === 'eth0');
      expect(eth0?.address).toBe(lab.mac(h));
      expect(eth0?.flags).toContain('UP');
      expect(eth0?.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`)).toEqual([lab.cidr(h)]);
      expect(link.find((l) => l.ifname === 'lo')?.flags).toContain('UP');
      // Only the connected route of the lab subnet: no default route, nothing else.
      const routes = JSON.parse((await lab.exec(h, ['ip', '-j', 'route', 'show', 'table', 'main'])).stdout) as Array<{ dst: string }>;
      expect(routes.map((r) => r.dst)).toEqual(['10.77.0.0/24']);
    }
    // Loopback works inside a host.
    expect((await lab.tcpConnect('hub1', '127.0.0.1', PORT)).reply).toBe('hub1');
  });

  it('attach() finds the same lab again from its namespaces', async () => {
    const again = await Lab.attach({ prefix: lab.prefix });
    expect(again.hosts).toEqual(HOSTS);
    expect(again.subnet).toBe('10.77.0.0/24');
    expect(HOSTS.map((h) => again.address(h))).toEqual(HOSTS.map((h) => lab.address(h)));
    await expect(Lab.attach({ prefix: `${lab.prefix}-nope` })).rejects.toMatchObject({ code: 'LAB_MISSING' });
  });

  it('everybody reaches everybody at first', async () => {
    for (const h of HOSTS) expect(await reach(h)).toEqual(all(h, true));
  });

  it('isolate(host) cuts it off both ways, and only it; heal() restores', async () => {
    await lab.isolate('witness');
    expect(await reach('witness')).toEqual(all('witness', false));
    for (const h of others('witness')) expect(await reach(h)).toEqual(all(h, true, { witness: false }));
    await lab.isolate('witness'); // idempotent
    expect(await lab.faults()).toEqual({
      hub1: ['drops everything from witness'],
      hub2: ['drops everything from witness'],
      witness: ['isolated'],
      client: ['drops everything from witness'],
    });
    expect(await reach('client')).toEqual(all('client', true, { witness: false }));
    await lab.heal();
    expect(Object.values(await lab.faults()).flat()).toEqual([]);
    for (const h of HOSTS) expect(await reach(h)).toEqual(all(h, true));
  });

  it('cutOneWay(from, to) drops exactly from->to packets', async () => {
    await lab.cutOneWay('client', 'hub1');
    expect(await lab.faults()).toEqual({ hub1: ['drops IPv4 from client'], hub2: [], witness: [], client: [] });
    // TCP needs both directions: it fails both ways between the two...
    expect(await reach('client')).toEqual(all('client', true, { hub1: false }));
    expect(await reach('hub1')).toEqual(all('hub1', true, { client: false }));
    // ...but hub1's packets still arrive at the client: its SYN leaves a half-open connection
    // there (SYN-RECV) whose SYN-ACK never gets back; the client's SYNs never arrive at hub1.
    const synRecv = async (host: string, peer: string): Promise<boolean> => {
      const r = await lab.exec(host, ['ss', '-Htn', 'state', 'syn-recv', 'dst', lab.address(peer)]);
      return r.stdout.trim() !== '';
    };
    expect(await synRecv('client', 'hub1')).toBe(true);
    expect(await synRecv('hub1', 'client')).toBe(false);
    // The other hosts are untouched.
    expect(await reach('hub2')).toEqual(all('hub2', true));
    expect(await reach('witness')).toEqual(all('witness', true));
    await lab.heal();
    expect(await reach('client')).toEqual(all('client', true));
  });

  it('cutLink(a, b) cuts both directions between a and b only', async () => {
    await lab.cutLink('hub1', 'hub2');
    expect(await reach('hub1')).toEqual(all('hub1', true, { hub2: false }));
    expect(await reach('hub2')).toEqual(all('hub2', true, { hub1: false }));
    expect(await reach('witness')).toEqual(all('witness', true));
    await lab.heal();
    expect(await reach('hub1')).toEqual(all('hub1', true));
  });

  it('netem: total loss on a host, cleared again; delays need sch_netem', async () => {
    await lab.netem('client', { lossPct: 100 });
    expect(await reach('client')).toEqual(all('client', false));
    expect(await reach('hub1')).toEqual(all('hub1', true, { client: false })); // its replies are lost too
    await lab.clearNetem('client');
    expect(await reach('client')).toEqual(all('client', true));
    if (await lab.netemSupported()) {
      await lab.netem('client', { delayMs: 150 });
      const [slow] = await lab.tcpProbe('client', [{ address: lab.address('hub1'), port: PORT }], { timeoutMs: 2000 });
      expect(slow?.ok).toBe(true);
      expect(slow?.ms).toBeGreaterThanOrEqual(140);
      await lab.heal();
    } else {
      await expect(lab.netem('client', { delayMs: 50 })).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    }
    expect(await reach('client')).toEqual(all('client', true));
  });

  it('pause/resume stop and continue a process in the lab, and only there', async () => {
    const r = await lab.startResponder('hub2', PORT + 1, 'paused-one');
    const pid = r.pid as number;
    await lab.pause(pid);
    // The kernel still completes the handshake, but nobody answers.
    const stopped = await lab.tcpConnect('client', lab.address('hub2'), PORT + 1, { timeoutMs: TIMEOUT });
    expect(stopped).toMatchObject({ ok: true, reply: '' });
    await lab.resume(pid);
    expect((await lab.tcpConnect('client', lab.address('hub2'), PORT + 1)).reply).toBe('paused-one');
    await expect(lab.pause(process.pid)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(lab.pause(process.ppid)).rejects.toMatchObject({ code: 'NOT_IN_LAB' });
    await lab.stop(r);
    expect(isAlive(pid)).toBe(false);
  });

  it('refuses a second lab with the same prefix', async () => {
    await expect(Lab.create({ prefix: lab.prefix, hosts: ['a'] })).rejects.toMatchObject({ code: 'LAB_EXISTS' });
    expect(() => lab.address('nobody')).toThrow(LabError);
  });

  it('destroy() ends its processes and leaves no namespace behind; it is idempotent', async () => {
    const pids = lab.children.map((c) => c.pid as number);
    expect(pids.length).toBeGreaterThanOrEqual(HOSTS.length);
    await lab.destroy();
    await lab.destroy();
    expect(await listLabNamespaces(lab.prefix)).toEqual([]);
    expect((await listNamespaces()).filter((n) => n.startsWith(`${lab.prefix}.`))).toEqual([]);
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    await expect(lab.exec('hub1', ['true'])).rejects.toMatchObject({ code: 'DESTROYED' });
  });
});

describe.skipIf(!permitted.ok)(title('lab: leftovers of a crashed harness'), () => {
  const harnessPath = fileURLToPath(new URL('./fixtures/crashing-harness.ts', import.meta.url));
  const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
  let survivor: Lab | undefined;

  afterAll(async () => {
    await survivor?.destroy();
  });

  /** Runs the harness (in its own process, via tsx) until its lab is up, then kills it with SIGKILL. */
  const crash = async (): Promise<{ prefix: string; harness: number; sleeper: number }> => {
    const child = spawn(process.execPath, ['--import', 'tsx', harnessPath, CRASH_BASE], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise((r) => child.once('exit', r));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        let err = '';
        child.stdout.setEncoding('utf8').on('data', (c: string) => {
          out += c;
          if (out.includes('\n')) resolve(out.split('\n')[0] as string);
        });
        child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
        child.once('exit', (code) => reject(new Error(`harness exited (${String(code)}): ${err}`)));
      });
      return JSON.parse(line) as { prefix: string; harness: number; sleeper: number };
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  };

  it('cleanupStale(prefix) kills what still runs inside and deletes every namespace of the prefix', async () => {
    await cleanupOrphans(CRASH_BASE);
    const left = await crash();
    expect(left.prefix).toBe(`${CRASH_BASE}-p${left.harness}`);
    // What a crash leaves: the namespaces and the process running in one of them.
    expect((await listLabNamespaces(left.prefix)).length).toBe(3);
    expect(isAlive(left.sleeper)).toBe(true);

    const deleted = await cleanupStale(left.prefix);
    expect(deleted.sort()).toEqual([`${left.prefix}.br`, `${left.prefix}.hub1`, `${left.prefix}.hub2`]);
    expect(await listLabNamespaces(left.prefix)).toEqual([]);
    expect(isAlive(left.sleeper)).toBe(false);
    expect(await cleanupStale(left.prefix)).toEqual([]); // idempotent
  });

  it('cleanupOrphans(base) removes labs whose owner is dead, not a live one', async () => {
    survivor = await Lab.create({ prefix: ownedPrefix(CRASH_BASE), hosts: ['a'] }); // owner: this (live) process
    const left = await crash();
    expect((await listLabNamespaces(left.prefix)).length).toBe(3);
    const deleted = await cleanupOrphans(CRASH_BASE);
    expect(deleted.sort()).toEqual([`${left.prefix}.br`, `${left.prefix}.hub1`, `${left.prefix}.hub2`]);
    expect(isAlive(left.sleeper)).toBe(false);
    expect((await listLabNamespaces(survivor.prefix)).sort()).toEqual([`${survivor.prefix}.a`, `${survivor.prefix}.br`]);
    await survivor.destroy();
    expect(await listLabNamespaces(survivor.prefix)).toEqual([]);
  });
});

describe.skipIf(!permitted.ok)(title('lab CLI'), () => {
  const cli = fileURLToPath(new URL('../../deploy/lab/cli.ts', import.meta.url));
  const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
  const prefix = ownedPrefix('hubha-tcli');

  afterAll(async () => {
    await cleanupStale(prefix);
  });

  const lab = (...args: string[]): Promise<{ code: number | null; out: string }> =>
    new Promise((resolve) => {
      const c = spawn(process.execPath, ['--import', 'tsx', cli, ...args, '--prefix', prefix], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      c.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
      c.once('exit', (code) => resolve({ code, out }));
    });

  it('up, status, down', async () => {
    await cleanupOrphans('hubha-tcli');
    const up = await lab('up', '--hosts', 'hub1,hub2');
    expect(up.code, up.out).toBe(0);
    expect(up.out).toContain(`${prefix}.hub2`);
    expect(await listLabNamespaces(prefix)).toHaveLength(3); // outlives the CLI process
    await (await Lab.attach({ prefix })).cutOneWay('hub2', 'hub1'); // (the `cut` verb is this call)
    const st = await lab('status');
    expect(st.code).toBe(0);
    expect(st.out).toMatch(/hub1 .*10\.77\.0\.11\/24.*drops IPv4 from hub2/);
    expect((await lab('down')).out).toContain('deleted');
    expect(await listLabNamespaces(prefix)).toEqual([]);
  });
});
