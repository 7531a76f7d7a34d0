import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { CoordClient } from '../src/client/client.js';
import { CoordClientError } from '../src/client/errors.js';
import { classifyFailure } from '../src/client/router.js';
import type { RpcTransport, StreamHandle, StreamHandlers, UnaryOptions } from '../src/client/transport.js';
import { RpcFailure } from '../src/client/transport.js';
import { u64 } from '../src/client/wire.js';

// ------------------------------------------------------------------ a fake transport

interface SentCall {
  readonly endpoint: string;
  readonly path: string;
  readonly request: Record<string, unknown>;
}

type Handler = (call: SentCall, index: number) => unknown;

const HANG = Symbol('hang');

/**
 * Answers each call with `handler` (a value, a thrown RpcFailure, a promise, or HANG: no answer
 * until the attempt's deadline). Records every call and the session-level concurrency.
 */
class FakeTransport implements RpcTransport {
  readonly calls: SentCall[] = [];
  inflight = 0;
  maxInflight = 0;
  closed = false;

  constructor(public handler: Handler) {}

  async unary<Req, Res>(endpoint: string, method: grpc.MethodDefinition<Req, Res>, request: Req, options: UnaryOptions): Promise<Res> {
    const call: SentCall = { endpoint, path: method.path, request: request as Record<string, unknown> };
    this.calls.push(call);
    this.inflight++;
    this.maxInflight = Math.max(this.maxInflight, this.inflight);
    try {
      const answer = await new Promise<unknown>((resolve, reject) => {
        const timer = setTimeout(() => reject(new RpcFailure(endpoint, grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded')), options.timeoutMs);
        options.signal?.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(new RpcFailure(endpoint, grpc.status.CANCELLED, 'Cancelled on client'));
        });
        Promise.resolve()
          .then(() => this.handler(call, this.calls.length - 1))
          .then(
            (value) => {
              if (value === HANG) return;
              clearTimeout(timer);
              resolve(value);
            },
            (err: unknown) => {
              clearTimeout(timer);
              reject(err);
            },
          );
      });
      return answer as Res;
    } finally {
      this.inflight--;
    }
  }

  serverStream<Req, Res>(_endpoint: string, _method: grpc.MethodDefinition<Req, Res>, _request: Req, _handlers: StreamHandlers<Res>): StreamHandle {
    throw new Error('not used here');
  }

  close(): void {
    this.closed = true;
  }
}

function fail(endpoint: string, status: grpc.status, metadata: Record<string, string> = {}, details = 'refused'): RpcFailure {
  return new RpcFailure(endpoint, status, details, new Map(Object.entries(metadata)));
}

const header = (revision: number, member = 'n1') => ({ clusterId: 'c', member, revision, raftTerm: 2, leader: 'n1', serializable: false });

function putOk(revision: number) {
  return { header: header(revision) };
}

const clients: CoordClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

async function makeClient(transport: FakeTransport, extra: Partial<Parameters<typeof CoordClient.connect>[0]> = {}): Promise<CoordClient> {
  const client = await CoordClient.connect({
    endpoints: ['a:1', 'b:2', 'c:3'],
    transport,
    requestTimeoutMs: 2000,
    attemptTimeoutMs: 500,
    backoff: { initialMs: 1, maxMs: 4, jitter: 0 },
    ...extra,
  });
  clients.push(client);
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

// ---------------------------------------------------------------------------- tests

describe('CoordSession: sequencing (exactly-once)', () => {
  it('gives each mutation the next seq, one in flight at a time, in call order', async () => {
    const transport = new FakeTransport(async (call) => {
      await new Promise((r) => setTimeout(r, 5));
      return putOk(10 + Number(call.request.seq));
    });
    const client = await makeClient(transport);
    const session = client.session('sidecar');
    expect(session.clientId).toMatch(/^sidecar-[0-9a-f-]{36}$/);
    const results = await Promise.all([session.put('k1', 'v1'), session.put('k2', new Uint8Array([1, 2])), session.delete('k1'), session.put('k3', 'v3')]);
    expect(results.map((r) => r.revision)).toEqual([11, 12, 13, 14]);
    expect(transport.maxInflight).toBe(1);
    expect(transport.calls.map((c) => [c.path.split('/')[2], c.request.key, c.request.seq, c.request.clientId])).toEqual([
      ['Put', 'k1', 1, session.clientId],
      ['Put', 'k2', 2, session.clientId],
      ['Delete', 'k1', 3, session.clientId],
      ['Put', 'k3', 4, session.clientId],
    ]);
    expect(transport.calls[0]!.request.value).toEqual(new TextEncoder().encode('v1'));
    expect(session.seq).toBe(4);
    // Two sessions are independent client ids.
    const other = client.session('sidecar');
    expect(other.clientId).not.toBe(session.clientId);
  });

  it('retries a mutation with the same seq across failover, and moves to a new seq only after it is settled', async () => {
    const script = [
      () => {
        throw fail('a:1', grpc.status.UNAVAILABLE, {}, 'Connection dropped');
      },
      () => {
        throw fail('b:2', grpc.status.DEADLINE_EXCEEDED, { 'hubha-error-code': 'outcome-unknown' });
      },
      () => putOk(7),
      () => putOk(8),
    ];
    const transport = new FakeTransport((_call, i) => script[i]!());
    const client = await makeClient(transport);
    const session = client.session('s');
    await expect(session.put('k', 'v')).resolves.toMatchObject({ revision: 7 });
    await expect(session.put('k', 'w')).resolves.toMatchObject({ revision: 8 });
    expect(transport.calls.map((c) => [c.endpoint, c.request.seq])).toEqual([
      ['a:1', 1],
      ['b:2', 1], // connection failure: the next endpoint
      ['b:2', 1], // the server timed it out: the same member again
      ['b:2', 2],
    ]);
    // The retries are the very same request.
    expect(transport.calls[1]!.request).toBe(transport.calls[2]!.request);
  });

  it('after a mutation fails for good, the next one takes a new seq (never the abandoned one)', async () => {
    let refuse = true;
    const transport = new FakeTransport(() => {
      if (refuse) throw fail('x', grpc.status.UNAVAILABLE);
      return putOk(3);
    });
    const client = await makeClient(transport);
    const session = client.session('s');
    const err = await caught(session.put('k', 'v', { timeoutMs: 30 }));
    expect(err.code).toBe('unavailable');
    refuse = false;
    await session.put('k', 'w');
    const seqs = transport.calls.map((c) => c.request.seq);
    expect(new Set(seqs.slice(0, -1))).toEqual(new Set([1]));
    expect(seqs.at(-1)).toBe(2);
  });

  it('a mutation whose deadline passes while queued is never sent and uses no seq', async () => {
    const transport = new FakeTransport(async (call) => {
      if (call.request.key === 'slow') await new Promise((r) => setTimeout(r, 80));
      return putOk(1);
    });
    const client = await makeClient(transport);
    const session = client.session('s');
    const slow = session.put('slow', 'v');
    const expired = session.put('late', 'v', { timeoutMs: 20 });
    const err = await caught(expired);
    expect(err.code).toBe('timeout');
    await slow;
    await session.put('next', 'v');
    expect(transport.calls.map((c) => [c.request.key, c.request.seq])).toEqual([
      ['slow', 1],
      ['next', 2],
    ]);
  });

  it('bounds the queue (queue-full), and priority mutations go ahead of queued ones', async () => {
    const transport = new FakeTransport(async () => {
      await new Promise((r) => setTimeout(r, 10));
      return putOk(1);
    });
    const client = await makeClient(transport, { maxQueuedMutations: 2 });
    const session = client.session('s');
    const first = session.put('first', 'v'); // in flight
    const q1 = session.put('q1', 'v');
    const q2 = session.put('q2', 'v');
    const err = await caught(session.put('q3', 'v'));
    expect(err.code).toBe('queue-full');
    // A priority request is not refused by a full queue, and goes ahead of it.
    const grant = session.leaseGrant({ name: 'l', holder: 'h', ttlMs: 1000 }, { priority: true });
    transport.handler = async (call) => {
      await new Promise((r) => setTimeout(r, 10));
      return call.path.endsWith('/Grant') ? { header: header(2), granted: true, lease: { name: 'l', holder: 'h', ttlMs: 1000, epoch: 1 } } : putOk(1);
    };
    await Promise.all([first, q1, q2, grant]);
    expect(transport.calls.map((c) => c.request.key ?? c.request.name)).toEqual(['first', 'l', 'q1', 'q2']);
  });

  it('a lease keeper never waits behind the session mutation in flight (its own client id and seqs)', async () => {
    // The put hangs as it would on a leader that went silent; the lease service answers.
    const lease = { name: 'l', holder: 'h', ttlMs: 1000, epoch: 1, grantRevision: 1, renewCount: 0 };
    const transport = new FakeTransport((call) => {
      if (call.path.endsWith('/Grant')) return { header: header(2), granted: true, lease };
      if (call.path.endsWith('/KeepAlive')) return { header: header(3), renewed: true, lease };
      return HANG;
    });
    const client = await makeClient(transport, { attemptTimeoutMs: 5000, requestTimeoutMs: 5000 });
    const session = client.session('hub-hub1');
    const stuck = session.put('report', 'v').catch((err: unknown) => err);
    await new Promise((r) => setTimeout(r, 5));
    const keeper = session.keepLease({ name: 'l', holder: 'h', ttlMs: 1000, renewIntervalMs: 100 });
    const renewals: number[] = [];
    keeper.on('renewed', () => renewals.push(performance.now()));
    const started = performance.now();
    await new Promise<void>((resolve) => keeper.on('acquired', () => resolve()));
    expect(performance.now() - started).toBeLessThan(1000);
    await new Promise((r) => setTimeout(r, 350));
    expect(renewals.length).toBeGreaterThanOrEqual(2);
    expect(keeper.isHeld()).toBe(true);
    const put = transport.calls.find((c) => c.path.endsWith('/Put'))!;
    const leaseCalls = transport.calls.filter((c) => !c.path.endsWith('/Put'));
    expect(put.request.clientId).toMatch(/^hub-hub1-/);
    expect(new Set(leaseCalls.map((c) => c.request.clientId)).size).toBe(1);
    expect(leaseCalls[0]!.request.clientId).toMatch(/^hub-hub1\.lease-/);
    expect(leaseCalls.map((c) => c.request.seq)).toEqual(leaseCalls.map((_, i) => i + 1));
    // Closing the session stops its keepers and their lane.
    await session.close();
    expect(keeper.isHeld()).toBe(false);
    await client.close();
    expect(await stuck).toBeInstanceOf(CoordClientError);
  });

  it('closing the session fails its queued mutations; closing the client cancels the one in flight', async () => {
    const transport = new FakeTransport(() => HANG);
    const client = await makeClient(transport, { attemptTimeoutMs: 10_000, requestTimeoutMs: 10_000 });
    const session = client.session('s');
    const inFlight = session.put('a', 'v');
    const queued = session.put('b', 'v');
    await new Promise((r) => setTimeout(r, 5));
    await session.close();
    expect((await caught(queued)).code).toBe('closed');
    expect((await caught(session.put('c', 'v'))).code).toBe('closed');
    await client.close();
    expect((await caught(inFlight)).code).toBe('closed');
    expect(transport.closed).toBe(true);
    expect(() => client.session()).toThrow(CoordClientError);
    await client.close(); // idempotent
  });

  it('property: whatever the failures, one seq per mutation, strictly increasing, one request in flight', async () => {
    const failureKinds = ['connection', 'redirect', 'no-leader', 'server-timeout', 'overloaded'] as const;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(fc.constantFrom(...failureKinds), { maxLength: 4 }), { minLength: 1, maxLength: 5 }), async (scripts) => {
        // Attempts per seq; the "server" applies each seq once (it deduplicates retries).
        const attempts = new Map<number, number>();
        const applied: number[] = [];
        const transport = new FakeTransport((call) => {
          const seq = call.request.seq as number;
          const n = attempts.get(seq) ?? 0;
          attempts.set(seq, n + 1);
          const kind = scripts[seq - 1]![n];
          switch (kind) {
            case 'connection':
              throw fail(call.endpoint, grpc.status.UNAVAILABLE, {}, 'Connection dropped');
            case 'redirect':
              throw fail(call.endpoint, grpc.status.UNAVAILABLE, { 'hubha-error-code': 'not-leader', 'hubha-leader': 'n3', 'hubha-leader-endpoint': 'c:3' });
            case 'no-leader':
              throw fail(call.endpoint, grpc.status.UNAVAILABLE, { 'hubha-error-code': 'not-leader' });
            case 'server-timeout':
              if (!applied.includes(seq)) applied.push(seq); // applied, but the answer was lost
              throw fail(call.endpoint, grpc.status.DEADLINE_EXCEEDED, { 'hubha-error-code': 'outcome-unknown' });
            case 'overloaded':
              throw fail(call.endpoint, grpc.status.RESOURCE_EXHAUSTED, { 'hubha-error-code': 'overloaded' });
            default:
              if (!applied.includes(seq)) applied.push(seq);
              return putOk(100 + seq);
          }
        });
        const client = await CoordClient.connect({ endpoints: ['a:1', 'b:2', 'c:3'], transport, backoff: { initialMs: 1, maxMs: 2, jitter: 0 }, maxAttempts: 50 });
        try {
          const session = client.session('p');
          const results = await Promise.all(scripts.map((_, i) => session.put(`k${i}`, 'v')));
          expect(results.map((r) => r.revision)).toEqual(scripts.map((_, i) => 101 + i));
          expect(transport.maxInflight).toBe(1);
          expect(applied).toEqual(scripts.map((_, i) => i + 1));
          for (const [i, script] of scripts.entries()) expect(attempts.get(i + 1)).toBe(script.length + 1);
          // Every attempt of mutation i carries seq i + 1 and key k<i>.
          for (const call of transport.calls) expect(call.request.key).toBe(`k${(call.request.seq as number) - 1}`);
          // Sent in order: seqs never go back.
          const seqs = transport.calls.map((c) => c.request.seq as number);
          expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
        } finally {
          await client.close();
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe('Router: leader discovery and failover', () => {
  it('follows hubha-leader-endpoint, then goes to the leader directly', async () => {
    const transport = new FakeTransport((call) => {
      if (call.endpoint !== 'b:2') throw fail(call.endpoint, grpc.status.UNAVAILABLE, { 'hubha-error-code': 'not-leader', 'hubha-leader': 'n2', 'hubha-leader-endpoint': 'b:2' });
      return putOk(5);
    });
    const client = await makeClient(transport);
    const session = client.session('s');
    await session.put('k', 'v');
    expect(client.leaderEndpoint()).toBe('b:2');
    await session.put('k', 'v');
    await session.get('k');
    expect(transport.calls.map((c) => [c.endpoint, c.request.seq])).toEqual([
      ['a:1', 1],
      ['b:2', 1],
      ['b:2', 2],
      ['b:2', undefined],
    ]);
  });

  it('learns an endpoint it was not configured with from a redirect', async () => {
    const transport = new FakeTransport((call) => {
      if (call.endpoint !== 'd:4') throw fail(call.endpoint, grpc.status.UNAVAILABLE, { 'hubha-error-code': 'not-leader', 'hubha-leader': 'n4', 'hubha-leader-endpoint': 'd:4' });
      return putOk(5);
    });
    const client = await makeClient(transport, { endpoints: ['a:1'] });
    await client.session().put('k', 'v');
    expect(client.endpoints()).toEqual(['a:1', 'd:4']);
    expect(client.leaderEndpoint()).toBe('d:4');
  });

  it('rotates past unreachable members; a leader that stops answering is forgotten', async () => {
    let down = new Set(['a:1']);
    const transport = new FakeTransport((call) => {
      if (down.has(call.endpoint)) throw fail(call.endpoint, grpc.status.UNAVAILABLE, {}, 'No connection established');
      return putOk(1);
    });
    const client = await makeClient(transport);
    const session = client.session('s');
    await session.put('k', 'v');
    expect(client.leaderEndpoint()).toBe('b:2');
    down = new Set(['b:2']);
    await session.put('k', 'v');
    expect(client.leaderEndpoint()).toBe('c:3');
    expect(transport.calls.map((c) => c.endpoint)).toEqual(['a:1', 'b:2', 'b:2', 'c:3']);
  });

  it('waits out an election (no leader known) with backoff, then succeeds', async () => {
    const transport = new FakeTransport((_call, i) => {
      if (i < 4) throw fail('x', grpc.status.UNAVAILABLE, { 'hubha-error-code': 'not-leader' });
      return putOk(9);
    });
    const client = await makeClient(transport);
    await expect(client.session().put('k', 'v')).resolves.toMatchObject({ revision: 9 });
    expect(new Set(transport.calls.map((c) => c.request.seq))).toEqual(new Set([1]));
  });

  it('gives up at the deadline: unavailable when nobody answers, timeout when the last attempt hung', async () => {
    const down = new FakeTransport((call) => {
      throw fail(call.endpoint, grpc.status.UNAVAILABLE, {}, 'No connection established');
    });
    const client = await makeClient(down);
    const started = performance.now();
    const err = await caught(client.session().put('k', 'v', { timeoutMs: 100 }));
    expect(err.code).toBe('unavailable');
    expect(err.cause).toBeInstanceOf(RpcFailure);
    expect(performance.now() - started).toBeLessThan(1000);

    const hung = new FakeTransport(() => HANG);
    const client2 = await makeClient(hung, { attemptTimeoutMs: 30 });
    const err2 = await caught(client2.session().put('k', 'v', { timeoutMs: 100 }));
    expect(err2.code).toBe('timeout');
    expect(hung.calls.length).toBeGreaterThanOrEqual(2);
    // The attempts went round the members, all with seq 1.
    expect(new Set(hung.calls.map((c) => c.request.seq))).toEqual(new Set([1]));
  });

  it('stops after maxAttempts', async () => {
    const transport = new FakeTransport((call) => {
      throw fail(call.endpoint, grpc.status.UNAVAILABLE, { 'hubha-error-code': 'not-leader' });
    });
    const client = await makeClient(transport, { maxAttempts: 3 });
    const err = await caught(client.session().get('k'));
    expect(err.code).toBe('unavailable');
    expect(err.message).toMatch(/too many attempts/);
    expect(transport.calls).toHaveLength(3);
  });

  it('status(endpoint) asks that member once', async () => {
    const transport = new FakeTransport((call) => {
      throw fail(call.endpoint, grpc.status.UNAVAILABLE, {}, 'No connection established');
    });
    const client = await makeClient(transport);
    const err = await caught(client.session().status('c:3'));
    expect(err.code).toBe('unavailable');
    expect(err.endpoint).toBe('c:3');
    expect(transport.calls.map((c) => c.endpoint)).toEqual(['c:3']);
  });

  it('serializable reads go to any member (no redirect needed)', async () => {
    const transport = new FakeTransport((call) => {
      if (call.request.serializable !== true) throw fail(call.endpoint, grpc.status.UNAVAILABLE, { 'hubha-error-code': 'not-leader', 'hubha-leader-endpoint': 'c:3' });
      return { header: { ...header(4), serializable: true }, kv: { key: 'k', value: new Uint8Array([7]), createRevision: 2, modRevision: 4, version: 3 } };
    });
    const client = await makeClient(transport);
    const res = await client.session().get('k', { serializable: true });
    expect(res.kv).toEqual({ key: 'k', value: new Uint8Array([7]), createRevision: 2, modRevision: 4, version: 3, lease: null });
    expect(res.header.serializable).toBe(true);
    expect(transport.calls).toHaveLength(1);
  });
});

describe('error mapping and decoding', () => {
  it('classifies failures', () => {
    expect(classifyFailure(fail('a', grpc.status.UNAVAILABLE, { 'hubha-leader-endpoint': 'b:2' }))).toEqual({ kind: 'redirect', endpoint: 'b:2' });
    expect(classifyFailure(fail('a', grpc.status.UNAVAILABLE, { 'hubha-error-code': 'not-leader' }))).toEqual({ kind: 'no-leader' });
    expect(classifyFailure(fail('a', grpc.status.UNAVAILABLE))).toEqual({ kind: 'connection' });
    expect(classifyFailure(fail('a', grpc.status.CANCELLED))).toEqual({ kind: 'connection' });
    expect(classifyFailure(fail('a', grpc.status.DEADLINE_EXCEEDED))).toEqual({ kind: 'timeout', server: false });
    expect(classifyFailure(fail('a', grpc.status.DEADLINE_EXCEEDED, { 'hubha-error-code': 'timeout' }))).toEqual({ kind: 'timeout', server: true });
    expect(classifyFailure(fail('a', grpc.status.RESOURCE_EXHAUSTED, { 'hubha-error-code': 'too-many-uncommitted-bytes' }))).toEqual({ kind: 'overloaded' });
    const fatal = classifyFailure(fail('a', grpc.status.FAILED_PRECONDITION, { 'hubha-error-code': 'lease-epoch-mismatch' }, 'lease-epoch-mismatch: held at 4'));
    expect(fatal.kind).toBe('fatal');
    expect(fatal.kind === 'fatal' && fatal.error).toMatchObject({ code: 'lease-epoch-mismatch', grpcStatus: grpc.status.FAILED_PRECONDITION, endpoint: 'a', message: 'lease-epoch-mismatch: held at 4' });
  });

  it.each([
    [grpc.status.FAILED_PRECONDITION, { 'hubha-error-code': 'lease-not-held' }, 'lease-not-held'],
    [grpc.status.INVALID_ARGUMENT, { 'hubha-error-code': 'invalid-key' }, 'invalid-key'],
    [grpc.status.INVALID_ARGUMENT, {}, 'invalid-argument'],
    [grpc.status.UNIMPLEMENTED, {}, 'unimplemented'],
    [grpc.status.RESOURCE_EXHAUSTED, {}, 'resource-exhausted'],
    [grpc.status.PERMISSION_DENIED, {}, 'permission-denied'],
    [grpc.status.INTERNAL, {}, 'internal'],
  ] as const)('status %s %o is refused as %s, without retry', async (status, metadata, code) => {
    const transport = new FakeTransport((call) => {
      throw fail(call.endpoint, status, metadata);
    });
    const client = await makeClient(transport);
    const session = client.session('s');
    const err = await caught(session.put('k', 'v', { lease: { name: 'l', epoch: 3 } }));
    expect(err.code).toBe(code);
    expect(err.grpcStatus).toBe(status);
    expect(transport.calls).toHaveLength(1);
    expect(transport.calls[0]!.request.lease).toEqual({ name: 'l', epoch: 3 });
  });

  it('"no" answers of leases are values, not errors', async () => {
    const other = { name: 'l', holder: 'other', ttlMs: 1000, metadata: { a: '1' }, epoch: 4, grantRevision: 9, renewCount: 2 };
    const transport = new FakeTransport((call) => {
      if (call.path.endsWith('/Grant')) return { header: header(9), granted: false, lease: other };
      if (call.path.endsWith('/KeepAlive')) return { header: header(9), renewed: false };
      return { header: header(9), released: false, lease: other, deleted: 0 };
    });
    const client = await makeClient(transport);
    const session = client.session('s');
    await expect(session.leaseGrant({ name: 'l', holder: 'me', ttlMs: 1000, metadata: { x: 'y' } })).resolves.toEqual({ header: header(9), revision: 9, granted: false, lease: other });
    await expect(session.leaseKeepAlive({ name: 'l', holder: 'me', epoch: 3 })).resolves.toMatchObject({ renewed: false, lease: null });
    await expect(session.leaseRelease({ name: 'l', holder: 'me', epoch: 3 })).resolves.toMatchObject({ released: false, lease: other, deleted: 0 });
    expect(transport.calls[0]!.request).toMatchObject({ name: 'l', holder: 'me', ttlMs: 1000, metadata: { x: 'y' }, seq: 1 });
    expect(transport.calls[1]!.request).toMatchObject({ epoch: 3, updateMetadata: false, seq: 2 });
  });

  it('uint64 beyond MAX_SAFE_INTEGER is a malformed response; Long values within range decode', async () => {
    expect(u64({ low: 5, high: 1, unsigned: true }, 'x')).toBe(2 ** 32 + 5);
    expect(u64({ low: -1, high: 0x1f_ffff, unsigned: true }, 'x')).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => u64({ low: 0, high: 0x20_0000, unsigned: true }, 'x')).toThrow(/MAX_SAFE_INTEGER/);
    const transport = new FakeTransport(() => ({ header: { ...header(1), revision: { low: 1, high: 0x20_0000, unsigned: true } } }));
    const client = await makeClient(transport);
    const err = await caught(client.session().put('k', 'v'));
    expect(err.code).toBe('malformed-response');
  });

  it('refuses bad arguments locally, before using a seq', async () => {
    const transport = new FakeTransport(() => putOk(1));
    const client = await makeClient(transport);
    const session = client.session('s');
    expect((await caught(session.put('k', 'v', { lease: { name: 'l', epoch: -1 } }))).code).toBe('invalid-argument');
    expect((await caught(session.leaseGrant({ name: 'l', holder: 'h', ttlMs: 1.5 }))).code).toBe('invalid-argument');
    expect((await caught(session.put('k', 'v', { timeoutMs: 0 }))).code).toBe('invalid-argument');
    expect((await caught(session.range('p', { limit: -1 }))).code).toBe('invalid-argument');
    expect((await caught(session.get(42 as unknown as string))).code).toBe('invalid-argument');
    expect(() => client.session('bad\nname')).toThrow(/control characters/);
    expect(transport.calls).toHaveLength(0);
    expect(session.seq).toBe(0);
    await expect(CoordClient.connect({ endpoints: [] })).rejects.toMatchObject({ code: 'invalid-argument' });
    await expect(CoordClient.connect({ endpoints: ['nohost'] })).rejects.toMatchObject({ code: 'invalid-argument' });
  });

  it('txn: compares and ops go out in wire form, results come back as plain values', async () => {
    const transport = new FakeTransport(() => ({
      header: header(12),
      succeeded: true,
      results: [{ put: { revision: 12 } }, { get: { kv: { key: 'b', value: new Uint8Array([2]), createRevision: 3, modRevision: 3, version: 1, lease: { name: 'l', epoch: 2 } } } }, { delete: { revision: 12, deleted: 1 } }],
    }));
    const client = await makeClient(transport);
    const res = await client.session().txn({
      compare: [
        { key: 'a', target: 'exists', op: 'equal', exists: false },
        { key: 'b', target: 'mod-revision', op: 'less', number: 10 },
      ],
      success: [
        { type: 'put', key: 'a', value: new Uint8Array([1]), lease: { name: 'l', epoch: 2 } },
        { type: 'get', key: 'b' },
        { type: 'delete', key: 'c' },
      ],
      failure: [{ type: 'get', key: 'a' }],
    });
    expect(res).toEqual({
      header: header(12),
      revision: 12,
      succeeded: true,
      results: [
        { type: 'put', revision: 12, prevKv: null },
        { type: 'get', kv: { key: 'b', value: new Uint8Array([2]), createRevision: 3, modRevision: 3, version: 1, lease: { name: 'l', epoch: 2 } } },
        { type: 'delete', revision: 12, deleted: 1, prevKvs: [] },
      ],
    });
    const sent = transport.calls[0]!.request as { compare: unknown[]; success: unknown[]; failure: unknown[]; seq: number };
    expect(sent.seq).toBe(1);
    expect(sent.compare).toHaveLength(2);
    expect(sent.success[0]).toEqual({ put: { key: 'a', value: new Uint8Array([1]), lease: { name: 'l', epoch: 2 }, prevKv: false } });
  });

  it('members, status and lease lists decode to plain values', async () => {
    const transport = new FakeTransport((call) => {
      switch (call.path.split('/')[2]) {
        case 'MemberList':
          return {
            header: header(3),
            members: [
              { id: 'n1', role: 1, context: '{"peer":"h:1","client":"h:2"}', peerAddress: 'h:1', clientAddress: 'h:2' },
              { id: 'n2', role: 2, peerAddress: '', clientAddress: '' },
            ],
          };
        case 'Status':
          return { header: header(3), role: 'leader', isLearner: false, commitIndex: 40, appliedIndex: 39, version: '0.1.0' };
        case 'List':
          return { header: header(3), leases: [{ lease: { name: 'l', holder: 'h', ttlMs: 900, metadata: { b: '2', a: '1' }, epoch: 1 }, remainingMs: 450 }, { lease: { name: 'm', holder: 'h', ttlMs: 900, epoch: 2 } }] };
        default:
          throw new Error('unexpected');
      }
    });
    const client = await makeClient(transport);
    const session = client.session();
    const members = await session.memberList();
    expect(members.members).toEqual([
      { id: 'n1', role: 'voter', context: '{"peer":"h:1","client":"h:2"}', peerAddress: 'h:1', clientAddress: 'h:2' },
      { id: 'n2', role: 'learner', context: null, peerAddress: null, clientAddress: null },
    ]);
    await expect(session.status()).resolves.toEqual({ header: header(3), endpoint: 'a:1', role: 'leader', isLearner: false, commitIndex: 40, appliedIndex: 39, version: '0.1.0' });
    const leases = await session.leaseList('');
    expect(leases.leases.map((s) => [s.lease.name, s.remainingMs, Object.keys(s.lease.metadata)])).toEqual([
      ['l', 450, ['a', 'b']],
      ['m', null, []],
    ]);
  });
});
