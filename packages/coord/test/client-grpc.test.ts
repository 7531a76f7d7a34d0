/**
 * The client over real gRPC, against small fake members built from the same method definitions
 * as the servers (packages/coord/src/rpc/definitions.ts): redirects, a dropped connection with a
 * retry of the same seq, error mapping, one connection per member, the watch's resumption, TLS.
 */
import * as grpc from '@grpc/grpc-js';
import type { hubha } from '@hubha/proto/coord';
import { connect as tcpConnect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { CoordClient } from '../src/client/client.js';
import { CoordClientError } from '../src/client/errors.js';
import type { CoordClientOptions } from '../src/client/client.js';
import type { WatchEvent } from '../src/state/types.js';
import {
  METADATA_ERROR_CODE,
  METADATA_LEADER,
  METADATA_LEADER_ENDPOINT,
  clusterService,
  kvService,
  leaseService,
  watchService,
} from '../src/rpc/definitions.js';
import { makePki } from '../../raft/test/transport-helpers.js';

type Header = hubha.coord.ResponseHeader.$Properties;
type WatchResponse = hubha.coord.WatchResponse.$Properties;

// ------------------------------------------------------------------ fake members

interface Impl {
  kv?: grpc.UntypedServiceImplementation;
  lease?: grpc.UntypedServiceImplementation;
  cluster?: grpc.UntypedServiceImplementation;
  watch?: grpc.UntypedServiceImplementation;
}

interface Member {
  readonly address: string;
  readonly port: number;
  close(): void;
}

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startMember(impl: Impl, credentials = grpc.ServerCredentials.createInsecure()): Promise<Member> {
  const server = new grpc.Server();
  server.addService(kvService, impl.kv ?? {});
  server.addService(leaseService, impl.lease ?? {});
  server.addService(clusterService, impl.cluster ?? {});
  server.addService(watchService, impl.watch ?? {});
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', credentials, (err, p) => (err ? reject(err) : resolve(p))));
  const member = { address: `127.0.0.1:${port}`, port, close: () => server.forceShutdown() };
  cleanups.push(() => member.close());
  return member;
}

/** A TCP proxy in front of a member: counts connections and can drop them all. */
async function startProxy(target: Member): Promise<{ address: string; readonly connections: number; dropAll(): void }> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((downstream) => {
    connections++;
    const upstream = createConnectionTo(target.port);
    sockets.add(downstream);
    sockets.add(upstream);
    const destroy = (): void => {
      downstream.destroy();
      upstream.destroy();
      sockets.delete(downstream);
      sockets.delete(upstream);
    };
    downstream.on('error', destroy).on('close', destroy);
    upstream.on('error', destroy).on('close', destroy);
    downstream.pipe(upstream).pipe(downstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const proxy = {
    address: `127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    dropAll() {
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
  };
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        proxy.dropAll();
        server.close(() => resolve());
      }),
  );
  return proxy;
}

function createConnectionTo(port: number): Socket {
  return tcpConnect(port, '127.0.0.1');
}

function header(revision: number, member = 'n1'): Header {
  return { clusterId: 'test', member, revision, raftTerm: 3, leader: 'n1', serializable: false };
}

function refusal(status: grpc.status, metadata: Record<string, string>, details: string): Partial<grpc.ServiceError> {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(metadata)) md.set(k, v);
  return { code: status, details, metadata: md };
}

/** A follower: refuses every mutation and linearizable read with where the leader is. */
function follower(leaderEndpoint: string, seen: unknown[]): grpc.UntypedServiceImplementation {
  const refuse = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>): void => {
    seen.push(call.request);
    callback(refusal(grpc.status.UNAVAILABLE, { [METADATA_ERROR_CODE]: 'not-leader', [METADATA_LEADER]: 'n2', [METADATA_LEADER_ENDPOINT]: leaderEndpoint }, 'not-leader (leader: n2)'));
  };
  return { Put: refuse, Get: refuse, Delete: refuse, Txn: refuse, Range: refuse, DeleteRange: refuse };
}

async function connect(options: Partial<CoordClientOptions> & { endpoints: string[] }): Promise<CoordClient> {
  const client = await CoordClient.connect({ requestTimeoutMs: 3000, attemptTimeoutMs: 1000, backoff: { initialMs: 10, maxMs: 50, jitter: 0 }, ...options });
  cleanups.push(() => client.close());
  return client;
}

async function caught(p: Promise<unknown>): Promise<CoordClientError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(CoordClientError);
    return err as CoordClientError;
  }
  throw new Error('expected a rejection');
}

const until = async (cond: () => boolean, what: string, timeoutMs = 4000): Promise<void> => {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

// --------------------------------------------------------------------------- tests

describe('CoordClient over gRPC', () => {
  it('follows a follower\'s UNAVAILABLE + hubha-leader-endpoint to the leader, with the same client id and seq', async () => {
    const leaderSeen: hubha.coord.PutRequest[] = [];
    const leader = await startMember({
      kv: {
        Put: (call: grpc.ServerUnaryCall<hubha.coord.PutRequest, unknown>, callback: grpc.sendUnaryData<hubha.coord.PutResponse.$Properties>) => {
          leaderSeen.push(call.request);
          callback(null, { header: header(41, 'n2') });
        },
      },
    });
    const followerSeen: hubha.coord.PutRequest[] = [];
    const f = await startMember({ kv: follower(leader.address, followerSeen) });
    const client = await connect({ endpoints: [f.address] });
    const session = client.session('redirect');
    const res = await session.put('k', 'v');
    expect(res.revision).toBe(41);
    expect(res.header.member).toBe('n2');
    expect(followerSeen).toHaveLength(1);
    expect(leaderSeen).toHaveLength(1);
    expect(followerSeen[0]!.clientId).toBe(session.clientId);
    expect(leaderSeen[0]!.clientId).toBe(session.clientId);
    expect(Number(followerSeen[0]!.seq)).toBe(1);
    expect(Number(leaderSeen[0]!.seq)).toBe(1);
    expect(client.leaderEndpoint()).toBe(leader.address);
    expect(client.endpoints()).toEqual([f.address, leader.address]);
    // From now on straight to the leader.
    await session.put('k', 'w');
    expect(followerSeen).toHaveLength(1);
    expect(leaderSeen.map((r) => Number(r.seq))).toEqual([1, 2]);
  });

  it('retries with the same seq after the connection dropped, and the member\'s session table answers it once', async () => {
    // A member with the exactly-once session table of the real ones: seq == last → the cached answer.
    const table = new Map<string, { seq: number; response: hubha.coord.PutResponse.$Properties }>();
    let applied = 0;
    const seen: { clientId: string; seq: number }[] = [];
    let proxy: Awaited<ReturnType<typeof startProxy>> | null = null;
    const member = await startMember({
      kv: {
        Put: (call: grpc.ServerUnaryCall<hubha.coord.PutRequest, unknown>, callback: grpc.sendUnaryData<hubha.coord.PutResponse.$Properties>) => {
          const { clientId } = call.request;
          const seq = Number(call.request.seq);
          seen.push({ clientId, seq });
          const last = table.get(clientId);
          if (last !== undefined && last.seq === seq) {
            callback(null, last.response);
            return;
          }
          applied++;
          const response = { header: header(100 + applied) };
          table.set(clientId, { seq, response });
          if (applied === 1) {
            // Applied, but the answer is lost with the connection.
            proxy!.dropAll();
            return;
          }
          callback(null, response);
        },
      },
    });
    proxy = await startProxy(member);
    const client = await connect({ endpoints: [proxy.address] });
    const session = client.session('drop');
    const res = await session.put('k', 'v');
    expect(res.revision).toBe(101); // the first (only) application's answer
    expect(applied).toBe(1);
    expect(seen).toEqual([
      { clientId: session.clientId, seq: 1 },
      { clientId: session.clientId, seq: 1 },
    ]);
    expect(proxy.connections).toBe(2); // the retry needed a new connection
    await session.put('k', 'w');
    expect(seen.at(-1)).toEqual({ clientId: session.clientId, seq: 2 });
    expect(applied).toBe(2);
  });

  it('maps refusals to CoordClientError codes from the trailing metadata', async () => {
    const member = await startMember({
      kv: {
        Put: (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
          callback(refusal(grpc.status.FAILED_PRECONDITION, { [METADATA_ERROR_CODE]: 'lease-epoch-mismatch' }, 'lease-epoch-mismatch: lease l is held at epoch 4, not 3')),
        Get: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => callback(refusal(grpc.status.INVALID_ARGUMENT, { [METADATA_ERROR_CODE]: 'invalid-key' }, 'invalid-key: empty')),
        Range: (_call: unknown, callback: grpc.sendUnaryData<hubha.coord.RangeResponse.$Properties>) =>
          callback(null, { header: { ...header(1), revision: 2 ** 53 + 2 } }),
      },
      lease: {
        Grant: (_call: unknown, callback: grpc.sendUnaryData<hubha.coord.LeaseGrantResponse.$Properties>) =>
          callback(null, { header: header(5), granted: false, lease: { name: 'l', holder: 'other', ttlMs: 1000, epoch: 4, grantRevision: 3, renewCount: 0 } }),
      },
    });
    const client = await connect({ endpoints: [member.address] });
    const session = client.session();
    const put = await caught(session.put('k', 'v', { lease: { name: 'l', epoch: 3 } }));
    expect(put).toMatchObject({ code: 'lease-epoch-mismatch', grpcStatus: grpc.status.FAILED_PRECONDITION, endpoint: member.address });
    expect(put.message).toMatch(/held at epoch 4/);
    expect((await caught(session.get(''))).code).toBe('invalid-key');
    expect((await caught(session.range('p'))).code).toBe('malformed-response');
    expect((await caught(session.transferLeader())).code).toBe('unimplemented');
    // A "no" is an answer.
    await expect(session.leaseGrant({ name: 'l', holder: 'me', ttlMs: 1000 })).resolves.toMatchObject({ granted: false, lease: { holder: 'other', epoch: 4 } });
  });

  it('every service shares one HTTP/2 connection per member', async () => {
    const member = await startMember({
      kv: {
        Put: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { header: header(1) }),
        Get: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { header: header(1) }),
      },
      lease: { Grant: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { header: header(2), granted: true, lease: { name: 'l', holder: 'h', ttlMs: 1000, epoch: 1 } }) },
      cluster: {
        Status: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { header: header(2), role: 'leader' }),
        MemberList: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { header: header(2), members: [{ id: 'n1', role: 1 }] }),
      },
      watch: {
        Watch: (call: grpc.ServerWritableStream<hubha.coord.WatchRequest, WatchResponse>) => {
          call.write({ header: header(2) });
        },
      },
    });
    const proxy = await startProxy(member);
    const client = await connect({ endpoints: [proxy.address] });
    const session = client.session();
    const watch = client.watch({ key: 'k', startRevision: 3 });
    await Promise.all([session.put('k', 'v'), session.get('k'), session.leaseGrant({ name: 'l', holder: 'h', ttlMs: 1000 }), session.status(), session.memberList(), client.session().put('x', 'y')]);
    await until(() => watch.nextRevision === 3, 'the watch to start');
    expect(proxy.connections).toBe(1);
    watch.cancel();
  });

  it('watch: delivers events, resumes on another member from the last revision + 1 after a failure', async () => {
    const ev = (revision: number, key = 'k'): hubha.coord.WatchEvent.$Properties => ({ type: 1, key, value: Buffer.from(`v${revision}`), createRevision: 2, modRevision: revision, version: revision - 1, revision });
    const requestsA: hubha.coord.WatchRequest[] = [];
    const a = await startMember({
      watch: {
        Watch: (call: grpc.ServerWritableStream<hubha.coord.WatchRequest, WatchResponse>) => {
          requestsA.push(call.request);
          call.write({ header: header(6), events: [ev(5)] });
          call.write({ header: header(6), events: [ev(6), ev(6, 'k2')] });
          setTimeout(() => call.emit('error', refusal(grpc.status.UNAVAILABLE, {}, 'member going away')), 20);
        },
      },
    });
    const requestsB: hubha.coord.WatchRequest[] = [];
    const b = await startMember({
      watch: {
        Watch: (call: grpc.ServerWritableStream<hubha.coord.WatchRequest, WatchResponse>) => {
          requestsB.push(call.request);
          call.write({ header: header(7), events: [ev(7)] });
        },
      },
    });
    const client = await connect({ endpoints: [a.address, b.address] });
    const watch = client.watch({ key: 'k', prefix: true, startRevision: 5 });
    const got: WatchEvent[] = [];
    for await (const event of watch) {
      got.push(event);
      if (got.length === 4) break;
    }
    expect(got.map((e) => [e.key, e.revision])).toEqual([
      ['k', 5],
      ['k', 6],
      ['k2', 6],
      ['k', 7],
    ]);
    expect(got[0]).toEqual({ type: 'put', key: 'k', value: new Uint8Array(Buffer.from('v5')), createRevision: 2, modRevision: 5, version: 4, revision: 5 });
    expect(requestsA.map((r) => [r.key, r.prefix, Number(r.startRevision), r.progressNotify])).toEqual([['k', true, 5, true]]);
    expect(requestsB.map((r) => Number(r.startRevision))).toEqual([7]);
    expect(watch.nextRevision).toBe(8);
  });

  it('watch: without a start revision, starts after the member\'s revision; an idle response moves the resume point', async () => {
    const requests: hubha.coord.WatchRequest[] = [];
    let calls = 0;
    const member = await startMember({
      cluster: { Status: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { header: header(30), role: 'follower' }) },
      watch: {
        Watch: (call: grpc.ServerWritableStream<hubha.coord.WatchRequest, WatchResponse>) => {
          requests.push(call.request);
          calls++;
          if (calls === 1) {
            call.write({ header: header(44) }); // progress: nothing for us up to 44
            setTimeout(() => call.end(), 10); // and the stream ends without an error
          } else {
            call.write({ header: header(45), events: [{ type: 2, key: 'k', createRevision: 3, modRevision: 45, revision: 45, prevValue: Buffer.from('old'), lease: { name: 'l', epoch: 2 } }] });
          }
        },
      },
    });
    const client = await connect({ endpoints: [member.address] });
    const watch = client.watch({ key: 'k' });
    const iterator = watch[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.value).toEqual({ type: 'delete', key: 'k', value: new Uint8Array(0), prevValue: new Uint8Array(Buffer.from('old')), createRevision: 3, modRevision: 45, version: 0, lease: { name: 'l', epoch: 2 }, revision: 45 });
    expect(requests.map((r) => [r.prefix, Number(r.startRevision)])).toEqual([
      [false, 31],
      [false, 45],
    ]);
    watch.cancel();
    await expect(iterator.next()).resolves.toEqual({ done: true, value: undefined });
  });

  it('watch: compacted ends the iteration with code compacted, after the events before it', async () => {
    const member = await startMember({
      watch: {
        Watch: (call: grpc.ServerWritableStream<hubha.coord.WatchRequest, WatchResponse>) => {
          if (Number(call.request.startRevision) === 3) {
            call.write({ header: header(3), events: [{ type: 1, key: 'k', revision: 3, modRevision: 3, createRevision: 3, version: 1 }] });
            call.emit('error', refusal(grpc.status.UNAVAILABLE, {}, 'drop'));
            return;
          }
          call.write({ header: header(9), compacted: true, compactRevision: 8 });
          call.end();
        },
      },
    });
    const client = await connect({ endpoints: [member.address] });
    const watch = client.watch({ key: 'k', startRevision: 3 });
    const got: number[] = [];
    const err = await caught(
      (async () => {
        for await (const e of watch) got.push(e.revision);
      })(),
    );
    expect(got).toEqual([3]);
    expect(err.code).toBe('compacted');
    expect(err.compactRevision).toBe(8);
  });

  it('watch: breaking out of the loop cancels the server stream; closing the client ends watches with closed', async () => {
    let cancelled = 0;
    const member = await startMember({
      watch: {
        Watch: (call: grpc.ServerWritableStream<hubha.coord.WatchRequest, WatchResponse>) => {
          call.on('cancelled', () => cancelled++);
          call.write({ header: header(1), events: [{ type: 1, key: 'k', revision: 1, modRevision: 1, createRevision: 1, version: 1 }] });
        },
      },
    });
    const client = await connect({ endpoints: [member.address] });
    for await (const _ of client.watch({ key: 'k', startRevision: 1 })) break;
    await until(() => cancelled === 1, 'the stream to be cancelled');

    const watch = client.watch({ key: 'k', startRevision: 1 });
    const iterator = watch[Symbol.asyncIterator]();
    await iterator.next();
    const pending = iterator.next();
    await client.close();
    expect((await caught(pending)).code).toBe('closed');
  });

  it('a fatal watch refusal ends the iteration with its code', async () => {
    const member = await startMember({
      watch: {
        Watch: (call: grpc.ServerWritableStream<hubha.coord.WatchRequest, WatchResponse>) => {
          call.emit('error', refusal(grpc.status.INVALID_ARGUMENT, { [METADATA_ERROR_CODE]: 'invalid-key' }, 'invalid-key: too long'));
        },
      },
    });
    const client = await connect({ endpoints: [member.address] });
    const err = await caught(
      (async () => {
        for await (const _ of client.watch({ key: 'k', startRevision: 1 })) {
          // nothing
        }
      })(),
    );
    expect(err.code).toBe('invalid-key');
  });

  it('unreachable members: unavailable within the deadline; close() is idempotent and refuses new calls', async () => {
    const dead = await startMember({});
    dead.close();
    const client = await connect({ endpoints: [dead.address], requestTimeoutMs: 300 });
    const started = Date.now();
    const err = await caught(client.session().put('k', 'v'));
    expect(['unavailable', 'timeout']).toContain(err.code);
    expect(Date.now() - started).toBeLessThan(2000);
    await client.close();
    await client.close();
    await client[Symbol.asyncDispose]();
    expect(() => client.session()).toThrow(CoordClientError);
    expect(() => client.watch({ key: 'k' })).toThrow(CoordClientError);
  });

  it('mutual TLS: ca / cert / key as file paths or as PEM text', async () => {
    const pki = makePki({ ca1: ['server', 'client'] });
    cleanups.push(() => pki.dispose());
    const member = await startMember(
      { cluster: { Status: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { header: header(1), role: 'leader', version: 'x' }) } },
      grpc.ServerCredentials.createSsl(readFileSync(pki.caFile('ca1')), [{ private_key: readFileSync(pki.keyFile('ca1', 'server')), cert_chain: readFileSync(pki.certFile('ca1', 'server')) }], true),
    );
    const byPath = await connect({ endpoints: [member.address], tls: { ca: pki.caFile('ca1'), cert: pki.certFile('ca1', 'client'), key: pki.keyFile('ca1', 'client') } });
    await expect(byPath.session().status()).resolves.toMatchObject({ role: 'leader', version: 'x' });
    const byText = await connect({
      endpoints: [member.address],
      tls: { ca: readFileSync(pki.caFile('ca1'), 'utf8'), cert: readFileSync(pki.certFile('ca1', 'client')), key: readFileSync(pki.keyFile('ca1', 'client'), 'utf8') },
    });
    await expect(byText.session().status()).resolves.toMatchObject({ role: 'leader' });
    // Plaintext to a TLS member does not get through.
    const plain = await connect({ endpoints: [member.address], requestTimeoutMs: 300 });
    expect(['unavailable', 'timeout']).toContain((await caught(plain.session().status())).code);
    await expect(CoordClient.connect({ endpoints: [member.address], tls: { ca: '/nonexistent/ca.pem', cert: 'x', key: 'y' } })).rejects.toMatchObject({ code: 'invalid-argument' });
  });
});
