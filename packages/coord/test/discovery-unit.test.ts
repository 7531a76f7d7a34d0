import { EventEmitter } from 'node:events';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReadOutcome } from '@hubha/raft';
import { hubha } from '@hubha/proto/discovery';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ActiveHub, ActiveHubAnswer, CoordNode, KeyValue, WatchSignal } from '../src/index.js';
import {
  ACTIVE_HUB_KEY,
  ACTIVE_HUB_LEASE,
  ActiveHubReader,
  DiscoveryUnavailableError,
  MalformedAnswerError,
  WatchHub,
  answerFromWire,
  answerToJson,
  answerToWire,
  discoveryHandlers,
  discoveryService,
  encodeRecord,
  readActiveHubFile,
  writeActiveHubFile,
} from '../src/index.js';
import { Driver, b } from './state-helpers.js';

const silent = pino({ level: 'silent' });

function record(name: string, epoch: number, overrides: Partial<ActiveHub> = {}): ActiveHub {
  return { name, address: `10.0.0.${epoch}:5432`, vip: '10.0.0.100/24', epoch, since: '2025-01-02T03:04:05.000Z', ...overrides };
}

/** A member around a real state machine: applies commands, publishes to a real WatchHub like CoordNode does. */
class FakeMember {
  readonly driver = new Driver();
  readonly watchHub = new WatchHub();
  readonly listeners = new Map<number, (signal: WatchSignal) => void>();
  readonly id = 'm1';
  barrier: () => Promise<ReadOutcome> = async () => ({ ok: true, index: this.driver.sm.appliedIndex });
  failed: string | null = null;
  readonly warnings: unknown[] = [];
  readonly logger = pino({ level: 'warn' }, { write: (line: string) => this.warnings.push(JSON.parse(line)) });
  readonly reader: ActiveHubReader;
  barrierTimeouts: number[] = [];

  constructor() {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const member = this;
    const host = {
      id: this.id,
      get state(): { get(key: string): KeyValue | null; readonly revision: number } {
        return member.driver.sm;
      },
      raft: {
        readBarrier: (timeoutMs?: number) => {
          this.barrierTimeouts.push(timeoutMs ?? -1);
          return this.barrier();
        },
        status: () => ({ applied: this.driver.sm.appliedIndex, failed: this.failed }),
      },
    };
    this.reader = new ActiveHubReader(host, this.logger, { barrierTimeoutMs: 250 });
  }

  apply(command: Parameters<Driver['do']>[0]): void {
    const outcome = this.driver.do(command);
    if (outcome.result?.type === 'error') throw new Error(`${outcome.result.code}: ${outcome.result.message}`);
    for (const delivery of this.watchHub.publish(outcome.events, this.driver.sm.revision)) this.listeners.get(delivery.id)?.({ type: 'events', events: delivery.events });
  }

  /** Grants the lease to `holder` and publishes the record at the new epoch; returns the epoch. */
  activate(holder: string, ttlMs = 10_000): number {
    this.apply({ type: 'lease-grant', name: ACTIVE_HUB_LEASE, holder, ttlMs });
    const epoch = this.driver.sm.leases().find((l) => l.name === ACTIVE_HUB_LEASE)!.epoch;
    this.apply({ type: 'put', key: ACTIVE_HUB_KEY, value: encodeRecord(record(holder, epoch)), lease: { name: ACTIVE_HUB_LEASE, epoch } });
    return epoch;
  }

  release(holder: string, epoch: number): void {
    this.apply({ type: 'lease-release', name: ACTIVE_HUB_LEASE, holder, epoch });
  }

  /** A snapshot replaced the state (what CoordNode does on restore). */
  compact(): void {
    for (const id of this.watchHub.reset(this.driver.sm.revision)) {
      this.listeners.get(id)?.({ type: 'ended', reason: 'compacted', revision: this.driver.sm.revision });
      this.listeners.delete(id);
    }
  }

  closing(): void {
    for (const [id, deliver] of this.listeners) {
      deliver({ type: 'ended', reason: 'closing', revision: this.driver.sm.revision });
      this.watchHub.cancel(id);
    }
    this.listeners.clear();
  }

  asNode(): CoordNode {
    return {
      watchHub: this.watchHub,
      subscribe: (id: number, deliver: (signal: WatchSignal) => void) => this.listeners.set(id, deliver),
      unsubscribe: (id: number) => {
        this.listeners.delete(id);
        this.watchHub.cancel(id);
      },
    } as unknown as CoordNode;
  }
}

