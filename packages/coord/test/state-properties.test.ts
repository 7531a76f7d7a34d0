import { EntryType, encodeConfChange } from '@hubha/raft';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CoordStateMachine, compareKeys, decodeRequest, encodeRequest } from '../src/index.js';
import type { ApplyOutcome, Command, Compare, CompareOp, CoordRequest, KeyValue, TxnOp } from '../src/index.js';
import { Driver, as, b, hex, storeOf } from './state-helpers.js';

// ------------------------------------------------------------------------ generators

const KEYS = ['a', 'a/1', 'a/2', 'ab', 'b', 'b/x', '\u{1F600}', '\uFFFD'];
const key = fc.constantFrom(...KEYS);
const maybeBadKey = fc.oneof({ weight: 12, arbitrary: key }, { weight: 1, arbitrary: fc.constant('') });
const value = fc.uint8Array({ maxLength: 6 });
const leaseName = fc.constantFrom('active-hub', 'l2', 'l3');
const holder = fc.constantFrom('hub1', 'hub2');
const epoch = fc.integer({ min: 0, max: 4 }); // 0 is invalid
const metadata = fc.dictionary(fc.constantFrom('address', 'zone', '1', '__proto__'), fc.string({ maxLength: 4 }), { maxKeys: 3 });
const op: fc.Arbitrary<CompareOp> = fc.constantFrom('equal', 'not-equal', 'greater', 'less');

const compare: fc.Arbitrary<Compare> = fc.oneof(
  fc.record({ key, target: fc.constant('value' as const), op, value }),
  fc.record({ key, target: fc.constantFrom('mod-revision' as const, 'create-revision' as const, 'version' as const), op, number: fc.integer({ min: 0, max: 12 }) }),
  fc.record({ key, target: fc.constant('exists' as const), op: fc.constantFrom('equal' as const, 'not-equal' as const), exists: fc.boolean() }),
);

const leaseRef = fc.record({ name: leaseName, epoch });

const put = fc.record(
  { type: fc.constant('put' as const), key: maybeBadKey, value, lease: leaseRef, prevKv: fc.constant(true) },
  { requiredKeys: ['type', 'key', 'value'] },
);

const txnOp: fc.Arbitrary<TxnOp> = fc.oneof(
  put,
  fc.record({ type: fc.constant('delete' as const), key: maybeBadKey, prevKv: fc.constant(true) }, { requiredKeys: ['type', 'key'] }),
  fc.record({ type: fc.constant('get' as const), key }),
);

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: put },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('delete' as const), key: maybeBadKey, prevKv: fc.constant(true) }, { requiredKeys: ['type', 'key'] }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('delete-range' as const), prefix: fc.constantFrom('a', 'a/', 'b', '\u{1F600}', ''), prevKv: fc.constant(true) }, { requiredKeys: ['type', 'prefix'] }) },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('txn' as const),
      compare: fc.array(compare, { maxLength: 2 }),
      success: fc.array(txnOp, { maxLength: 3 }),
      failure: fc.array(txnOp, { maxLength: 3 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ type: fc.constant('lease-grant' as const), name: leaseName, holder, ttlMs: fc.constantFrom(500, 5000, 100), metadata }) },
  { weight: 3, arbitrary: fc.record({ type: fc.constant('lease-renew' as const), name: leaseName, holder, epoch, metadata }, { requiredKeys: ['type', 'name', 'holder', 'epoch'] }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('lease-release' as const), name: leaseName, holder, epoch }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('lease-expire' as const), name: leaseName, epoch, renewCount: fc.integer({ min: 0, max: 3 }) }) },
);

const request: fc.Arbitrary<CoordRequest> = fc.oneof(
  command.map((c) => ({ clientId: '', seq: 0, command: c })),
  fc.record({ clientId: fc.constantFrom('c1', 'c2', 'hub1'), seq: fc.integer({ min: 0, max: 6 }), command }),
);

