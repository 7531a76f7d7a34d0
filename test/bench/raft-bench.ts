/**
 * `npm run bench:raft`: a three-node cluster of real processes on 127.0.0.1 (fsync on, fresh data
 * directories), a client in a separate process sending everything to the leader over one HTTP/2
 * connection. Phases: idle 30 s (VmRSS sampled), warm-up 200 puts, put C=1/16/256, lease C=1/64,
 * 10 s each with 1 s between. The last line of stdout is one JSON object (see README).
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import { CoordClient, KEEPALIVE_THROUGH_RAFT } from '@hubha/coord';
import { ProcessCluster } from '../support/process-cluster.js';

const IDLE_MS = Number(process.env.HUBHA_BENCH_IDLE_MS ?? 30_000);

async function vmRssKb(pid: number): Promise<number | null> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => null);
  const match = status?.match(/^VmRSS:\s+(\d+)\s+kB$/m);
  return match ? Number(match[1]) : null;
}

function log(message: string): void {
  process.stderr.write(`bench:raft: ${message}\n`);
}

async function main(): Promise<void> {
  const cluster = await ProcessCluster.create({ names: ['n1', 'n2', 'n3'], tickMs: 100, electionTimeoutTicks: 10, logLevel: 'warn' });
  try {
    cluster.startAll();
    const probe = await CoordClient.connect({ endpoints: cluster.endpoints(), requestTimeoutMs: 15_000 });
    let leaderEndpoint: string | null = null;
    for (let i = 0; i < 300 && leaderEndpoint === null; i++) {
      for (const endpoint of cluster.endpoints()) {
        const status = await probe.session().status(endpoint).catch(() => null);
        if (status?.role === 'leader') leaderEndpoint = endpoint;
      }
      if (leaderEndpoint === null) await new Promise((r) => setTimeout(r, 100));
    }
    await probe.close();
    if (leaderEndpoint === null) throw new Error('no leader elected');
    log(`leader at ${leaderEndpoint}; idling ${IDLE_MS / 1000} s`);
    const pids = new Map([...cluster.processes].map(([name, child]) => [name, child.pid!]));
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const idle: Record<string, { VmRSS: number }> = {};
    for (const [name, pid] of pids) idle[name] = { VmRSS: (await vmRssKb(pid)) ?? -1 };

    const client = spawn(process.execPath, ['--import', 'tsx', resolve(import.meta.dirname, 'raft-bench-client.ts'), leaderEndpoint], { stdio: ['ignore', 'pipe', 'inherit'] });
    const peaks = new Map<string, number>();
    let sampler: NodeJS.Timeout | null = null;
    const rssByPhase = new Map<string, Record<string, number>>();
    let phases: Record<string, unknown>[] = [];
    for await (const line of createInterface({ input: client.stdout })) {
      const event = JSON.parse(line) as { event: string; workload?: string; clients?: number; phases?: Record<string, unknown>[] };
      if (event.event === 'phase-start') {
        log(`${event.workload} C=${event.clients}`);
        peaks.clear();
        sampler = setInterval(() => {
          for (const [name, pid] of pids) void vmRssKb(pid).then((kb) => kb !== null && peaks.set(name, Math.max(peaks.get(name) ?? 0, kb)));
        }, 100);
      } else if (event.event === 'phase-end') {
        if (sampler !== null) clearInterval(sampler);
        rssByPhase.set(`${event.workload}-${event.clients}`, Object.fromEntries(peaks));
      } else if (event.event === 'results') {
        phases = event.phases ?? [];
      }
    }
    const exitCode = await new Promise<number | null>((r) => (client.exitCode !== null ? r(client.exitCode) : client.once('exit', r)));
    if (exitCode !== 0) throw new Error(`bench client exited ${exitCode}`);
    const output = {
      idle_rss_kB: idle,
      phases: phases.map((p) => {
        const peak = rssByPhase.get(`${p.workload as string}-${p.clients as number}`);
        // The brief asks for the peak VmRSS during put C=256; we report it for every phase.
        return { ...p, rss: { peak_vmrss_kB: peak ?? {} } };
      }),
      keepalive_through_raft: KEEPALIVE_THROUGH_RAFT,
    };
    process.stdout.write(`${JSON.stringify(output)}\n`);
  } finally {
    await cluster.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:raft failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