/** A stand-in for grpc-js's server stream: records writes, `full` makes write() report a full buffer. */
class FakeStream extends EventEmitter {
  readonly written: hubha.discovery.ActiveHubResponse.$Properties[] = [];
  ended = false;
  error: unknown = null;
  full = false;
  constructor(readonly request: { serializable: boolean }) {
    super();
    this.on('error', (err: unknown) => {
      this.error = err;
      this.ended = true;
    });
  }
  write(message: hubha.discovery.ActiveHubResponse.$Properties): boolean {
    if (this.ended) throw new Error('write after end');
    this.written.push(message);
    return !this.full;
  }
  end(): void {
    this.ended = true;
  }
  answers(): ActiveHubAnswer[] {
    return this.written.map((w) => answerFromWire(w));
  }
}

function startWatch(member: FakeMember, serializable = false): FakeStream {
  const handlers = discoveryHandlers(member.asNode(), member.reader, silent);
  const stream = new FakeStream({ serializable });
  (handlers.WatchActiveHub as (call: unknown) => void)(stream);
  return stream;
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('ActiveHubReader', () => {
  it('answers absent, then the record with its metadata, linearizable after the barrier', async () => {
    const m = new FakeMember();
    m.driver.noop();
    expect(await m.reader.read()).toEqual({ present: false, revision: 0, servedBy: 'm1', linearizable: true });
    const epoch = m.activate('hub1');
    const answer = await m.reader.read();
    expect(answer).toEqual({ present: true, ...record('hub1', epoch), modRevision: m.driver.sm.revision, revision: m.driver.sm.revision, servedBy: 'm1', linearizable: true });
    expect(m.barrierTimeouts).toEqual([250, 250]);
  });

  it('serializable on request: no barrier', async () => {
    const m = new FakeMember();
    m.activate('hub1');
    const answer = await m.reader.read({ serializable: true });
    expect(answer).toMatchObject({ present: true, name: 'hub1', linearizable: false });
    expect(m.barrierTimeouts).toEqual([]);
  });

  it('a failed barrier (no leader, no quorum, timeout) answers serializable and says so', async () => {
    const m = new FakeMember();
    m.activate('hub1');
    for (const reason of ['no-leader', 'timeout', 'overloaded']) {
      m.barrier = async () => ({ ok: false, reason, leader: '' });
      expect(await m.reader.read()).toMatchObject({ present: true, name: 'hub1', linearizable: false });
    }
  });

  it('cannot answer when closed, failed, or when it has applied nothing', async () => {
    const empty = new FakeMember();
    await expect(empty.reader.read()).rejects.toMatchObject({ name: 'DiscoveryUnavailableError', reason: 'nothing-applied' });
    const m = new FakeMember();
    m.activate('hub1');
    m.barrier = async () => ({ ok: false, reason: 'closed', leader: '' });
    await expect(m.reader.read()).rejects.toBeInstanceOf(DiscoveryUnavailableError);
    m.barrier = async () => ({ ok: true, index: 1 });
    m.failed = 'disk on fire';
    await expect(m.reader.read({ serializable: true })).rejects.toMatchObject({ reason: 'failed' });
  });

  it('an invalid record is answered as absent and logged once per version', async () => {
    const m = new FakeMember();
    m.apply({ type: 'lease-grant', name: ACTIVE_HUB_LEASE, holder: 'hub1', ttlMs: 10_000 });
    const epoch = m.driver.sm.leases()[0]!.epoch;
    m.apply({ type: 'put', key: ACTIVE_HUB_KEY, value: b('{"name":"hub1"'), lease: { name: ACTIVE_HUB_LEASE, epoch } });
    expect(await m.reader.read()).toMatchObject({ present: false, linearizable: true });
    expect(await m.reader.read()).toMatchObject({ present: false });
    expect(m.warnings).toHaveLength(1);
    expect(m.warnings[0]).toMatchObject({ key: ACTIVE_HUB_KEY, msg: expect.stringContaining('invalid') });
    // Valid JSON, wrong shape (an extra key; a bad address).
    m.apply({ type: 'put', key: ACTIVE_HUB_KEY, value: encodeRecord({ ...record('hub1', epoch), extra: 1 }), lease: { name: ACTIVE_HUB_LEASE, epoch } });
    expect(await m.reader.read()).toMatchObject({ present: false });
    m.apply({ type: 'put', key: ACTIVE_HUB_KEY, value: encodeRecord(record('hub1', epoch, { address: 'nowhere' })), lease: { name: ACTIVE_HUB_LEASE, epoch } });
    expect(await m.reader.read()).toMatchObject({ present: false });
    expect(m.warnings).toHaveLength(3);
  });

  it('a record not attached to the active-hub lease at its own epoch is answered as absent', async () => {
    const m = new FakeMember();
    m.driver.noop();
    m.apply({ type: 'put', key: ACTIVE_HUB_KEY, value: encodeRecord(record('hub1', 1)) });
    expect(await m.reader.read()).toMatchObject({ present: false });
    m.apply({ type: 'lease-grant', name: ACTIVE_HUB_LEASE, holder: 'hub1', ttlMs: 10_000 });
    const epoch = m.driver.sm.leases()[0]!.epoch;
    m.apply({ type: 'put', key: ACTIVE_HUB_KEY, value: encodeRecord(record('hub1', epoch + 1)), lease: { name: ACTIVE_HUB_LEASE, epoch } });
    expect(await m.reader.read()).toMatchObject({ present: false });
    m.apply({ type: 'lease-grant', name: 'other', holder: 'hub1', ttlMs: 10_000 });
    const otherEpoch = m.driver.sm.leases().find((l) => l.name === 'other')!.epoch;
    m.apply({ type: 'put', key: ACTIVE_HUB_KEY, value: encodeRecord(record('hub1', otherEpoch)), lease: { name: 'other', epoch: otherEpoch } });
    expect(await m.reader.read()).toMatchObject({ present: false });
    expect(m.warnings.map((w) => (w as { error: string }).error)).toEqual([
      expect.stringContaining('attached to no lease'),
      expect.stringContaining(`attached to lease ${ACTIVE_HUB_LEASE} at epoch ${epoch}`),
      expect.stringContaining('attached to lease other'),
    ]);
  });
});

describe('answers on the wire', () => {
  it('round-trip through protobuf, vip null as empty', () => {
    const present: ActiveHubAnswer = { present: true, ...record('hub1', 7, { vip: null }), modRevision: 9, revision: 12, servedBy: 'w1', linearizable: true };
    const bytes = discoveryService.GetActiveHub.responseSerialize(answerToWire(present));
    expect(answerFromWire(discoveryService.GetActiveHub.responseDeserialize(bytes))).toEqual(present);
    const absent: ActiveHubAnswer = { present: false, revision: 3, servedBy: 'w1', linearizable: false };
    expect(answerFromWire(discoveryService.GetActiveHub.responseDeserialize(discoveryService.GetActiveHub.responseSerialize(answerToWire(absent))))).toEqual(absent);
  });

  it('a present answer without a valid record is malformed', () => {
    expect(() => answerFromWire({ present: true, name: 'hub1', address: 'nowhere', epoch: 1, since: '2025-01-01T00:00:00Z' })).toThrow(MalformedAnswerError);
    expect(() => answerFromWire({ present: true, name: 'hub1', address: 'h:1', epoch: 0, since: '2025-01-01T00:00:00Z' })).toThrow(MalformedAnswerError);
  });

  it('JSON has the documented fields', () => {
    const json = answerToJson({ present: true, ...record('hub1', 2), modRevision: 5, revision: 6, servedBy: 'n1', linearizable: true });
    expect(Object.keys(json)).toEqual(['present', 'name', 'address', 'vip', 'epoch', 'since', 'revision', 'modRevision', 'servedBy', 'linearizable']);
    expect(answerToJson({ present: false, revision: 1, servedBy: 'n1', linearizable: false })).toEqual({ present: false, revision: 1, servedBy: 'n1', linearizable: false });
    // The generated class agrees on the field names.
    expect(Object.keys(hubha.discovery.ActiveHubResponse.toObject(hubha.discovery.ActiveHubResponse.create({}), { defaults: true }))).toContain('servedBy');
  });
});

describe('WatchActiveHub (server side, over a fake stream)', () => {
  it('sends the current answer, then each change; identical answers are not repeated', async () => {
    const m = new FakeMember();
    const e1 = m.activate('hub1');
    const stream = startWatch(m);
    await tick();
    expect(stream.answers()).toEqual([expect.objectContaining({ present: true, name: 'hub1', epoch: e1, linearizable: true })]);
    m.apply({ type: 'put', key: 'unrelated', value: b('x') });
    m.apply({ type: 'lease-renew', name: ACTIVE_HUB_LEASE, holder: 'hub1', epoch: e1 });
    expect(stream.written).toHaveLength(1);
    m.release('hub1', e1);
    const e2 = m.activate('hub2');
    expect(e2).toBe(e1 + 1);
    expect(stream.answers().map((a) => (a.present ? `${a.name}@${a.epoch}` : 'none'))).toEqual([`hub1@${e1}`, 'none', `hub2@${e2}`]);
    expect(stream.answers().slice(1).every((a) => !a.linearizable)).toBe(true);
  });

  it('changes applied during the initial read barrier are in the first answer, not before it', async () => {
    const m = new FakeMember();
    m.driver.noop();
    let release!: () => void;
    m.barrier = () => new Promise((resolve) => (release = () => resolve({ ok: true, index: m.driver.sm.appliedIndex })));
    const stream = startWatch(m);
    const epoch = m.activate('hub1');
    expect(stream.written).toHaveLength(0);
    release();
    await tick();
    expect(stream.answers()).toEqual([expect.objectContaining({ present: true, name: 'hub1', epoch, linearizable: true })]);
  });

  it('serializable first answer when asked; UNAVAILABLE when the member cannot answer', async () => {
    const m = new FakeMember();
    m.activate('hub1');
    const stream = startWatch(m, true);
    await tick();
    expect(m.barrierTimeouts).toEqual([]);
    expect(stream.answers()[0]).toMatchObject({ present: true, linearizable: false });
    const empty = new FakeMember();
    const failed = startWatch(empty);
    await tick();
    expect(failed.error).toMatchObject({ code: 14 /* UNAVAILABLE */ });
    expect(empty.listeners.size).toBe(0);
    expect(empty.watchHub.subscriptionCount).toBe(0);
  });

  it('after a snapshot restore (compacted) it watches again and sends the state as restored', async () => {
    const m = new FakeMember();
    const e1 = m.activate('hub1');
    const stream = startWatch(m);
    await tick();
    // Changes the watch does not see (as if they came inside the snapshot).
    const listeners = new Map(m.listeners);
    m.listeners.clear();
    m.release('hub1', e1);
    const e2 = m.activate('hub2');
    m.listeners.clear();
    for (const [id, l] of listeners) m.listeners.set(id, l);
    m.compact();
    expect(stream.answers().map((a) => (a.present ? `${a.name}@${a.epoch}` : 'none'))).toEqual([`hub1@${e1}`, `hub2@${e2}`]);
    expect(m.watchHub.subscriptionCount).toBe(1);
    m.release('hub2', e2);
    expect(stream.answers().at(-1)).toMatchObject({ present: false });
  });

  it('a slow consumer gets only the latest answer when the stream drains (bounded buffering)', async () => {
    const m = new FakeMember();
    m.driver.noop();
    const stream = startWatch(m);
    await tick();
    stream.full = true;
    let epoch = m.activate('hub1'); // written; the buffer is now full
    for (let i = 0; i < 50; i++) {
      m.release(`hub${i + 1}`, epoch);
      epoch = m.activate(`hub${i + 2}`);
    }
    expect(stream.written).toHaveLength(2);
    stream.full = false;
    stream.emit('drain');
    expect(stream.answers().map((a) => (a.present ? a.name : 'none'))).toEqual(['none', 'hub1', 'hub51']);
  });

  it('ends cleanly when the member shuts down, and unsubscribes when the client cancels', async () => {
    const m = new FakeMember();
    m.activate('hub1');
    const a = startWatch(m);
    const c = startWatch(m);
    await tick();
    c.emit('cancelled');
    expect(m.watchHub.subscriptionCount).toBe(1);
    m.closing();
    expect(a.ended).toBe(true);
    expect(a.error).toBeNull();
  });
});

describe('active hub file', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hubha-ahf-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the record as JSON atomically and reads it back', async () => {
    const path = join(dir, 'active-hub.json');
    expect(await readActiveHubFile(path)).toBeNull();
    await writeActiveHubFile(path, record('hub1', 1));
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(record('hub1', 1));
    await writeActiveHubFile(path, record('hub2', 2, { vip: null }));
    expect(await readActiveHubFile(path)).toEqual(record('hub2', 2, { vip: null }));
    expect((await stat(path)).mode & 0o777).toBe(0o644);
    expect(await readdir(dir)).toEqual(['active-hub.json']);
  });

  it('refuses an invalid record and leaves the old file and no temporary behind', async () => {
    const path = join(dir, 'active-hub.json');
    await writeActiveHubFile(path, record('hub1', 1));
    await expect(writeActiveHubFile(path, { ...record('hub1', 2), address: 'bad' })).rejects.toThrow();
    await expect(writeActiveHubFile(join(dir, 'missing', 'x.json'), record('hub1', 2))).rejects.toThrow();
    expect(await readdir(dir)).toEqual(['active-hub.json']);
    expect(await readActiveHubFile(path)).toEqual(record('hub1', 1));
    await writeFile(path, '{"name":');
    await expect(readActiveHubFile(path)).rejects.toThrow();
  });
});
