import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kvService, leaseService, METADATA_LEADER, METADATA_LEADER_ENDPOINT } from '../src/rpc/definitions.js';
import { LocalCluster } from './support/local-cluster.js';

const KvClient = grpc.makeGenericClientConstructor(kvService, 'KV');
const LeaseClient = grpc.makeGenericClientConstructor(leaseService, 'Lease');

function call<Res>(client: grpc.Client, method: string, request: unknown): Promise<Res> {
  return new Promise((resolve, reject) => {
    (client as unknown as Record<string, (req: unknown, cb: (err: grpc.ServiceError | null, res: Res) => void) => void>)[method]!(request, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

describe('CoordNode: three members over real gRPC and LevelDB', () => {
  let cluster: LocalCluster;
  beforeAll(async () => {
    cluster = await LocalCluster.start();
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it('elects a leader, replicates a put, and serves reads on every member', async () => {
    const leader = await cluster.waitForLeader();
    const kv = new KvClient(cluster.clientEndpoint(leader.id), grpc.credentials.createInsecure());
    await call(kv, 'Put', { clientId: 'c1', seq: 1, key: 'greeting', value: Buffer.from('hello') });
    for (const name of cluster.nodes.keys()) {
      const client = new KvClient(cluster.clientEndpoint(name), grpc.credentials.createInsecure());
      const res = await call<{ kv?: { value: Uint8Array }; header: { serializable: boolean } }>(client, 'Get', { key: 'greeting' });
      expect(Buffer.from(res.kv!.value).toString()).toBe('hello');
      expect(res.header.serializable).toBe(false);
      client.close();
    }
    kv.close();
  });

  it('a follower refuses a put with where the leader is', async () => {
    const leader = await cluster.waitForLeader();
    const follower = [...cluster.nodes.keys()].find((n) => n !== leader.id)!;
    const kv = new KvClient(cluster.clientEndpoint(follower), grpc.credentials.createInsecure());
    const err = await call(kv, 'Put', { clientId: 'c2', seq: 1, key: 'k', value: Buffer.from('v') }).then(
      () => null,
      (e: grpc.ServiceError) => e,
    );
    expect(err?.code).toBe(grpc.status.UNAVAILABLE);
    expect(err?.metadata.get(METADATA_LEADER)).toEqual([leader.id]);
    expect(err?.metadata.get(METADATA_LEADER_ENDPOINT)).toEqual([cluster.clientEndpoint(leader.id)]);
    kv.close();
  });

  it('a retried put with the same seq applies once', async () => {
    const leader = await cluster.waitForLeader();
    const kv = new KvClient(cluster.clientEndpoint(leader.id), grpc.credentials.createInsecure());
    await call(kv, 'Put', { clientId: 'c3', seq: 1, key: 'once', value: Buffer.from('a') });
    await call(kv, 'Put', { clientId: 'c3', seq: 1, key: 'once', value: Buffer.from('a') });
    const res = await call<{ kv?: { version: number } }>(kv, 'Get', { key: 'once' });
    expect(Number(res.kv!.version)).toBe(1);
    kv.close();
  });

  it('grants a lease with an epoch and expires it when the holder stops renewing', async () => {
    const leader = await cluster.waitForLeader();
    const lease = new LeaseClient(cluster.clientEndpoint(leader.id), grpc.credentials.createInsecure());
    const granted = await call<{ granted: boolean; lease: { epoch: number; holder: string } }>(lease, 'Grant', { clientId: 'h1', seq: 1, name: 'active-hub', holder: 'hub1', ttlMs: 600 });
    expect(granted.granted).toBe(true);
    const epoch = Number(granted.lease.epoch);
    const other = await call<{ granted: boolean; lease: { holder: string } }>(lease, 'Grant', { clientId: 'h2', seq: 1, name: 'active-hub', holder: 'hub2', ttlMs: 600 });
    expect(other.granted).toBe(false);
    expect(other.lease.holder).toBe('hub1');
    await new Promise((r) => setTimeout(r, 1200));
    const after = await call<{ granted: boolean; lease: { holder: string; epoch: number } }>(lease, 'Grant', { clientId: 'h2', seq: 2, name: 'active-hub', holder: 'hub2', ttlMs: 600 });
    expect(after.granted).toBe(true);
    expect(Number(after.lease.epoch)).toBe(epoch + 1);
    lease.close();
  });
});
