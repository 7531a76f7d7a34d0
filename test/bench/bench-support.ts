/**
 * What the failover and switchover benchmarks share: statistics, continuous writers into one hub
 * over its unix socket, and the first matching line of the members' pino logs.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadNodeConfig } from '@hubha/coord';
import type { CoordClient, NodeConfig } from '@hubha/coord';
import { resolveHubSettings } from '@hubha/hub';
import type { HubSettings } from '@hubha/hub';
import { LocalHubCluster } from '../../deploy/local/local-cluster.js';
import { connectStore, pgQuery, waitHealthy } from '../../deploy/local/probe.js';

export const WRITERS = 4;

export const round3 = (x: number): number => Math.round(x * 1000) / 1000;

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function stats(values: readonly number[]): { median_s: number; min_s: number; max_s: number } {
  return { median_s: round3(median(values)), min_s: round3(Math.min(...values)), max_s: round3(Math.max(...values)) };
}

/** Continuous INSERTs into `hub` over `WRITERS` connections until they fail (the hub is killed). */
export class Writers {
  private readonly loops: Promise<void>[] = [];
  private stopped = false;
  errors = 0;

  constructor(
    private readonly cluster: LocalHubCluster,
    private readonly hub: string,
    private readonly round: number,
    private readonly nextId: () => number,
    private readonly acked: number[],
  ) {}

  start(): void {
    for (let w = 0; w < WRITERS; w++) this.loops.push(this.loop(w));
  }

  private async loop(w: number): Promise<void> {
    const client = new pg.Client({ ...this.cluster.pgSocketConfig(this.hub), connectionTimeoutMillis: 5000, query_timeout: 10_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      while (!this.stopped) {
        const id = this.nextId();
        await client.query('INSERT INTO bench (id, round, source) VALUES ($1, $2, $3)', [id, this.round, `writer${w}`]);
        this.acked.push(id); // acknowledged: COMMIT returned (synchronous_commit waits for the sync standby)
      }
    } catch {
      this.errors++;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Waits until every loop has ended (they end on their own when the hub dies). */
  async done(): Promise<void> {
    await Promise.all(this.loops);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done();
  }
}

export interface LogLine {
  readonly time?: number;
  readonly msg?: string;
  readonly lease?: string;
  readonly holder?: string;
  readonly node?: string;
}

export async function firstLogTime(cluster: LocalHubCluster, names: readonly string[], since: number, match: (l: LogLine) => boolean): Promise<number | null> {
  let first: number | null = null;
  for (const name of names) {
    for (const line of (await cluster.logs(name)) as LogLine[]) {
      if (typeof line.time !== 'number' || line.time < since || !match(line)) continue;
      if (first === null || line.time < first) first = line.time;
    }
  }
  return first;
}


export interface BenchContext {
  readonly cluster: LocalHubCluster;
  readonly store: CoordClient;
  readonly rounds: number;
  readonly config: NodeConfig;
  readonly hubSettings: HubSettings;
  /** Unique ids for the writers and probes. */
  nextId(): number;
  /** Every acknowledged id; checked on the final primary at the end. */
  readonly acked: number[];
}

/**
 * The frame of the failover and switchover benchmarks: parses --rounds / --keep, starts a fresh
 * local cluster (synchronous 'on', default timings) with a `bench` table, runs `rounds` rounds,
 * checks that every acknowledged id is on the final primary, and prints `output(results, lost)`
 * as the last lines of stdout. Tears the cluster down (or keeps it with --keep).
 */
export async function runBench<R>(
  name: string,
  log: (message: string) => void,
  round: (ctx: BenchContext, n: number) => Promise<R>,
  output: (ctx: BenchContext, results: readonly R[], lost: number) => readonly unknown[],
): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, keep: { type: 'boolean', default: false } }, strict: true });
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, got ${values.rounds}`);
  const dir = await mkdtemp(join(tmpdir(), `hubha-${name}-bench-`));
  const cluster = await LocalHubCluster.create({ dir, synchronous: 'on', logLevel: 'info' });
  let store: CoordClient | null = null;
  try {
    const hubConfigFile = cluster.configFile(cluster.hubs()[0]!.name);
    const config = await loadNodeConfig(hubConfigFile);
    const hubSettings = resolveHubSettings(config, hubConfigFile);
    log(`cluster in ${dir}; ${rounds} rounds`);
    cluster.startAll();
    store = await connectStore(cluster, 3000);
    const { active } = await waitHealthy(cluster, store, { synchronous: true, timeoutMs: 120_000 });
    await pgQuery(cluster, active.name, 'CREATE TABLE bench (id bigint PRIMARY KEY, round int NOT NULL, source text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())');
    let counter = 0;
    const ctx: BenchContext = { cluster, store, rounds, config, hubSettings, nextId: () => ++counter, acked: [] };
    const results: R[] = [];
    for (let n = 1; n <= rounds; n++) results.push(await round(ctx, n));

    const { active: final } = await waitHealthy(cluster, store, { timeoutMs: 60_000 });
    const found = new Set((await pgQuery<{ id: string }>(cluster, final.name, 'SELECT id::text FROM bench WHERE id = ANY($1::bigint[])', [ctx.acked], 30_000)).map((r) => Number(r.id)));
    const lost = ctx.acked.filter((id) => !found.has(id));
    log(`final primary ${final.name} (epoch ${final.epoch}): ${ctx.acked.length} acknowledged writes, ${lost.length} missing${lost.length > 0 ? ` (${lost.slice(0, 20).join(', ')})` : ''}`);
    for (const line of output(ctx, results, lost.length)) process.stdout.write(`${JSON.stringify(line)}\n`);
  } finally {
    await store?.close().catch(() => undefined);
    await cluster.destroy({ keep: values.keep === true });
    if (values.keep === true) log(`kept ${dir}`);
  }
}
