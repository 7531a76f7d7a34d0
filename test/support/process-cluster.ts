import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from './ports.js';
import { NamedProcesses, readJsonLog } from '../../deploy/local/named-processes.js';

/** The built CLI; tests that spawn processes need `npm run build` first (CI does it). */
export const HUBHA_CLI = resolve(import.meta.dirname, '../../packages/cli/dist/main.js');

export interface ProcessClusterOptions {
  readonly names?: readonly string[];
  readonly tickMs?: number;
  readonly electionTimeoutTicks?: number;
  readonly snapshotEveryEntries?: number;
  readonly logLevel?: string;
}

export interface MemberEndpoints {
  readonly name: string;
  readonly peer: string;
  readonly client: string;
}

/**
 * Real `hubha run` processes on 127.0.0.1, one data directory each, logs to files. Every process
 * is ours and is ended by PID; close() kills what is left and removes the directory.
 */
export class ProcessCluster {
  private readonly children = new NamedProcesses();

  /** The running processes by member name. */
  get processes(): ReadonlyMap<string, ChildProcess> {
    return this.children.processes;
  }

  private constructor(
    readonly dir: string,
    readonly members: MemberEndpoints[],
    private readonly options: ProcessClusterOptions,
  ) {}

  static async create(options: ProcessClusterOptions = {}): Promise<ProcessCluster> {
    const dir = await mkdtemp(join(tmpdir(), 'hubha-proc-'));
    const members: MemberEndpoints[] = [];
    for (const name of options.names ?? ['n1', 'n2', 'n3']) members.push({ name, peer: `127.0.0.1:${await freePort()}`, client: `127.0.0.1:${await freePort()}` });
    const cluster = new ProcessCluster(dir, members, options);
    for (const m of members) await cluster.writeConfig(m.name, false);
    return cluster;
  }

  configFile(name: string): string {
    return join(this.dir, `${name}.yaml`);
  }

  logFile(name: string): string {
    return join(this.dir, `${name}.log`);
  }

  private async writeConfig(name: string, join_: boolean, extra?: MemberEndpoints): Promise<void> {
    const config = {
      cluster: { id: 'proc-test', members: this.members.filter((m) => m.name !== extra?.name) },
      node: {
        name,
        dataDir: join(this.dir, name),
        ...(join_ ? { join: true } : {}),
        ...(extra === undefined ? {} : { peer: extra.peer, client: extra.client }),
      },
      raft: {
        tickMs: this.options.tickMs ?? 50,
        electionTimeoutTicks: this.options.electionTimeoutTicks ?? 10,
        heartbeatIntervalTicks: 1,
        snapshotEveryEntries: this.options.snapshotEveryEntries ?? 10_000,
      },
      log: { level: this.options.logLevel ?? 'info' },
    };
    await writeFile(this.configFile(name), stringify(config));
  }

  /** Prepares a node that will join the running cluster (not in the initial members). */
  async addJoiner(name: string): Promise<MemberEndpoints> {
    const member = { name, peer: `127.0.0.1:${await freePort()}`, client: `127.0.0.1:${await freePort()}` };
    this.members.push(member);
    await this.writeConfig(name, true, member);
    return member;
  }

  start(name: string): ChildProcess {
    if (this.processes.has(name)) throw new Error(`${name} is already running`);
    const child = spawn(process.execPath, [HUBHA_CLI, 'run', '--config', this.configFile(name)], { stdio: ['ignore', 'pipe', 'pipe'] });
    return this.children.track(name, child, this.logFile(name));
  }

  startAll(): void {
    for (const m of this.members) if (!this.processes.has(m.name)) this.start(m.name);
  }

  /** Sends `signal` to the node's process (ours, by PID) and waits for it to exit. */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.children.kill(name, signal);
  }

  pause(name: string): void {
    this.processes.get(name)?.kill('SIGSTOP');
  }

  resume(name: string): void {
    this.processes.get(name)?.kill('SIGCONT');
  }

  endpoints(names?: readonly string[]): string[] {
    return this.members.filter((m) => names === undefined || names.includes(m.name)).map((m) => m.client);
  }

  endpoint(name: string): string {
    const member = this.members.find((m) => m.name === name);
    if (member === undefined) throw new Error(`no member ${name}`);
    return member.client;
  }

  /** The node's JSON log lines, parsed (lines that are not JSON are skipped). */
  async logs(name: string): Promise<Record<string, unknown>[]> {
    return readJsonLog(this.logFile(name));
  }

  async close(options: { keep?: boolean } = {}): Promise<void> {
    await Promise.all([...this.processes.keys()].map((name) => this.kill(name, 'SIGKILL')));
    if (options.keep !== true) await rm(this.dir, { recursive: true, force: true });
  }
}
