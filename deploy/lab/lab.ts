import { spawn, execFileSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { LabError } from './errors.js';
import {
  BRIDGE_HOST,
  BRIDGE_IFACE,
  HOST_IFACE,
  HOST_OFFSET,
  bridgePort,
  hostMac,
  intToIpv4,
  ipv4ToInt,
  namespaceName,
  parseSubnet,
  subnetAddress,
  validateHostName,
  validatePrefix,
  type Subnet,
} from './names.js';
import { PROBER_JS, RESPONDER_JS, type TcpProbeResult, type TcpTarget } from './probes.js';
import { run, type RunOptions, type RunResult } from './run.js';
import { dropAllFilter, dropFromMacFilter, dropQdiscCommands, randomLossFilter } from './tc.js';

export { LabError, type LabErrorCode } from './errors.js';
export type { RunResult as LabExecResult } from './run.js';
export type { TcpProbeResult, TcpTarget } from './probes.js';

export const DEFAULT_LAB_HOSTS: readonly string[] = ['hub1', 'hub2', 'witness', 'client'];
export const DEFAULT_LAB_SUBNET = '10.77.0.0/24';

export interface LabOptions {
  /** Starts with `hubha-`; every namespace of the lab is `${prefix}.<host>` (bridge: `${prefix}.br`). */
  readonly prefix: string;
  /** Host names, in address order: the i-th gets subnet address 11 + i. */
  readonly hosts: readonly string[];
  /** Default 10.77.0.0/24. */
  readonly subnet?: string;
  /** Remove an existing lab with this prefix first (default: refuse with LAB_EXISTS). */
  readonly replaceExisting?: boolean;
  /**
   * Kill the lab's processes and delete its namespaces when this process exits without having
   * called destroy() (default true). `lab up` turns it off: the lab is meant to outlive it.
   */
  readonly cleanupOnExit?: boolean;
}

export interface LabExecOptions {
  readonly timeoutMs?: number;
  /** Throw a LabError on a non-zero exit (default true). */
  readonly check?: boolean;
  readonly env?: NodeJS.ProcessEnv;
  readonly input?: string;
}

export interface LabSpawnOptions {
  /** Default ['ignore', 'pipe', 'pipe']. */
  readonly stdio?: StdioOptions;
  readonly env?: NodeJS.ProcessEnv;
}

export interface NetemOptions {
  readonly delayMs?: number;
  readonly jitterMs?: number;
  readonly lossPct?: number;
}

interface Prober {
  readonly child: ChildProcess;
  readonly pending: Map<number, { resolve: (r: TcpProbeResult[]) => void; reject: (e: Error) => void }>;
}

/** Filter priorities on a bridge port (the port that leads to the host being cut off). */
const PREF_ISOLATE_IN = 10;
const PREF_CUT_IP = 100; // + index of the sender: one-way cut (IPv4 only)
const PREF_CUT_ALL = 1000; // + index of the sender: isolate()'s "nothing from it" (all protocols)
const PREF_LOSS = 20;

/**
 * A lab of network namespaces on one machine: one namespace per host, joined by a bridge that
 * lives in its own namespace, with veth pairs, addresses from a private subnet and loopback up.
 * Nothing is created outside namespaces named `${prefix}.*`: no host interface, route or
 * firewall rule is touched, there is no default route and no way out of the subnet.
 *
 * Faults are `tc` filters on the bridge ports (see tc.ts and README.md): packets are dropped
 * silently by the "switch", the hosts see no link change.
 */
export class Lab {
  readonly prefix: string;
  readonly hosts: readonly string[];
  readonly subnet: string;
  readonly prefixLength: number;
  /** Name of the bridge's namespace. */
  readonly bridgeNamespace: string;
  /** The host-side interface in every host namespace. */
  readonly interface = HOST_IFACE;

  readonly #subnet: Subnet;
  readonly #children = new Set<ChildProcess>();
  readonly #paused = new Set<number>();
  #destroyed: Promise<void> | undefined;
  #exitHook: (() => void) | undefined;
  #faults: Promise<void> = Promise.resolve();
  #netemSupported: boolean | undefined;
  readonly #probers = new Map<string, Prober>();
  #probeSeq = 0;

  private constructor(prefix: string, hosts: readonly string[], subnet: Subnet) {
    this.prefix = prefix;
    this.hosts = [...hosts];
    this.#subnet = subnet;
    this.subnet = subnet.text;
    this.prefixLength = subnet.prefixLength;
    this.bridgeNamespace = namespaceName(prefix, BRIDGE_HOST);
  }

  /** Builds the lab. Throws NOT_PERMITTED if network namespaces cannot be created here. */
  static async create(options: LabOptions): Promise<Lab> {
    const lab = Lab.#validated(options);
    const existing = await listLabNamespaces(lab.prefix);
    if (existing.length > 0) {
      if (!options.replaceExisting) {
        throw new LabError('LAB_EXISTS', `namespaces of lab ${lab.prefix} exist already (${existing.join(', ')}); run cleanupStale("${lab.prefix}") or "lab down"`);
      }
      await cleanupStale(lab.prefix);
    }
    // The first namespace doubles as the permission check.
    try {
      await run(['ip', 'netns', 'add', lab.bridgeNamespace]);
    } catch (err) {
      if (err instanceof LabError && err.code === 'NOT_PERMITTED') {
        throw new LabError('NOT_PERMITTED', `cannot create network namespaces here (needs root / CAP_SYS_ADMIN): ${err.message}`, { cause: err });
      }
      if (err instanceof LabError && /File exists/.test(err.command?.stderr ?? '')) {
        throw new LabError('LAB_EXISTS', `namespace ${lab.bridgeNamespace} was created concurrently`, { cause: err });
      }
      throw err;
    }
    if (options.cleanupOnExit !== false) lab.#installExitHook();
    try {
      await lab.#build();
    } catch (err) {
      await lab.destroy().catch(() => undefined);
      throw err;
    }
    return lab;
  }

  /**
   * A handle on a lab created earlier (by `lab up`, say). Without `hosts`/`subnet` they are read
   * back from the namespaces (each host's eth0 address gives its place in the order). Checks that
   * every namespace exists and each host has its address. Processes it spawns are its own;
   * destroy() removes the whole lab.
   */
  static async attach(options: { readonly prefix: string; readonly hosts?: readonly string[]; readonly subnet?: string }): Promise<Lab> {
    validatePrefix(options.prefix);
    const names = await listLabNamespaces(options.prefix);
    let hosts = options.hosts;
    let subnet = options.subnet;
    if (hosts === undefined || subnet === undefined) {
      const found = await discoverHosts(options.prefix, names);
      hosts ??= found.hosts;
      subnet ??= found.subnet;
    }
    const lab = Lab.#validated({ prefix: options.prefix, hosts, subnet });
    const existing = new Set(names);
    const missing = [lab.bridgeNamespace, ...lab.hosts.map((h) => lab.namespace(h))].filter((n) => !existing.has(n));
    if (missing.length > 0) throw new LabError('LAB_MISSING', `lab ${lab.prefix}: missing namespaces ${missing.join(', ')}`);
    for (const h of lab.hosts) {
      const r = await run(['ip', '-n', lab.namespace(h), '-j', 'addr', 'show', 'dev', HOST_IFACE], { check: false });
      if (r.exitCode !== 0 || !r.stdout.includes(`"${lab.address(h)}"`)) {
        throw new LabError('LAB_MISSING', `lab ${lab.prefix}: ${h} does not have ${lab.address(h)} on ${HOST_IFACE}`);
      }
    }
    return lab;
  }

  static #validated(options: Pick<LabOptions, 'prefix' | 'hosts' | 'subnet'>): Lab {
    validatePrefix(options.prefix);
    if (!Array.isArray(options.hosts) || options.hosts.length === 0) throw new LabError('INVALID_ARGUMENT', 'a lab needs at least one host');
    const seen = new Set<string>();
    for (const h of options.hosts) {
      validateHostName(h);
      if (seen.has(h)) throw new LabError('INVALID_ARGUMENT', `host ${h} listed twice`);
      seen.add(h);
    }
    const subnet = parseSubnet(options.subnet ?? DEFAULT_LAB_SUBNET);
    if (HOST_OFFSET + options.hosts.length > subnet.size - 2) {
      throw new LabError('INVALID_ARGUMENT', `${options.hosts.length} hosts do not fit in ${subnet.text} (hosts start at offset ${HOST_OFFSET})`);
    }
    return new Lab(options.prefix, options.hosts, subnet);
  }

  // ---- names and addresses --------------------------------------------------------------------

  namespace(host: string): string {
    this.#index(host);
    return namespaceName(this.prefix, host);
  }

  /** The host's address (no prefix length). */
  address(host: string): string {
    return subnetAddress(this.#subnet, HOST_OFFSET + this.#index(host));
  }

  /** The host's address with the prefix length, as configured on its eth0. */
  cidr(host: string): string {
    return `${this.address(host)}/${this.prefixLength}`;
  }

  mac(host: string): string {
    return hostMac(this.#index(host));
  }

  /**
   * Any other address of the subnet, for VIPs: `subnetAddress(100)` is 10.77.0.100 in
   * 10.77.0.0/24. Hosts use offsets 11, 12, …; offsets from 100 up are never given to hosts by
   * default-sized labs.
   */
  subnetAddress(offset: number): string {
    return subnetAddress(this.#subnet, offset);
  }

  // ---- running things -------------------------------------------------------------------------

  /** Runs argv inside the host's namespace (`ip netns exec NS argv…`, no shell) and waits. */
  async exec(host: string, argv: readonly string[], options: LabExecOptions = {}): Promise<RunResult> {
    this.#checkAlive();
    checkArgv(argv);
    const runOptions: RunOptions = {
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(options.check === undefined ? {} : { check: options.check }),
      ...(options.env === undefined ? {} : { env: options.env }),
      ...(options.input === undefined ? {} : { input: options.input }),
    };
    return run(['ip', 'netns', 'exec', this.namespace(host), ...argv], runOptions);
  }

  /**
   * Starts a long-running process inside the host's namespace and returns it. `ip netns exec`
   * execs the command in place, so `child.pid` is the command's own PID. The lab tracks it and
   * ends it (by PID) in destroy(). stdout/stderr are pipes by default: read them (a chatty
   * process blocks once a pipe is full) or pass `stdio`.
   */
  spawn(host: string, argv: readonly string[], options: LabSpawnOptions = {}): ChildProcess {
    this.#checkAlive();
    checkArgv(argv);
    const child = spawn('ip', ['netns', 'exec', this.namespace(host), ...argv], {
      stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'],
      env: options.env ?? process.env,
    });
    this.#children.add(child);
    child.once('exit', () => {
      this.#children.delete(child);
      if (child.pid !== undefined) this.#paused.delete(child.pid);
    });
    child.on('error', () => this.#children.delete(child));
    return child;
  }

  /** SIGTERM, then SIGKILL after `graceMs` (default 2000); resolves when it has exited. */
  async stop(child: ChildProcess, graceMs = 2000): Promise<void> {
    await stopChild(child, graceMs);
  }

  /** Processes spawned by this lab that are still running. */
  get children(): readonly ChildProcess[] {
    return [...this.#children];
  }

  /** Starts a TCP server in `host` on 0.0.0.0:port that answers `reply` (default: the host name) and closes. */
  async startResponder(host: string, port: number, reply: string = host): Promise<ChildProcess> {
    checkPort(port);
    const child = this.spawn(host, [process.execPath, '-e', RESPONDER_JS, '--', String(port), reply]);
    try {
      await waitForLine(child, 'listening', 5000);
      child.stdout?.resume();
      child.stderr?.resume();
    } catch (err) {
      await stopChild(child, 0);
      throw err;
    }
    return child;
  }

  /**
   * Connects from `from` to every target at once, each with `timeoutMs` (default 500). Runs in a
   * prober process kept per host (started on first use, ended by destroy()).
   */
  async tcpProbe(from: string, targets: readonly TcpTarget[], options: { timeoutMs?: number } = {}): Promise<TcpProbeResult[]> {
    const timeoutMs = options.timeoutMs ?? 500;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 60_000) throw new LabError('INVALID_ARGUMENT', `bad timeoutMs ${timeoutMs}`);
    for (const t of targets) checkPort(t.port);
    if (targets.length === 0) return [];
    const prober = this.#prober(from);
    const id = ++this.#probeSeq;
    return new Promise<TcpProbeResult[]>((resolve, reject) => {
      prober.pending.set(id, { resolve, reject });
      prober.child.stdin?.write(`${JSON.stringify({ id, targets: targets.map((t) => ({ address: t.address, port: t.port })), timeoutMs })}\n`);
    });
  }

  #prober(host: string): Prober {
    const existing = this.#probers.get(host);
    if (existing) return existing;
    const child = this.spawn(host, [process.execPath, '-e', PROBER_JS], { stdio: ['pipe', 'pipe', 'pipe'] });
    const prober: Prober = { child, pending: new Map() };
    this.#probers.set(host, prober);
    let buf = '';
    let err = '';
    child.stdout?.setEncoding('utf8').on('data', (c: string) => {
      buf += c;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const msg = JSON.parse(line) as { id: number; results: TcpProbeResult[] };
        const p = prober.pending.get(msg.id);
        prober.pending.delete(msg.id);
        p?.resolve(msg.results);
      }
    });
    child.stderr?.setEncoding('utf8').on('data', (c: string) => {
      err = (err + c).slice(-2000);
    });
    child.stdin?.on('error', () => undefined);
    child.once('exit', (code, signal) => {
      if (this.#probers.get(host) === prober) this.#probers.delete(host);
      for (const p of prober.pending.values()) p.reject(new LabError('COMMAND_FAILED', `prober in ${host} exited (${String(code ?? signal)}): ${err.trim()}`));
      prober.pending.clear();
    });
    return prober;
  }

  async tcpConnect(from: string, address: string, port: number, options: { timeoutMs?: number } = {}): Promise<TcpProbeResult> {
    const [r] = await this.tcpProbe(from, [{ address, port }], options);
    return r as TcpProbeResult;
  }

  // ---- faults ---------------------------------------------------------------------------------

  /**
   * Cuts `host` off completely, both ways: nothing reaches it (not even ARP) and nothing it sends
   * reaches anyone. Its processes keep running and see no link change.
   */
  isolate(host: string): Promise<void> {
    const i = this.#index(host);
    return this.#fault(async () => {
      await this.#replaceFilter(host, PREF_ISOLATE_IN, (tc, dev, pref) => dropAllFilter(tc, dev, pref));
      for (const other of this.hosts) {
        if (other === host) continue;
        await this.#replaceFilter(other, PREF_CUT_ALL + i, (tc, dev, pref) => dropFromMacFilter(tc, dev, pref, this.mac(host), 'all'));
      }
    });
  }

  /**
   * One-way cut: no IPv4 packet sent by `from` reaches `to` (whatever the destination address,
   * the VIP included); `to`'s packets still reach `from`. ARP is left alone so that the open
   * direction keeps resolving addresses (otherwise it would close too once the cache expires).
   * A TCP connection needs both directions, so TCP fails both ways; UDP from `to` still arrives.
   */
  cutOneWay(from: string, to: string): Promise<void> {
    const i = this.#index(from);
    this.#index(to);
    if (from === to) return Promise.reject(new LabError('INVALID_ARGUMENT', 'cutOneWay needs two different hosts'));
    return this.#fault(() => this.#replaceFilter(to, PREF_CUT_IP + i, (tc, dev, pref) => dropFromMacFilter(tc, dev, pref, this.mac(from), 'ip')));
  }

  /** Both one-way cuts between a and b. */
  async cutLink(a: string, b: string): Promise<void> {
    await this.cutOneWay(a, b);
    await this.cutOneWay(b, a);
  }

  /** Removes every cut and isolation, and every netem setting: the network as created. */
  heal(): Promise<void> {
    return this.#fault(async () => {
      for (const h of this.hosts) {
        await run(['tc', '-n', this.bridgeNamespace, 'filter', 'del', 'dev', bridgePort(h), 'parent', '1:'], { check: false });
        await this.#clearEgress(h);
      }
    });
  }

  /**
   * Delay and loss on the host's outgoing packets (its eth0 egress): with sch_netem when the
   * kernel has it. Without it (some VM kernels) loss is emulated by a random-drop BPF classifier
   * and a delay is refused with UNSUPPORTED (see netemSupported()). All zero: back to normal.
   */
  netem(host: string, options: NetemOptions): Promise<void> {
    this.#index(host);
    const delayMs = options.delayMs ?? 0;
    const jitterMs = options.jitterMs ?? 0;
    const lossPct = options.lossPct ?? 0;
    for (const [name, v, max] of [['delayMs', delayMs, 60_000], ['jitterMs', jitterMs, 60_000], ['lossPct', lossPct, 100]] as const) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > max) return Promise.reject(new LabError('INVALID_ARGUMENT', `${name} must be within 0..${max}, got ${v}`));
    }
    return this.#fault(async () => {
      const ns = this.namespace(host);
      const netem = await this.#probeNetem();
      if (!netem && (delayMs > 0 || jitterMs > 0)) {
        throw new LabError('UNSUPPORTED', 'this kernel has no sch_netem: delays cannot be emulated (loss alone can)');
      }
      await this.#clearEgress(host);
      if (delayMs === 0 && jitterMs === 0 && lossPct === 0) return;
      if (netem) {
        const args = ['tc', '-n', ns, 'qdisc', 'replace', 'dev', HOST_IFACE, 'root', 'netem'];
        if (delayMs > 0 || jitterMs > 0) args.push('delay', `${delayMs}ms`, ...(jitterMs > 0 ? [`${jitterMs}ms`] : []));
        if (lossPct > 0) args.push('loss', `${lossPct}%`);
        await run(args);
        return;
      }
      const tc = ['tc', '-n', ns];
      for (const cmd of dropQdiscCommands(tc, HOST_IFACE)) await run(cmd);
      await run(randomLossFilter(tc, HOST_IFACE, PREF_LOSS, lossPct));
    });
  }

  /** Back to no delay and no loss on the host's egress. */
  clearNetem(host: string): Promise<void> {
    this.#index(host);
    return this.#fault(() => this.#clearEgress(host));
  }

  /** Whether the kernel has sch_netem (delays possible). */
  netemSupported(): Promise<boolean> {
    return this.#probeNetem();
  }

  /**
   * The faults in place, per host, in words: "isolated", "drops IPv4 from client", "egress:
   * netem delay 50ms", "egress: random loss". Read from the kernel, so it also describes a lab
   * someone else changed (e.g. with the CLI).
   */
  async faults(): Promise<Record<string, string[]>> {
    const out: Record<string, string[]> = {};
    for (const h of this.hosts) {
      const list: string[] = [];
      const f = await run(['tc', '-n', this.bridgeNamespace, 'filter', 'show', 'dev', bridgePort(h), 'parent', '1:'], { check: false });
      const prefs = new Set([...f.stdout.matchAll(/\bpref (\d+)\b/g)].map((m) => Number(m[1])));
      for (const pref of [...prefs].sort((a, b) => a - b)) {
        if (pref === PREF_ISOLATE_IN) list.push('isolated');
        else if (pref >= PREF_CUT_ALL) list.push(`drops everything from ${this.hosts[pref - PREF_CUT_ALL] ?? `host #${pref - PREF_CUT_ALL}`}`);
        else if (pref >= PREF_CUT_IP) list.push(`drops IPv4 from ${this.hosts[pref - PREF_CUT_IP] ?? `host #${pref - PREF_CUT_IP}`}`);
        else list.push(`filter pref ${pref}`);
      }
      const q = await run(['tc', '-n', this.namespace(h), 'qdisc', 'show', 'dev', HOST_IFACE], { check: false });
      const netem = /qdisc netem \S+ root.*?(delay [^\n]*?|loss [^\n]*?)$/m.exec(q.stdout);
      if (netem) list.push(`egress: netem ${(netem[1] ?? '').trim()}`);
      else if (/qdisc htb 1: root/.test(q.stdout)) list.push('egress: random loss (bpf)');
      out[h] = list;
    }
    return out;
  }

  /** SIGSTOP a process that lives in one of this lab's namespaces. */
  async pause(pid: number): Promise<void> {
    await this.#checkInLab(pid);
    process.kill(pid, 'SIGSTOP');
    this.#paused.add(pid);
  }

  /** SIGCONT it. */
  async resume(pid: number): Promise<void> {
    await this.#checkInLab(pid);
    process.kill(pid, 'SIGCONT');
    this.#paused.delete(pid);
  }

  // ---- teardown -------------------------------------------------------------------------------

  /**
   * Ends every process the lab spawned (SIGCONT + SIGTERM, SIGKILL after 1.5 s), then every
   * process still inside its namespaces (SIGKILL), then deletes the namespaces (the veths and the
   * bridge go with them). Idempotent.
   */
  destroy(): Promise<void> {
    if (!this.#destroyed) {
      this.#destroyed = (async () => {
        await Promise.all([...this.#children].map((c) => stopChild(c, 1500)));
        await cleanupStale(this.prefix);
        this.#removeExitHook();
      })();
    }
    return this.#destroyed;
  }

  /** Forget the lab without removing it (`lab up`): no exit hook; spawned processes stay. */
  detach(): void {
    this.#removeExitHook();
    this.#children.clear();
  }

  // ---- internals ------------------------------------------------------------------------------

  #index(host: string): number {
    const i = this.hosts.indexOf(host);
    if (i < 0) throw new LabError('UNKNOWN_HOST', `no host ${JSON.stringify(host)} in lab ${this.prefix} (hosts: ${this.hosts.join(', ')})`);
    return i;
  }

  #checkAlive(): void {
    if (this.#destroyed) throw new LabError('DESTROYED', `lab ${this.prefix} was destroyed`);
  }

  async #build(): Promise<void> {
    const br = this.bridgeNamespace;
    await this.#prepareNamespace(br);
    await run(['ip', '-n', br, 'link', 'add', BRIDGE_IFACE, 'type', 'bridge', 'stp_state', '0', 'mcast_snooping', '0']);
    await run(['ip', '-n', br, 'link', 'set', BRIDGE_IFACE, 'up']);
    await Promise.all(
      this.hosts.map(async (h) => {
        const ns = this.namespace(h);
        const port = bridgePort(h);
        await run(['ip', 'netns', 'add', ns]);
        await this.#prepareNamespace(ns);
        await run(['ip', '-n', br, 'link', 'add', port, 'type', 'veth', 'peer', 'name', HOST_IFACE, 'netns', ns]);
        await run(['ip', '-n', br, 'link', 'set', port, 'master', BRIDGE_IFACE]);
        for (const cmd of dropQdiscCommands(['tc', '-n', br], port)) await run(cmd);
        await run(['ip', '-n', br, 'link', 'set', port, 'up']);
        await run(['ip', '-n', ns, 'link', 'set', HOST_IFACE, 'address', this.mac(h)]);
        await run(['ip', '-n', ns, 'addr', 'add', this.cidr(h), 'dev', HOST_IFACE]);
        await run(['ip', '-n', ns, 'link', 'set', HOST_IFACE, 'up']);
      }),
    );
  }

  /** Loopback up; IPv6 off (no link-local chatter, DAD or router solicitations in the lab). */
  async #prepareNamespace(ns: string): Promise<void> {
    const keys = ['net.ipv6.conf.all.disable_ipv6', 'net.ipv6.conf.default.disable_ipv6'];
    const r = await run(['ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w', ...keys.map((k) => `${k}=1`)], { check: false });
    if (r.exitCode !== 0) {
      // No sysctl (procps) here: the same writes with Node. /proc/sys/net is the namespace's own.
      const files = keys.map((k) => `/proc/sys/${k.replace(/\./g, '/')}`);
      await run(['ip', 'netns', 'exec', ns, process.execPath, '-e', `for (const f of ${JSON.stringify(files)}) require('node:fs').writeFileSync(f, '1')`]);
    }
    await run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
  }

  /** Fault operations run one at a time (their filter replacements must not interleave). */
  #fault(fn: () => Promise<void>): Promise<void> {
    this.#checkAlive();
    const p = this.#faults.then(fn);
    this.#faults = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  /** Deletes the filters with `pref` on the port leading to `toHost`, then adds the new one. */
  async #replaceFilter(toHost: string, pref: number, build: (tc: string[], dev: string, pref: number) => string[]): Promise<void> {
    const tc = ['tc', '-n', this.bridgeNamespace];
    const dev = bridgePort(toHost);
    await run([...tc, 'filter', 'del', 'dev', dev, 'parent', '1:', 'pref', String(pref)], { check: false });
    await run(build(tc, dev, pref));
  }

  async #clearEgress(host: string): Promise<void> {
    await run(['tc', '-n', this.namespace(host), 'qdisc', 'del', 'dev', HOST_IFACE, 'root'], { check: false });
  }

  async #probeNetem(): Promise<boolean> {
    if (this.#netemSupported === undefined) {
      // On the bridge namespace's loopback: local to the lab, and nothing uses it.
      const ns = this.bridgeNamespace;
      const r = await run(['tc', '-n', ns, 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms'], { check: false });
      this.#netemSupported = r.exitCode === 0;
      if (this.#netemSupported) await run(['tc', '-n', ns, 'qdisc', 'del', 'dev', 'lo', 'root'], { check: false });
    }
    return this.#netemSupported;
  }

  async #checkInLab(pid: number): Promise<void> {
    if (!Number.isSafeInteger(pid) || pid <= 1 || pid === process.pid) throw new LabError('INVALID_ARGUMENT', `bad pid ${pid}`);
    const r = await run(['ip', 'netns', 'identify', String(pid)], { check: false });
    const names = r.stdout.split('\n').map((s) => s.trim()).filter(Boolean);
    if (!names.some((n) => n.startsWith(`${this.prefix}.`))) {
      throw new LabError('NOT_IN_LAB', `process ${pid} does not live in a namespace of lab ${this.prefix}`);
    }
  }

  #installExitHook(): void {
    const hook = (): void => {
      // Synchronous last resort when destroy() was not called: tracked children by PID, then
      // whatever lives in our namespaces, then the namespaces.
      for (const c of this.#children) {
        if (c.pid !== undefined) killQuietly(c.pid, 'SIGKILL');
      }
      try {
        cleanupStaleSync(this.prefix);
      } catch {
        /* exiting anyway */
      }
    };
    this.#exitHook = hook;
    process.once('exit', hook);
  }

  #removeExitHook(): void {
    if (this.#exitHook) process.removeListener('exit', this.#exitHook);
    this.#exitHook = undefined;
  }
}

