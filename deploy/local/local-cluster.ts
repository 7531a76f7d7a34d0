/**
 * A real local hubha cluster on 127.0.0.1: two hubs (each a sidecar with its own PostgreSQL 15)
 * and a witness, as `hubha run` processes, all data under one directory. Used by `npm start`,
 * the integration tests and `npm run bench:failover`. Every process started here is ended by
 * PID; PostgreSQL is ended through its postmaster.pid.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmod, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parse, stringify } from 'yaml';
import { NamedProcesses, readJsonLog } from './named-processes.js';
import { freePort } from './ports.js';

export { freePort } from './ports.js';

export const HUBHA_CLI = resolve(import.meta.dirname, '../../packages/cli/dist/main.js');
export const PG_BIN_DIR = '/usr/lib/postgresql/15/bin';

export interface LocalMember {
  readonly name: string;
  readonly role: 'hub' | 'witness';
  readonly peer: string;
  readonly client: string;
  readonly http: string;
  /** Hubs only. */
  readonly pgPort: number | null;
}

export interface LocalClusterOptions {
  /** Where everything lives (created; removed by destroy()). */
  readonly dir: string;
  readonly hubs?: readonly string[];
  readonly witness?: string | null;
  readonly synchronous?: 'off' | 'on' | 'strict';
  readonly timings?: Partial<Record<'leaseTtlMs' | 'renewIntervalMs' | 'loopIntervalMs' | 'reportIntervalMs' | 'demotionBudgetMs' | 'syncDropAfterMs', number>>;
  readonly raft?: { readonly tickMs?: number; readonly electionTimeoutTicks?: number };
  readonly logLevel?: string;
  /** Extra per-hub settings merged into the hub section (hooks, tags, vip …). */
  readonly hubExtra?: (name: string) => Record<string, unknown>;
  /**
   * Start each sidecar in its own process group, so that a terminal's Ctrl-C reaches only the
   * parent, which then stops the members in order (npm start). Default false.
   */
  readonly detached?: boolean;
  /**
   * Where each member lives (default 127.0.0.1 for all). A lab test gives each member its
   * namespace's address and `spawn` to start the process inside that namespace.
   */
  readonly host?: (name: string) => string;
  readonly spawn?: (name: string, argv: readonly string[]) => ChildProcess;
  /** Address ranges allowed to replicate and to connect (default 127.0.0.0/8). */
  readonly cidrs?: readonly string[];
  /** One PostgreSQL port for every hub (hubs on separate hosts); default: a free port each. */
  readonly pgPort?: number;
}

export class LocalHubCluster {
  private readonly children = new NamedProcesses();

  /** The running processes by member name. */
  get processes(): ReadonlyMap<string, ChildProcess> {
    return this.children.processes;
  }

  private constructor(
    readonly dir: string,
    readonly members: readonly LocalMember[],
    readonly passwordFile: string,
    readonly password: string,
    private readonly detached = false,
    private readonly options: Pick<LocalClusterOptions, 'host' | 'spawn'> = {},
  ) {}

  static async create(options: LocalClusterOptions): Promise<LocalHubCluster> {
    const dir = resolve(options.dir);
    await mkdir(dir, { recursive: true, mode: 0o755 });
    // PostgreSQL runs as its own OS user: it must be able to traverse to its data directory
    // (mkdtemp makes directories 0700).
    await chmod(dir, 0o755);
    const hubs = options.hubs ?? ['hub1', 'hub2'];
    const witness = options.witness === undefined ? 'witness' : options.witness;
    const members: LocalMember[] = [];
    for (const name of [...hubs, ...(witness === null ? [] : [witness])]) {
      const role = hubs.includes(name) ? 'hub' : 'witness';
      const host = options.host?.(name) ?? '127.0.0.1';
      members.push({
        name,
        role,
        peer: `${host}:${await freePort()}`,
        client: `${host}:${await freePort()}`,
        http: `${host}:${await freePort()}`,
        pgPort: role === 'hub' ? (options.pgPort ?? (await freePort())) : null,
      });
    }
    const password = randomBytes(18).toString('base64url');
    const passwordFile = join(dir, 'replication.pass');
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    await chmod(passwordFile, 0o600);
    const cluster = new LocalHubCluster(dir, members, passwordFile, password, options.detached === true, options);
    for (const member of members) await cluster.writeConfig(member, options);
    return cluster;
  }

