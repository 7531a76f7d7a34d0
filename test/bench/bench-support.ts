/**
 * What the failover and switchover benchmarks share: statistics, continuous writers into one hub
 * over its unix socket, and the first matching line of the members' pino logs.
 */
import pg from 'pg';
import type { LocalHubCluster } from '../../deploy/local/local-cluster.js';

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

