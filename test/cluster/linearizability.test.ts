/**
 * A KV register workload on real processes while the Raft leader is killed with -9 (and
 * restarted) twice: the recorded history must be linearizable (WGL checker, per key). Reads are
 * linearizable (ReadIndex); a CAS is a Txn comparing the value. An operation that failed or timed
 * out has an unknown outcome: it may have taken effect or not.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { checkLinearizable, explain, kvModel } from '@hubha/linearizability';
import type { KvInput, KvOutput, Operation } from '@hubha/linearizability';
import type { CoordClient, CoordSession } from '@hubha/coord';
import { ProcessCluster } from '../support/process-cluster.js';
import { connect, findLeader, sleep } from './helpers.js';

const KEYS = ['x', 'y', 'z'];
const CLIENTS = 6;
const RUN_MS = 9_000;

let cluster: ProcessCluster | null = null;
let client: CoordClient | null = null;

afterEach(async () => {
  await client?.close();
  client = null;
  await cluster?.close();
  cluster = null;
});

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');

async function perform(session: CoordSession, input: KvInput): Promise<KvOutput> {
  switch (input.kind) {
    case 'put':
      await session.put(input.key, String(input.value));
      return 'ok';
    case 'get': {
      const res = await session.get(input.key);
      return res.kv === null ? null : text(res.kv.value);
    }
    case 'cas': {
      const compare =
        input.expected === null
          ? [{ key: input.key, target: 'exists' as const, op: 'equal' as const, exists: false }]
          : [{ key: input.key, target: 'value' as const, op: 'equal' as const, value: Buffer.from(String(input.expected)) }];
      const res = await session.txn({ compare, success: [{ type: 'put', key: input.key, value: Buffer.from(String(input.value)) }], failure: [] });
      return res.succeeded;
    }
    default:
      throw new Error(`unsupported op ${input.kind}`);
  }
}

describe('linearizability under leader kills', () => {
  it('a concurrent register workload stays linearizable while leaders are killed and restarted', async () => {
    cluster = await ProcessCluster.create({ tickMs: 50, electionTimeoutTicks: 10 });
    cluster.startAll();
    client = await connect(cluster);
    await findLeader(cluster, client);

    const history: Operation<KvInput, KvOutput>[] = [];
    const lastSeen = new Map<string, string>();
    let counter = 0;
    const stopAt = performance.now() + RUN_MS;
    const workers = Array.from({ length: CLIENTS }, async (_, clientId) => {
      const session = client!.session(`lin-${clientId}`);
      let seed = clientId * 7919 + 17;
      const rand = (n: number): number => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed % n;
      };
      while (performance.now() < stopAt) {
        const key = KEYS[rand(KEYS.length)]!;
        const r = rand(10);
        let input: KvInput;
        if (r < 4) input = { kind: 'get', key };
        else if (r < 8) input = { kind: 'put', key, value: `v${++counter}` };
        else input = { kind: 'cas', key, expected: lastSeen.get(key) ?? null, value: `v${++counter}` };
        const callMs = performance.now();
        try {
          const output = await perform(session, input);
          history.push({ clientId, input, output, callMs, returnMs: performance.now() });
          if (input.kind === 'get' && typeof output === 'string') lastSeen.set(key, output);
        } catch {
          history.push({ clientId, input, callMs, returnMs: Infinity });
          await sleep(10);
        }
      }
    });

    const chaos = (async () => {
      for (const delayMs of [1500, 3500]) {
        await sleep(delayMs);
        const leader = await findLeader(cluster!, client!);
        await cluster!.kill(leader.name, 'SIGKILL');
        await sleep(1200);
        cluster!.start(leader.name);
      }
    })();
    await Promise.all([...workers, chaos]);

    const completed = history.filter((op) => op.returnMs !== Infinity).length;
    expect(completed).toBeGreaterThan(100);
    const model = kvModel();
    const result = checkLinearizable(model, history, { timeoutMs: 60_000 });
    if (result.result !== 'ok') console.error(explain(model, result));
    expect(result.result).toBe('ok');
  });
});