// ---- stale labs -------------------------------------------------------------------------------

/** Names of the namespaces of lab `prefix` (`${prefix}.*`), from `ip netns list`. */
export async function listLabNamespaces(prefix: string): Promise<string[]> {
  validatePrefix(prefix);
  return (await listNamespaces()).filter((n) => n.startsWith(`${prefix}.`));
}

/** Reads hosts (in address order) and the subnet back from a lab's namespaces. */
async function discoverHosts(prefix: string, names: readonly string[]): Promise<{ hosts: string[]; subnet: string }> {
  const found: Array<{ host: string; addr: number; prefixLength: number }> = [];
  for (const ns of names) {
    const host = ns.slice(prefix.length + 1);
    if (host === BRIDGE_HOST) continue;
    const r = await run(['ip', '-n', ns, '-j', 'addr', 'show', 'dev', HOST_IFACE], { check: false });
    const m = /"family":"inet","local":"([0-9.]+)","prefixlen":(\d+)/.exec(r.stdout);
    const addr = m ? ipv4ToInt(m[1] as string) : undefined;
    if (!m || addr === undefined) throw new LabError('LAB_MISSING', `lab ${prefix}: ${ns} has no IPv4 address on ${HOST_IFACE}`);
    found.push({ host, addr, prefixLength: Number(m[2]) });
  }
  if (found.length === 0) throw new LabError('LAB_MISSING', `no lab ${prefix} (no host namespaces ${prefix}.*)`);
  found.sort((a, b) => a.addr - b.addr);
  const first = found[0] as (typeof found)[number];
  const size = 2 ** (32 - first.prefixLength);
  const network = first.addr - (first.addr % size);
  found.forEach((f, i) => {
    if (f.addr !== network + HOST_OFFSET + i) throw new LabError('LAB_MISSING', `lab ${prefix}: ${f.host} has an unexpected address ${intToIpv4(f.addr)}`);
  });
  return { hosts: found.map((f) => f.host), subnet: `${intToIpv4(network)}/${first.prefixLength}` };
}