interface RawEntry {
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** Entries as a log would carry them: requests, retries of earlier ones, garbage, no-ops, conf changes. */
const entries: fc.Arbitrary<RawEntry[]> = fc
  .array(
    fc.oneof(
      { weight: 20, arbitrary: request.map((r) => ({ kind: 'req' as const, r })) },
      { weight: 4, arbitrary: fc.nat().map((n) => ({ kind: 'retry' as const, n })) },
      { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 12 }).map((data) => ({ kind: 'junk' as const, data })) },
      { weight: 1, arbitrary: fc.constant({ kind: 'noop' as const }) },
      {
        // Lease commands aimed at the current lease (as a live holder or the leader's timer would
        // send them), sometimes one step stale.
        weight: 8,
        arbitrary: fc.record({
          kind: fc.constant('smart' as const),
          action: fc.constantFrom('renew' as const, 'release' as const, 'expire' as const, 'put-leased' as const, 'put-leased' as const, 'put-leased' as const),
          name: leaseName,
          key,
          stale: fc.boolean(),
          clientId: fc.constantFrom('', 'hub1'),
          seq: fc.integer({ min: 1, max: 8 }),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          kind: fc.constant('conf' as const),
          type: fc.constantFrom('add-learner' as const, 'promote-learner' as const, 'remove-node' as const),
          node: fc.constantFrom('n1', 'n2', 'n3'),
          context: fc.option(fc.constantFrom('{"peer":"p:1","client":"c:1"}', 'raw'), { nil: undefined }),
        }),
      },
    ),
    { maxLength: 60, size: 'max' },
  )
  .map((items) => {
    const out: RawEntry[] = [];
    // A shadow replica, so that 'smart' items can aim at the lease as it will be.
    const shadow = new CoordStateMachine({ bootstrapMembers: BOOT });
    const push = (e: RawEntry): void => {
      out.push(e);
      shadow.apply({ index: shadow.appliedIndex + 1, term: 1, type: e.type, data: e.data });
    };
    for (const it of items) {
      switch (it.kind) {
        case 'smart': {
          const lease = shadow.lease(it.name);
          if (lease === null) {
            push({ type: EntryType.Normal, data: encodeRequest({ clientId: '', seq: 0, command: { type: 'lease-grant', name: it.name, holder: it.key.length % 2 === 0 ? 'hub1' : 'hub2', ttlMs: 3000 } }) });
            break;
          }
          const off = it.stale ? 1 : 0;
          const seq = it.clientId === '' ? 0 : (shadow.session(it.clientId)?.lastSeq ?? 0) + it.seq;
          let c: Command;
          switch (it.action) {
            case 'renew':
              c = { type: 'lease-renew', name: it.name, holder: lease.holder, epoch: lease.epoch };
              break;
            case 'release':
              c = { type: 'lease-release', name: it.name, holder: lease.holder, epoch: lease.epoch + off };
              break;
            case 'expire':
              c = { type: 'lease-expire', name: it.name, epoch: lease.epoch, renewCount: Math.max(0, lease.renewCount - off) };
              break;
            case 'put-leased':
              c = { type: 'put', key: it.key, value: b(it.name), lease: { name: it.name, epoch: lease.epoch - off } };
              break;
          }
          push({ type: EntryType.Normal, data: encodeRequest({ clientId: it.clientId, seq, command: c }) });
          break;
        }
        case 'req':
          push({ type: EntryType.Normal, data: encodeRequest(it.r) });
          break;
        case 'retry': {
          const prev = out.filter((e) => e.type === EntryType.Normal && e.data.length > 0);
          if (prev.length > 0) push(prev[it.n % prev.length] as RawEntry);
          break;
        }
        case 'junk':
          push({ type: EntryType.Normal, data: it.data });
          break;
        case 'noop':
          push({ type: EntryType.Normal, data: new Uint8Array(0) });
          break;
        case 'conf':
          push({
            type: EntryType.ConfChange,
            data: encodeConfChange({ type: it.type, node: it.node, ...(it.context === undefined ? {} : { context: it.context }) }),
          });
          break;
      }
    }
    return out;
  });

const BOOT = [{ id: 'n1', peer: 'h1:1' }, { id: 'n2', peer: 'h2:1' }];

function applyAll(sm: CoordStateMachine, list: readonly RawEntry[], term = 1): ApplyOutcome[] {
  return list.map((e) => sm.apply({ index: sm.appliedIndex + 1, term, type: e.type, data: e.data }));
}

