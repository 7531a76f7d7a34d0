import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { NodeConfig } from '../../src/config/node-config.js';
import { parseNodeConfig } from '../../src/config/node-config.js';
import { CoordNode } from '../../src/server/coord-node.js';
import { freePort } from '../../../../test/support/ports.js';

export interface LocalClusterOptions {
  readonly names?: readonly string[];
  readonly tickMs?: number;
  readonly electionTimeoutTicks?: number;
  readonly snapshotEveryEntries?: number;
}

/** N in-process coordination nodes on 127.0.0.1 with real gRPC and LevelDB in a temp dir. */
export class LocalCluster {
  readonly nodes = new Map<string, CoordNode>();
  readonly configs = new Map<string, NodeConfig>();

  private constructor(readonly dir: string) {}

  /**
   * Ports come from freePort() (bound, then released), so another test running in parallel can
   * take one before we bind it: on EADDRINUSE start again on fresh ports (a few times at most).
   */
  static async start(options: LocalClusterOptions = {}): Promise<LocalCluster> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await LocalCluster.startOnce(options);
      } catch (err) {
        const inUse = String((err as { message?: unknown }).message ?? err).includes('EADDRINUSE');
        if (!inUse || attempt >= 4) throw err;
      }
    }
  }

  private static async startOnce(options: LocalClusterOptions): Promise<LocalCluster> {
    const names = options.names ?? ['n1', 'n2', 'n3'];
    const cluster = new LocalCluster(await mkdtemp(join(tmpdir(), 'hubha-coord-')));
    const members = [];
    for (const name of names) members.push({ name, peer: `127.0.0.1:${await freePort()}`, client: `127.0.0.1:${await freePort()}`, http: `127.0.0.1:${await freePort()}` });
    for (const name of names) {
      const yaml = JSON.stringify({
        cluster: { id: 'test-cluster', members },
        node: { name, dataDir: join(cluster.dir, name) },
        raft: {
          tickMs: options.tickMs ?? 20,
          electionTimeoutTicks: options.electionTimeoutTicks ?? 10,
          heartbeatIntervalTicks: 1,
          snapshotEveryEntries: options.snapshotEveryEntries ?? 10_000,
        },
      });
      cluster.configs.set(name, parseNodeConfig(yaml, join(cluster.dir, `${name}.yaml`)));
    }
    try {
      await Promise.all(names.map((name) => cluster.startNode(name)));
    } catch (err) {
      await cluster.close().catch(() => undefined);
      throw err;
    }
    return cluster;
  }

  async startNode(name: string): Promise<CoordNode> {
    const config = this.configs.get(name);
    if (config === undefined) throw new Error(`no config for ${name}`);
    const node = await CoordNode.start({ config, logger: pino({ level: process.env.HUBHA_TEST_LOG ?? 'silent' }) });
    this.nodes.set(name, node);
    return node;
  }

  async stopNode(name: string): Promise<void> {
    await this.nodes.get(name)?.close();
    this.nodes.delete(name);
  }

  clientEndpoint(name: string): string {
    return this.configs.get(name)!.cluster.members.find((m) => m.name === name)!.client;
  }

  /** The member's HTTP endpoint (discovery, health checks). */
  httpEndpoint(name: string): string {
    return this.configs.get(name)!.cluster.members.find((m) => m.name === name)!.http!;
  }

  async waitForLeader(timeoutMs = 10_000): Promise<CoordNode> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      for (const node of this.nodes.values()) if (node.raft.isLeader()) return node;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('no leader elected in time');
  }

  async close(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.close()));
    this.nodes.clear();
    await rm(this.dir, { recursive: true, force: true });
  }
}
