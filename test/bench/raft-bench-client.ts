/**
 * The client side of `npm run bench:raft`, in its own process. It talks only to the leader's
 * endpoint, so every logical client shares ONE HTTP/2 connection. It prints one JSON line per
 * phase event on stdout; the orchestrator samples the nodes' memory meanwhile.
 */
import { randomBytes } from 'node:crypto';
import { CoordClient } from '@hubha/coord';
import type { CoordSession } from '@hubha/coord';
import { latencySummary, round } from './percentiles.js';

const PHASE_MS = 10_000;
const PAUSE_MS = 1_000;
const LEASE_TTL_MS = 5_000;

const leader = process.argv[2];
if (leader === undefined) {
  process.stderr.write('usage: raft-bench-client <leader host:port>\n');
  process.exit(2);
}

function emit(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const value = randomBytes(256);

interface PhaseResult {
  workload: 'put' | 'lease';
  clients: number;
  ops: number;
  errors: number;
  wall_s: number;
  ops_per_s: number;
  latency_ms: { p50: number; p99: number; max: number };
}

async function runPhase(
  workload: 'put' | 'lease',
  sessions: CoordSession[],
  prepare: (session: CoordSession, i: number) => Promise<unknown>,
  op: (session: CoordSession, i: number, seq: number, prepared: unknown) => Promise<void>,
): Promise<PhaseResult> {
  const prepared = await Promise.all(sessions.map((s, i) => prepare(s, i)));
  emit({ event: 'phase-start', workload, clients: sessions.length });
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const stopAt = started + PHASE_MS;
  await Promise.all(
    sessions.map(async (session, i) => {
      for (let seq = 1; performance.now() < stopAt; seq++) {
        const t0 = performance.now();
        try {
          await op(session, i, seq, prepared[i]);
          latencies.push(performance.now() - t0);
        } catch {
          errors++;
        }
      }
    }),
  );
  const wallS = (performance.now() - started) / 1000;
  emit({ event: 'phase-end', workload, clients: sessions.length });
  return { workload, clients: sessions.length, ops: latencies.length, errors, wall_s: round(wallS), ops_per_s: round(latencies.length / wallS, 1), latency_ms: latencySummary(latencies) };
}

async function main(): Promise<void> {
  const client = await CoordClient.connect({ endpoints: [leader!], requestTimeoutMs: 10_000 });
  const results: PhaseResult[] = [];
  const warm = client.session('bench-warmup');
  for (let i = 0; i < 200; i++) await warm.put(`bench-warm-${pad(i, 17)}`, value);
  emit({ event: 'warmed-up' });

  for (const c of [1, 16, 256]) {
    await sleep(PAUSE_MS);
    const sessions = Array.from({ length: c }, (_, i) => client.session(`bench-put-c${c}-${i}`));
    results.push(
      await runPhase('put', sessions, async () => null, async (session, i, seq) => {
        await session.put(`bench-c${pad(c, 3)}-${pad(i, 3)}-${pad(seq, 9)}`, value);
      }),
    );
  }
  for (const c of [1, 64]) {
    await sleep(PAUSE_MS);
    const sessions = Array.from({ length: c }, (_, i) => client.session(`bench-lease-c${c}-${i}`));
    results.push(
      await runPhase(
        'lease',
        sessions,
        async (session, i) => {
          const granted = await session.leaseGrant({ name: `bench-lease-c${pad(c, 3)}-${pad(i, 3)}`, holder: `client-${i}`, ttlMs: LEASE_TTL_MS });
          if (!granted.granted) throw new Error(`lease ${i} not granted`);
          return granted.lease.epoch;
        },
        async (session, i, _seq, epoch) => {
          const renewed = await session.leaseKeepAlive({ name: `bench-lease-c${pad(c, 3)}-${pad(i, 3)}`, holder: `client-${i}`, epoch: epoch as number });
          if (!renewed.renewed) throw new Error('lease lost');
        },
      ),
    );
  }
  emit({ event: 'results', phases: results });
  await client.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`bench client failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