// ------------------------------------------------------------------------- invariants

/** Checks what must hold after every entry; `maxEpoch` carries the epochs seen so far. */
function checkInvariants(sm: CoordStateMachine, maxEpoch: Map<string, number>): void {
  const img = sm.image();
  const held = new Map(img.leases.map((l) => [l.name, l]));
  for (const kv of img.kvs) {
    expect(kv.modRevision).toBeLessThanOrEqual(img.revision);
    if (kv.lease !== null) expect(held.get(kv.lease.name)?.epoch).toBe(kv.lease.epoch);
  }
  for (const [name, last] of img.lastEpochs) {
    // The last epoch never goes back.
    expect(last).toBeGreaterThanOrEqual(maxEpoch.get(name) ?? 0);
    maxEpoch.set(name, last);
  }
  for (const l of img.leases) expect(l.epoch).toBe(sm.lastEpoch(l.name));
  for (let i = 1; i < img.kvs.length; i++) expect(compareKeys((img.kvs[i - 1] as KeyValue).key, (img.kvs[i] as KeyValue).key)).toBeLessThan(0);
}

// -------------------------------------------------------------------------- properties

describe('state machine properties', () => {
  it('determinism: two replicas applying the same entries answer alike and end with identical snapshots', () => {
    fc.assert(
      fc.property(entries, (list) => {
        const a = new CoordStateMachine({ bootstrapMembers: BOOT });
        const b2 = new CoordStateMachine({ bootstrapMembers: BOOT });
        const outA = applyAll(a, list);
        const outB = applyAll(b2, list);
        expect(outB).toEqual(outA);
        expect(hex(b2.snapshot())).toBe(hex(a.snapshot()));
      }),
      { numRuns: 150 },
    );
  });

  it('snapshot at any point + restore + the rest = applying everything', () => {
    fc.assert(
      fc.property(entries, fc.nat(), (list, at) => {
        const cut = list.length === 0 ? 0 : at % (list.length + 1);
        const whole = new CoordStateMachine({ bootstrapMembers: BOOT });
        const outWhole = applyAll(whole, list);
        const first = new CoordStateMachine({ bootstrapMembers: BOOT });
        applyAll(first, list.slice(0, cut));
        const restored = CoordStateMachine.restore(first.snapshot());
        expect(restored.image()).toEqual(first.image());
        const outRest = applyAll(restored, list.slice(cut));
        expect(outRest).toEqual(outWhole.slice(cut));
        expect(hex(restored.snapshot())).toBe(hex(whole.snapshot()));
      }),
      { numRuns: 150 },
    );
  });

  it('invariants hold after every entry: fenced keys, monotonic epochs, refusals change nothing', () => {
    fc.assert(
      fc.property(entries, (list) => {
        const sm = new CoordStateMachine({ bootstrapMembers: BOOT });
        const maxEpoch = new Map<string, number>();
        for (const e of list) {
          const before = storeOf(sm);
          const revision = sm.revision;
          const out = sm.apply({ index: sm.appliedIndex + 1, term: 1, type: e.type, data: e.data });
          if (out.result?.type === 'error' || out.result === null) {
            if (e.type === EntryType.Normal) expect(storeOf(sm)).toEqual(before);
            expect(out.events).toEqual([]);
            expect(out.leaseChanges).toEqual([]);
          }
          if (sm.revision === revision) expect(out.events).toEqual([]);
          else expect(sm.revision).toBe(revision + 1);
          for (const ev of out.events) expect(ev.revision).toBe(sm.revision);
          if (out.result?.type === 'lease-grant' && out.result.granted && sm.revision === revision + 1 && out.result.lease.grantRevision === sm.revision) {
            // A fresh grant: its epoch is above every epoch issued before for the name.
            expect(out.result.lease.epoch).toBe((maxEpoch.get(out.result.lease.name) ?? 0) + 1);
          }
          checkInvariants(sm, maxEpoch);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('exactly-once: re-applying an applied request with a client id changes nothing in the store', () => {
    fc.assert(
      fc.property(entries, fc.array(command, { minLength: 1, maxLength: 8 }), (prefix, commands) => {
        const d = Driver.from(new CoordStateMachine({ bootstrapMembers: BOOT }));
        applyAll(d.sm, prefix);
        commands.forEach((c, i) => {
          const seq = 100 + i;
          const first = d.do(c, 'dedup-client', seq);
          const store = storeOf(d.sm);
          const again = d.do(c, 'dedup-client', seq);
          expect(again.result).toEqual(first.result);
          expect(again.events).toEqual([]);
          expect(storeOf(d.sm)).toEqual(store);
          if (seq > 100) expect(as(d.do(c, 'dedup-client', seq - 1).result, 'error').code).toBe('stale-sequence');
          expect(storeOf(d.sm)).toEqual(store);
        });
      }),
      { numRuns: 100 },
    );
  });

  it('the request codec round-trips valid requests', () => {
    fc.assert(
      fc.property(request, (req) => {
        const decoded = decodeRequest(encodeRequest(req));
        if (!decoded.ok) return; // an invalid request: covered by the refusal tests
        const canonical = req.command.type === 'lease-grant' || (req.command.type === 'lease-renew' && req.command.metadata !== undefined)
          ? { ...req, command: { ...req.command, metadata: { ...req.command.metadata } } }
          : req;
        expect(decoded.request).toEqual(canonical);
      }),
      { numRuns: 300 },
    );
  });
});

// --------------------------------------------------------------------- model-based KV

interface ModelKv {
  value: Uint8Array;
  createRevision: number;
  modRevision: number;
  version: number;
}

interface Model {
  kvs: Map<string, ModelKv>;
  revision: number;
}

type Real = { d: Driver };

function modelPut(m: Model, k: string, v: Uint8Array, rev: number): void {
  const old = m.kvs.get(k);
  m.kvs.set(k, { value: v, createRevision: old?.createRevision ?? rev, modRevision: rev, version: (old?.version ?? 0) + 1 });
}

function checkAgainstModel(m: Model, r: Real): void {
  expect(r.d.sm.revision).toBe(m.revision);
  const expected = [...m.kvs.entries()].sort(([x], [y]) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  const actual = r.d.sm.range('').kvs;
  expect(actual.map((kv) => [kv.key, hex(kv.value), kv.createRevision, kv.modRevision, kv.version])).toEqual(
    expected.map(([k, kv]) => [k, hex(kv.value), kv.createRevision, kv.modRevision, kv.version]),
  );
}

class PutCmd implements fc.Command<Model, Real> {
  constructor(
    readonly key: string,
    readonly value: Uint8Array,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const res = as(r.d.run({ type: 'put', key: this.key, value: this.value, prevKv: true }), 'put');
    const prev = m.kvs.get(this.key);
    expect(res.prevKv === null ? null : hex(res.prevKv.value)).toBe(prev === undefined ? null : hex(prev.value));
    m.revision++;
    modelPut(m, this.key, this.value, m.revision);
    expect(res.revision).toBe(m.revision);
    checkAgainstModel(m, r);
  }
  toString(): string {
    return `put(${this.key}, ${hex(this.value)})`;
  }
}

class DeleteCmd implements fc.Command<Model, Real> {
  constructor(readonly key: string) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const res = as(r.d.run({ type: 'delete', key: this.key }), 'delete');
    const had = m.kvs.delete(this.key);
    if (had) m.revision++;
    expect(res.deleted).toBe(had ? 1 : 0);
    checkAgainstModel(m, r);
  }
  toString(): string {
    return `delete(${this.key})`;
  }
}

class DeleteRangeCmd implements fc.Command<Model, Real> {
  constructor(readonly prefix: string) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const res = as(r.d.run({ type: 'delete-range', prefix: this.prefix }), 'delete-range');
    const gone = [...m.kvs.keys()].filter((k) => k.startsWith(this.prefix));
    for (const k of gone) m.kvs.delete(k);
    if (gone.length > 0) m.revision++;
    expect(res.deleted).toBe(gone.length);
    checkAgainstModel(m, r);
  }
  toString(): string {
    return `deleteRange(${this.prefix})`;
  }
}

/** A compare-and-swap Txn: if key's version equals `version`, put, else get. */
class CasCmd implements fc.Command<Model, Real> {
  constructor(
    readonly key: string,
    readonly version: number,
    readonly value: Uint8Array,
    readonly alsoDelete: string,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const res = as(
      r.d.run({
        type: 'txn',
        compare: [{ key: this.key, target: 'version', op: 'equal', number: this.version }],
        success: [
          { type: 'put', key: this.key, value: this.value },
          { type: 'delete', key: this.alsoDelete },
        ],
        failure: [{ type: 'get', key: this.key }],
      }),
      'txn',
    );
    const cur = m.kvs.get(this.key);
    const ok = (cur?.version ?? 0) === this.version;
    expect(res.succeeded).toBe(ok);
    if (ok) {
      m.revision++;
      modelPut(m, this.key, this.value, m.revision);
      m.kvs.delete(this.alsoDelete);
    } else {
      const got = as(res.results[0], 'get').kv;
      expect(got === null ? null : hex(got.value)).toBe(cur === undefined ? null : hex(cur.value));
    }
    checkAgainstModel(m, r);
  }
  toString(): string {
    return `cas(${this.key}, v${this.version}, ${hex(this.value)}, -${this.alsoDelete})`;
  }
}

class RangeCmd implements fc.Command<Model, Real> {
  constructor(
    readonly prefix: string,
    readonly limit: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const matching = [...m.kvs.keys()].filter((k) => k.startsWith(this.prefix)).sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    // Page through with startAfter: the pages concatenate to the whole range.
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = r.d.sm.range(this.prefix, this.limit, after);
      seen.push(...page.kvs.map((kv) => kv.key));
      expect(page.kvs.length).toBeLessThanOrEqual(this.limit);
      if (!page.more) break;
      expect(page.kvs.length).toBe(this.limit);
      after = page.kvs[page.kvs.length - 1]?.key;
    }
    expect(seen).toEqual(matching);
  }
  toString(): string {
    return `range(${this.prefix}, ${this.limit})`;
  }
}

describe('model-based KV', () => {
  it('put / delete / delete-range / compare-and-swap / range agree with a Map', () => {
    const prefix = fc.constantFrom('a', 'a/', 'b', '\u{1F600}', '\uFFFD');
    const commands = [
      fc.tuple(key, value).map(([k, v]) => new PutCmd(k, v)),
      key.map((k) => new DeleteCmd(k)),
      prefix.map((p) => new DeleteRangeCmd(p)),
      fc.tuple(key, fc.integer({ min: 0, max: 3 }), value, key).map(([k, n, v, del]) => new CasCmd(k, n, v, del)),
      fc.tuple(fc.constantFrom('', 'a', 'a/', 'b'), fc.integer({ min: 1, max: 3 })).map(([p, n]) => new RangeCmd(p, n)),
    ];
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 80 }), (cmds) => {
        const setup = (): { model: Model; real: Real } => ({ model: { kvs: new Map(), revision: 0 }, real: { d: new Driver() } });
        fc.modelRun(setup, cmds);
      }),
      { numRuns: 150 },
    );
  });

  it('snapshot/restore in the middle of a model run keeps agreeing with the Map', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), key, value), { maxLength: 40 }), fc.nat(), (ops, at) => {
        const d = new Driver();
        const model: Model = { kvs: new Map(), revision: 0 };
        ops.forEach(([isPut, k, v], i) => {
          if (i === at % (ops.length + 1)) d.sm = CoordStateMachine.restore(d.sm.snapshot());
          if (isPut) new PutCmd(k, v).run(model, { d });
          else new DeleteCmd(k).run(model, { d });
        });
      }),
      { numRuns: 100 },
    );
  });
});

describe('raw bytes', () => {
  it('any bytes as a Normal entry: a result, never an exception, and no change unless it is a valid request', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (data) => {
        const d = new Driver();
        d.run({ type: 'put', key: 'k', value: b('v') });
        const before = storeOf(d.sm);
        const out = d.raw(data);
        const decoded = decodeRequest(data);
        if (!decoded.ok && data.length > 0) {
          expect(out.result).toEqual(decoded.error);
          expect(storeOf(d.sm)).toEqual(before);
        }
      }),
      { numRuns: 500 },
    );
  });
});