/** All namespace names (`ip -j netns list`). */
export async function listNamespaces(): Promise<string[]> {
  const r = await run(['ip', '-j', 'netns', 'list']);
  return parseNetnsList(r.stdout);
}

function parseNetnsList(stdout: string): string[] {
  const text = stdout.trim();
  if (text === '') return [];
  const doc: unknown = JSON.parse(text);
  if (!Array.isArray(doc)) throw new LabError('COMMAND_FAILED', `ip -j netns list printed ${text.slice(0, 200)}`);
  return doc.flatMap((e: unknown) => (typeof e === 'object' && e !== null && typeof (e as { name?: unknown }).name === 'string' ? [(e as { name: string }).name] : []));
}

/**
 * Removes lab `prefix` whatever state it is in, e.g. after the harness that built it crashed:
 * every process inside its namespaces is killed (by PID, from `ip netns pids`), then every
 * namespace named `${prefix}.*` is deleted. Touches nothing else. Idempotent; returns the
 * namespaces it deleted.
 */
export async function cleanupStale(prefix: string): Promise<string[]> {
  const names = await listLabNamespaces(prefix);
  const pids = new Set<number>();
  for (const ns of names) {
    const r = await run(['ip', 'netns', 'pids', ns], { check: false });
    for (const line of r.stdout.split('\n')) {
      const pid = Number(line.trim());
      if (Number.isSafeInteger(pid) && pid > 1 && pid !== process.pid) pids.add(pid);
    }
  }
  for (const pid of pids) {
    killQuietly(pid, 'SIGCONT');
    killQuietly(pid, 'SIGKILL');
  }
  const deadline = Date.now() + 3000;
  while ([...pids].some(isAlive) && Date.now() < deadline) await sleep(20);
  // Hosts first, the bridge last (deleting a host namespace deletes its veth pair).
  const ordered = [...names].sort((a, b) => Number(a.endsWith(`.${BRIDGE_HOST}`)) - Number(b.endsWith(`.${BRIDGE_HOST}`)));
  const deleted: string[] = [];
  for (const ns of ordered) {
    const r = await run(['ip', 'netns', 'del', ns], { check: false });
    if (r.exitCode === 0) deleted.push(ns);
    else if (!/No such file/.test(r.stderr)) throw new LabError('COMMAND_FAILED', `ip netns del ${ns}: ${r.stderr.trim()}`);
  }
  return deleted;
}