  /**
   * Reopens a cluster that create() laid out in `dir` earlier (same members, ports, password and
   * data), so that a restart keeps the data. Null when `dir` holds no complete layout.
   */
  static async open(dirPath: string, options: { detached?: boolean } = {}): Promise<LocalHubCluster | null> {
    const dir = resolve(dirPath);
    const entries = await readdir(dir).catch(() => [] as string[]);
    const passwordFile = join(dir, 'replication.pass');
    const password = (await readFile(passwordFile, 'utf8').catch(() => null))?.trim();
    const first = entries.filter((e) => e.endsWith('.yaml')).sort()[0];
    if (password === undefined || password === '' || first === undefined) return null;
    type Config = { cluster?: { members?: { name: string; peer: string; client: string; http: string; role: 'hub' | 'witness' }[] }; hub?: { postgres?: { port?: number } } };
    const read = async (name: string): Promise<Config | null> => {
      const text = await readFile(join(dir, name), 'utf8').catch(() => null);
      return text === null ? null : (parse(text) as Config);
    };
    const listed = (await read(first))?.cluster?.members;
    if (listed === undefined || listed.length === 0) return null;
    const members: LocalMember[] = [];
    for (const m of listed) {
      let pgPort: number | null = null;
      if (m.role === 'hub') {
        pgPort = (await read(`${m.name}.yaml`))?.hub?.postgres?.port ?? null;
        if (pgPort === null) return null;
      } else if (!entries.includes(`${m.name}.yaml`)) return null;
      members.push({ name: m.name, role: m.role, peer: m.peer, client: m.client, http: m.http, pgPort });
    }
    return new LocalHubCluster(dir, members, passwordFile, password, options.detached === true);
  }

  configFile(name: string): string {
    return join(this.dir, `${name}.yaml`);
  }

  logFile(name: string): string {
    return join(this.dir, `${name}.log`);
  }

  member(name: string): LocalMember {
    const member = this.members.find((m) => m.name === name);
    if (member === undefined) throw new Error(`no member ${name}`);
    return member;
  }

  hubs(): LocalMember[] {
    return this.members.filter((m) => m.role === 'hub');
  }

  pgDataDir(name: string): string {
    return join(this.dir, name, 'pg');
  }

  private async writeConfig(member: LocalMember, options: LocalClusterOptions): Promise<void> {
    await mkdir(join(this.dir, member.name), { recursive: true, mode: 0o755 });
    const config: Record<string, unknown> = {
      cluster: { id: 'hubha-local', members: this.members.map((m) => ({ name: m.name, peer: m.peer, client: m.client, http: m.http, role: m.role })) },
      node: { name: member.name, dataDir: join(this.dir, member.name, 'node') },
      raft: { tickMs: options.raft?.tickMs ?? 50, electionTimeoutTicks: options.raft?.electionTimeoutTicks ?? 8, heartbeatIntervalTicks: 1 },
      log: { level: options.logLevel ?? 'info' },
    };
    if (member.role === 'hub') {
      config.hub = {
        postgres: {
          binDir: PG_BIN_DIR,
          dataDir: this.pgDataDir(member.name),
          port: member.pgPort,
          // On a host of its own (a lab namespace) PostgreSQL also answers on the VIP.
          listenAddresses: options.host === undefined ? ['127.0.0.1'] : ['*'],
          advertiseHost: options.host?.(member.name) ?? '127.0.0.1',
          replicationPasswordFile: this.passwordFile,
          peerCidrs: options.cidrs ?? ['127.0.0.0/8'],
          clientCidrs: options.cidrs ?? ['127.0.0.0/8'],
          settings: { shared_buffers: '16MB', max_connections: 30, wal_keep_size: '128MB' },
        },
        synchronous: options.synchronous ?? 'on',
        timings: options.timings ?? {},
        activeHubFile: join(this.dir, member.name, 'active-hub.json'),
        ...(options.hubExtra?.(member.name) ?? {}),
      };
    }
    await writeFile(this.configFile(member.name), stringify(config));
  }

