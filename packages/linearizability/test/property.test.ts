import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkLinearizable, explain, formatHistory, kvModel, registerModel, type Operation, type RegisterInput, type RegisterOutput } from '../src/index.js';
import { bruteForceLinearizable, simulateKv, type KvOp, type OpSpec } from './helpers.js';

const kv = kvModel();

const specArb = (clients: number, keys: number, unknownRate: number): fc.Arbitrary<OpSpec> =>
  fc.record({
    client: fc.integer({ min: 0, max: clients - 1 }),
    gap: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 5 }), fc.double({ min: 0, max: 5, noNaN: true })),
    duration: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 10 }), fc.double({ min: 0, max: 20, noNaN: true })),
    at: fc.oneof(fc.constant(0), fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true })),
    kind: fc.constantFrom('put', 'get', 'get', 'cas', 'delete'),
    key: fc.integer({ min: 0, max: keys - 1 }),
    pick: fc.nat(),
    unknown: fc.integer({ min: 0, max: 999 }).map((x) => x < unknownRate * 1000),
    applied: fc.boolean(),
    late: fc.double({ min: 0, max: 50, noNaN: true }),
  });

const historyArb = (
  maxOps: number,
  opts: { clients?: number; keys?: number; unknownRate?: number; minOps?: number } = {},
): fc.Arbitrary<KvOp[]> =>
  fc
    .array(specArb(opts.clients ?? 4, opts.keys ?? 3, opts.unknownRate ?? 0.1), { minLength: opts.minOps ?? 1, maxLength: maxOps })
    .map(simulateKv);

const report = (h: KvOp[]): string => formatHistory(h, { model: kv });

describe('histories of an atomic store are linearizable', () => {
  it('random concurrency, each op taking effect within its interval (or, if lost, any time after its call or never)', () => {
    fc.assert(
      fc.property(historyArb(60), (h) => {
        const r = checkLinearizable(kv, h, { timeoutMs: 10_000 });
        if (r.result !== 'ok') throw new Error(`expected ok, got ${r.result}\n${explain(kv, r)}\n${report(h)}`);
        // Checking the whole history as one must agree.
        expect(checkLinearizable(kv, h, { partition: false, timeoutMs: 10_000 }).result).toBe('ok');
      }),
      { numRuns: 300 },
    );
  });

  it('high contention: one key, many clients', () => {
    fc.assert(
      fc.property(historyArb(80, { clients: 8, keys: 1, unknownRate: 0.05 }), (h) => {
        const r = checkLinearizable(kv, h, { timeoutMs: 10_000 });
        if (r.result !== 'ok') throw new Error(`expected ok, got ${r.result}\n${explain(kv, r)}`);
      }),
      { numRuns: 200 },
    );
  });
});

/** Indices of known-outcome gets. */
const knownGets = (h: KvOp[]): number[] => h.flatMap((o, i) => (o.input.kind === 'get' && o.returnMs !== Infinity ? [i] : []));

const withOutput = (h: KvOp[], i: number, output: string): KvOp[] => h.map((o, j) => (j === i ? { ...o, output } : o));

describe('provably illegal mutations are flagged', () => {
  it('a read returning a value never written', () => {
    fc.assert(
      fc.property(historyArb(60), fc.nat(), (h, pick) => {
        const gets = knownGets(h);
        fc.pre(gets.length > 0);
        const target = gets[pick % gets.length]!;
        const r = checkLinearizable(kv, withOutput(h, target, 'never-written'), { timeoutMs: 10_000 });
        expect(r.result).toBe('illegal');
        expect(r.partial?.operations.some((o) => o.index === target)).toBe(true);
        expect(r.partial?.stuck).toBeDefined();
      }),
      { numRuns: 300 },
    );
  });

  it('a read returning a value first written only after the read returned', () => {
    fc.assert(
      fc.property(historyArb(60, { minOps: 20 }), fc.nat(), (h, pick) => {
        // (read, writer) pairs on the same key with writer.call > read.return; values are unique per writer.
        const pairs: [number, string][] = [];
        for (const g of knownGets(h)) {
          h.forEach((w) => {
            if ((w.input.kind === 'put' || w.input.kind === 'cas') && w.input.key === h[g]!.input.key && w.callMs > h[g]!.returnMs) {
              pairs.push([g, String(w.input.value)]);
            }
          });
        }
        fc.pre(pairs.length > 0);
        const [target, value] = pairs[pick % pairs.length]!;
        const r = checkLinearizable(kv, withOutput(h, target, value), { timeoutMs: 10_000 });
        expect(r.result).toBe('illegal');
      }),
      { numRuns: 300 },
    );
  });

  it('a read returning a value that was overwritten (or deleted) before the read was called', () => {
    fc.assert(
      fc.property(historyArb(60, { unknownRate: 0.05, minOps: 30 }), fc.nat(), (h, pick) => {
        // read g, writer w of value v, and a known put/delete o on the key with w.return < o.call and o.return < g.call.
        const cases: [number, string][] = [];
        for (const g of knownGets(h)) {
          const key = h[g]!.input.key;
          h.forEach((w) => {
            if ((w.input.kind !== 'put' && w.input.kind !== 'cas') || w.input.key !== key) return;
            const overwritten = h.some(
              (o) =>
                o !== w &&
                (o.input.kind === 'put' || o.input.kind === 'delete') &&
                o.input.key === key &&
                o.returnMs !== Infinity &&
                w.returnMs < o.callMs &&
                o.returnMs < h[g]!.callMs,
            );
            if (overwritten) cases.push([g, String(w.input.value)]);
          });
        }
        fc.pre(cases.length > 0);
        const [target, value] = cases[pick % cases.length]!;
        const r = checkLinearizable(kv, withOutput(h, target, value), { timeoutMs: 10_000 });
        expect(r.result).toBe('illegal');
      }),
      { numRuns: 300 },
    );
  });
});