function cleanupStaleSync(prefix: string): void {
  const names = parseNetnsList(execFileSync('ip', ['-j', 'netns', 'list'], { encoding: 'utf8' })).filter((n) => n.startsWith(`${prefix}.`));
  for (const ns of names) {
    let out = '';
    try {
      out = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
    } catch {
      /* gone */
    }
    for (const line of out.split('\n')) {
      const pid = Number(line.trim());
      if (Number.isSafeInteger(pid) && pid > 1 && pid !== process.pid) killQuietly(pid, 'SIGKILL');
    }
  }
  for (const ns of names) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      /* gone */
    }
  }
}

/** `${base}-p${pid}`: a prefix owned by this process, for harnesses that may run concurrently. */
export function ownedPrefix(base: string, pid: number = process.pid): string {
  const prefix = `${base}-p${pid}`;
  validatePrefix(prefix);
  return prefix;
}

/**
 * Removes the labs `${base}-p<pid>` (see ownedPrefix) whose owner process is gone: leftovers of
 * crashed test runs, without touching a concurrent run's lab. Returns the namespaces deleted.
 */
export async function cleanupOrphans(base: string): Promise<string[]> {
  validatePrefix(base);
  const re = new RegExp(`^${base.replace(/[-]/g, '\\-')}-p(\\d+)\\.`);
  const owners = new Set<number>();
  for (const n of await listNamespaces()) {
    const m = re.exec(n);
    if (m) owners.add(Number(m[1]));
  }
  const deleted: string[] = [];
  for (const pid of owners) {
    if (!isAlive(pid)) deleted.push(...(await cleanupStale(`${base}-p${pid}`)));
  }
  return deleted;
}