  start(name: string): ChildProcess {
    if (this.processes.has(name)) throw new Error(`${name} is already running`);
    const argv = [process.execPath, HUBHA_CLI, 'run', '--config', this.configFile(name)];
    const child = this.options.spawn?.(name, argv) ?? spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: this.detached });
    return this.children.track(name, child, this.logFile(name));
  }

  startAll(): void {
    for (const m of this.members) if (!this.processes.has(m.name)) this.start(m.name);
  }

  /** Signals the sidecar process (ours, by PID) and waits for it to exit (SIGKILL/SIGTERM). */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.children.kill(name, signal);
  }

  /** The hub's postmaster PID, from its postmaster.pid (null when not running). */
  async postmasterPid(name: string): Promise<number | null> {
    const text = await readFile(join(this.pgDataDir(name), 'postmaster.pid'), 'utf8').catch(() => null);
    const pid = text === null ? NaN : Number(text.split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 0) return null;
    try {
      process.kill(pid, 0);
      return pid;
    } catch {
      return null;
    }
  }

  /** kill -9 of the hub's postmaster (PostgreSQL started by our sidecar). */
  async killPostgres(name: string): Promise<boolean> {
    const pid = await this.postmasterPid(name);
    if (pid === null) return false;
    process.kill(pid, 'SIGKILL');
    return true;
  }

  endpoints(): string[] {
    return this.members.map((m) => m.client);
  }

  pgAddress(name: string): { host: string; port: number } {
    return { host: this.options.host?.(name) ?? '127.0.0.1', port: this.member(name).pgPort! };
  }

  /**
   * Connection settings for the hub's PostgreSQL as its superuser over the unix socket (trusted
   * there only; works for root and the postgres user). TCP clients need a role with a password.
   */
  pgSocketConfig(name: string): { host: string; port: number; user: string; database: string } {
    return { host: join(this.dir, name, 'run'), port: this.member(name).pgPort!, user: 'postgres', database: 'postgres' };
  }

  async logs(name: string): Promise<Record<string, unknown>[]> {
    return readJsonLog(this.logFile(name));
  }

  /** Stops every sidecar (SIGTERM: hubs fence their PostgreSQL), then anything left by PID. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<void> {
    const names = [...this.processes.keys()];
    await Promise.all(
      names.map(async (name) => {
        const timer = setTimeout(() => this.processes.get(name)?.kill('SIGKILL'), timeoutMs);
        await this.kill(name, signal);
        clearTimeout(timer);
      }),
    );
    // PostgreSQL outlives a SIGKILLed sidecar: end it through its postmaster.pid.
    for (const hub of this.hubs()) {
      const pid = await this.postmasterPid(hub.name);
      if (pid !== null) {
        process.kill(pid, 'SIGQUIT');
        for (let i = 0; i < 100 && (await this.postmasterPid(hub.name)) !== null; i++) await new Promise((r) => setTimeout(r, 50));
        const still = await this.postmasterPid(hub.name);
        if (still !== null) process.kill(still, 'SIGKILL');
      }
    }
  }

  async destroy(options: { keep?: boolean } = {}): Promise<void> {
    await this.stop('SIGKILL', 1000);
    if (options.keep !== true) await rm(this.dir, { recursive: true, force: true });
  }
}