describe('agrees with exhaustive search on tiny histories', () => {
  // Arbitrary (mostly non-linearizable) histories over a tiny value domain, so
  // both verdicts occur, with ties and unknown outcomes.
  const values = [1, 2, 3];
  const kvOpArb: fc.Arbitrary<KvOp> = fc
    .record({
      clientId: fc.integer({ min: 0, max: 2 }),
      key: fc.constantFrom('a', 'b'),
      kind: fc.constantFrom('put', 'get', 'get', 'cas', 'delete'),
      value: fc.constantFrom(...values),
      expected: fc.constantFrom(null, ...values),
      read: fc.constantFrom(null, ...values),
      flag: fc.boolean(),
      callMs: fc.integer({ min: 0, max: 12 }),
      duration: fc.integer({ min: 0, max: 6 }),
      unknown: fc.integer({ min: 0, max: 5 }).map((x) => x === 0),
    })
    .map((s): KvOp => {
      const returnMs = s.unknown ? Infinity : s.callMs + s.duration;
      switch (s.kind) {
        case 'put':
          return { clientId: s.clientId, input: { kind: 'put', key: s.key, value: s.value }, output: 'ok', callMs: s.callMs, returnMs };
        case 'get':
          return { clientId: s.clientId, input: { kind: 'get', key: s.key }, output: s.read, callMs: s.callMs, returnMs };
        case 'cas':
          return { clientId: s.clientId, input: { kind: 'cas', key: s.key, expected: s.expected, value: s.value }, output: s.flag, callMs: s.callMs, returnMs };
        case 'delete':
          return { clientId: s.clientId, input: { kind: 'delete', key: s.key }, output: s.flag, callMs: s.callMs, returnMs };
      }
    });

  it('KV model, partitioned and not', () => {
    let illegal = 0;
    let ok = 0;
    fc.assert(
      fc.property(fc.array(kvOpArb, { maxLength: 7 }), (h) => {
        const expected = bruteForceLinearizable(kv, h) ? 'ok' : 'illegal';
        expect(checkLinearizable(kv, h).result).toBe(expected);
        expect(checkLinearizable(kv, h, { partition: false }).result).toBe(expected);
        if (expected === 'ok') ok++;
        else illegal++;
      }),
      { numRuns: 3_000 },
    );
    expect(ok).toBeGreaterThan(300);
    expect(illegal).toBeGreaterThan(300);
  });

  it('KV model, mostly unknown outcomes (dominance, layering and symmetry pruning)', () => {
    const lostOften = fc.tuple(kvOpArb, fc.boolean()).map(([o, lost]): KvOp => (lost ? { ...o, returnMs: Infinity } : o));
    let illegal = 0;
    fc.assert(
      fc.property(fc.array(lostOften, { maxLength: 9 }), (h) => {
        const expected = bruteForceLinearizable(kv, h) ? 'ok' : 'illegal';
        expect(checkLinearizable(kv, h, { partition: false }).result).toBe(expected);
        if (expected === 'illegal') illegal++;
      }),
      { numRuns: 3_000 },
    );
    expect(illegal).toBeGreaterThan(100);
  });

  it('KV model on simulated histories with one random output changed', () => {
    fc.assert(
      fc.property(historyArb(7, { clients: 3, keys: 2, unknownRate: 0.2 }), fc.nat(), fc.constantFrom(null, 'v0', 'v1', 'v2', 'v3'), (h, pick, v) => {
        const gets = knownGets(h);
        const mutated = gets.length === 0 ? h : withOutput(h, gets[pick % gets.length]!, v as string);
        const expected = bruteForceLinearizable(kv, mutated) ? 'ok' : 'illegal';
        expect(checkLinearizable(kv, mutated).result).toBe(expected);
      }),
      { numRuns: 2_000 },
    );
  });

  it('register model', () => {
    type RegOp = Operation<RegisterInput, RegisterOutput>;
    const reg = registerModel(null);
    const regOpArb: fc.Arbitrary<RegOp> = fc
      .record({
        clientId: fc.integer({ min: 0, max: 2 }),
        kind: fc.constantFrom('write', 'read', 'read', 'cas'),
        value: fc.constantFrom(...values),
        expected: fc.constantFrom(null, ...values),
        read: fc.constantFrom(null, ...values),
        flag: fc.boolean(),
        callMs: fc.integer({ min: 0, max: 12 }),
        duration: fc.integer({ min: 0, max: 6 }),
        unknown: fc.integer({ min: 0, max: 5 }).map((x) => x === 0),
      })
      .map((s): RegOp => {
        const returnMs = s.unknown ? Infinity : s.callMs + s.duration;
        const input: RegisterInput =
          s.kind === 'write' ? { kind: 'write', value: s.value } : s.kind === 'read' ? { kind: 'read' } : { kind: 'cas', expected: s.expected, value: s.value };
        const output: RegisterOutput = s.kind === 'write' ? undefined : s.kind === 'read' ? s.read : s.flag;
        return { clientId: s.clientId, input, output, callMs: s.callMs, returnMs };
      });
    fc.assert(
      fc.property(fc.array(regOpArb, { maxLength: 8 }), (h) => {
        const expected = bruteForceLinearizable(reg, h) ? 'ok' : 'illegal';
        expect(checkLinearizable(reg, h).result).toBe(expected);
      }),
      { numRuns: 3_000 },
    );
  });
});