// ---- helpers ----------------------------------------------------------------------------------

function checkArgv(argv: readonly string[]): void {
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string')) {
    throw new LabError('INVALID_ARGUMENT', 'argv must be a non-empty array of strings');
  }
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new LabError('INVALID_ARGUMENT', `bad port ${port}`);
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

/** Alive and not a zombie (a zombie left no process in any namespace). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  killQuietly(child.pid, 'SIGCONT');
  if (graceMs > 0) {
    child.kill('SIGTERM');
    const timer = sleep(graceMs).then(() => 'timeout' as const);
    if ((await Promise.race([exited.then(() => 'exited' as const), timer])) === 'exited') return;
  }
  child.kill('SIGKILL');
  await exited;
}

function waitForLine(child: ChildProcess, text: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => done(new LabError('COMMAND_TIMEOUT', `no "${text}" within ${timeoutMs} ms: ${err.trim()}`)), timeoutMs);
    const onOut = (c: Buffer): void => {
      out += c.toString('utf8');
      if (out.includes(text)) done();
    };
    const onErr = (c: Buffer): void => {
      err += c.toString('utf8');
    };
    const onExit = (code: number | null): void => done(new LabError('COMMAND_FAILED', `exited (${String(code)}) before "${text}": ${err.trim()}`));
    const done = (e?: Error): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onOut);
      child.stderr?.off('data', onErr);
      child.off('exit', onExit);
      if (e) reject(e);
      else resolve();
    };
    child.stdout?.on('data', onOut);
    child.stderr?.on('data', onErr);
    child.once('exit', onExit);
  });
}

/**
 * Whether this process may build labs: `ip` is there and a namespace can be created (and is
 * deleted at once). Tests skip with `reason` when not.
 */
export async function labPermitted(): Promise<{ ok: true } | { ok: false; reason: string }> {
  const probe = `${ownedPrefix('hubha-probe')}.x`;
  try {
    await cleanupOrphans('hubha-probe').catch(() => undefined); // a probe interrupted by a crash
    const r = await run(['ip', 'netns', 'add', probe], { check: false });
    if (r.exitCode !== 0) return { ok: false, reason: `"ip netns add" is not permitted here: ${r.stderr.trim()}` };
    await run(['ip', 'netns', 'del', probe], { check: false });
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: `cannot run ip: ${(err as Error).message}` };
  }
}
