/**
 * The lease-safety rule end to end (packages/coord/src/lease/lease-rule.ts): a holder that stops
 * renewing loses the lease exactly once, the next holder gets epoch + 1, and at no instant do two
 * holders believe they hold it — judged on the holders' own monotonic clocks, in their own
 * processes, also when the Raft leader dies in between (the new leader restarts the TTL).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../support/process-cluster.js';
import { connect, findLeader, sleep } from './helpers.js';

const TTL_MS = 1500;

interface HolderEvent {
  event: 'acquired' | 'renewed' | 'lost';
  epoch: number;
  validUntil?: number;
  reason?: string;
  t: number;
}

class Holder {
  readonly events: HolderEvent[] = [];
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;

  constructor(name: string, endpoints: string[]) {
    this.child = spawn(process.execPath, ['--import', 'tsx', resolve(import.meta.dirname, 'lease-holder.ts'), name, String(TTL_MS), endpoints.join(',')], { stdio: ['ignore', 'pipe', 'inherit'] });
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.events.push(JSON.parse(line) as HolderEvent));
    this.exited = new Promise((r) => this.child.once('exit', () => r()));
  }

  async waitFor(event: HolderEvent['event'], timeoutMs = 15_000): Promise<HolderEvent> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const found = this.events.find((e) => e.event === event);
      if (found !== undefined) return found;
      await sleep(10);
    }
    throw new Error(`no ${event} event in time`);
  }

  /** The last instant (on its own monotonic clock) this holder believed it held the lease. */
  believedUntil(): number {
    return Math.max(...this.events.filter((e) => e.validUntil !== undefined).map((e) => e.validUntil!));
  }

  pause(): void {
    this.child.kill('SIGSTOP');
  }

  resume(): void {
    this.child.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    this.child.kill('SIGCONT');
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

let cluster: ProcessCluster | null = null;
const holders: Holder[] = [];

afterEach(async () => {
  await Promise.all(holders.splice(0).map((h) => h.stop()));
  await cluster?.close();
  cluster = null;
});

async function scenario(killRaftLeader: boolean): Promise<void> {
  cluster = await ProcessCluster.create({ tickMs: 50, electionTimeoutTicks: 10 });
  cluster.startAll();
  const client = await connect(cluster);
  try {
    const raftLeader = await findLeader(cluster, client);
    const a = new Holder('hub1', cluster.endpoints());
    holders.push(a);
    const acquiredA = await a.waitFor('acquired');
    const b = new Holder('hub2', cluster.endpoints());
    holders.push(b);
    await sleep(TTL_MS); // A renews a few times while B waits
    expect(b.events.filter((e) => e.event === 'acquired')).toEqual([]);

    // A stops renewing (a frozen process: the hole the lease rule must cover).
    a.pause();
    if (killRaftLeader) await cluster.kill(raftLeader.name, 'SIGKILL');
    const acquiredB = await b.waitFor('acquired', 20_000);
    a.resume();
    await a.waitFor('lost');
    await sleep(200);

    // Epochs: B's is the next one.
    expect(acquiredB.epoch).toBe(acquiredA.epoch + 1);
    // Safety: everything A ever believed ended before B began believing, on the shared
    // monotonic clock — including a renewal A may process only after it is resumed.
    expect(a.believedUntil()).toBeLessThan(acquiredB.t);
    // A lost it exactly once, and told so on resume at the latest.
    expect(a.events.filter((e) => e.event === 'lost')).toHaveLength(1);
    // The store expired it exactly once.
    let expiries = 0;
    for (const m of cluster.members) expiries += (await cluster.logs(m.name)).filter((l) => l.msg === 'lease expired' && l.lease === 'active-hub').length;
    expect(expiries).toBe(1);
  } finally {
    await client.close();
  }
}

describe('lease safety across processes', () => {
  it('a holder that stops renewing loses the lease once; the next holder gets epoch+1, never overlapping', async () => {
    await scenario(false);
  });

  it('the same when the Raft leader is killed while the holder is frozen (the new leader restarts the TTL)', async () => {
    await scenario(true);
  });
});
