import { CoordClient } from '@hubha/coord';
import type { ProcessCluster } from '../support/process-cluster.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls every member's status until one says it is the leader (of the highest term). */
export async function findLeader(cluster: ProcessCluster, client: CoordClient, options: { exclude?: string; timeoutMs?: number } = {}): Promise<{ name: string; term: number }> {
  const deadline = performance.now() + (options.timeoutMs ?? 30_000);
  const session = client.session('probe');
  while (performance.now() < deadline) {
    let best: { name: string; term: number } | null = null;
    for (const member of cluster.members) {
      if (member.name === options.exclude || !cluster.processes.has(member.name)) continue;
      const status = await session.status(member.client, { timeoutMs: 300 }).catch(() => null);
      if (status?.role === 'leader' && (best === null || status.header.raftTerm > best.term)) best = { name: member.name, term: status.header.raftTerm };
    }
    if (best !== null) return best;
    await sleep(20);
  }
  throw new Error('no leader found in time');
}

/** Waits until `name` has applied at least `index` (its own status, serializable). */
export async function waitApplied(cluster: ProcessCluster, client: CoordClient, name: string, index: number, timeoutMs = 15_000): Promise<void> {
  const session = client.session('probe-applied');
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const status = await session.status(cluster.endpoint(name), { timeoutMs: 500 }).catch(() => null);
    if (status !== null && status.appliedIndex >= index) return;
    await sleep(50);
  }
  throw new Error(`${name} did not apply index ${index} in time`);
}

export async function connect(cluster: ProcessCluster): Promise<CoordClient> {
  return CoordClient.connect({ endpoints: cluster.endpoints(), requestTimeoutMs: 8_000 });
}
