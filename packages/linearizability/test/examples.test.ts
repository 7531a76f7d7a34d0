import { describe, expect, it } from 'vitest';
import {
  checkLinearizable,
  explain,
  formatHistory,
  kvModel,
  partitionBy,
  registerModel,
  type Operation,
  type RegisterInput,
  type RegisterOutput,
} from '../src/index.js';
import { cas, del, get, op, put, type KvOp } from './helpers.js';

const kv = kvModel();
const check = (history: KvOp[]) => checkLinearizable(kv, history, { timeoutMs: 5_000 });

describe('classic histories (KV model)', () => {
  it('empty history is linearizable', () => {
    expect(check([]).result).toBe('ok');
  });

  it('sequential write then read of the written value is ok', () => {
    expect(check([op(1, put('x', 1), 'ok', 0, 10), op(2, get('x'), 1, 20, 30)]).result).toBe('ok');
  });

  it('a stale read after a write completed is illegal', () => {
    const h = [op(1, put('x', 1), 'ok', 0, 10), op(1, put('x', 2), 'ok', 20, 30), op(2, get('x'), 1, 40, 50)];
    const r = check(h);
    expect(r.result).toBe('illegal');
    expect(r.partial?.stuck?.index).toBe(2);
    expect(r.partial?.linearized.map((s) => s.index)).toEqual([0, 1]);
    const text = explain(kv, r);
    expect(text).toContain('ILLEGAL');
    expect(text).toContain('get(x) → 1');
    expect(text).toContain('✗');
  });

  it('reading the initial (absent) value after a completed write is illegal', () => {
    expect(check([op(1, put('x', 1), 'ok', 0, 10), op(2, get('x'), null, 11, 12)]).result).toBe('illegal');
  });

  it('a read concurrent with a write may return either value', () => {
    for (const seen of [null, 1]) {
      const h = [op(1, put('x', 1), 'ok', 0, 10), op(2, get('x'), seen, 5, 15)];
      expect(check(h).result).toBe('ok');
    }
  });

  it('a read of a value never written is illegal', () => {
    const h = [op(1, put('x', 1), 'ok', 0, 10), op(2, get('x'), 7, 5, 15)];
    expect(check(h).result).toBe('illegal');
  });

  it('an unknown-outcome write that later becomes visible is legal', () => {
    const h = [op(1, put('x', 1), undefined, 0, Infinity), op(2, get('x'), null, 10, 20), op(2, get('x'), 1, 30, 40), op(3, get('x'), 1, 50, 60)];
    expect(check(h).result).toBe('ok');
  });

  it('an unknown-outcome write that is never visible is legal', () => {
    const h = [op(1, put('x', 1), undefined, 0, Infinity), op(2, get('x'), null, 10, 20), op(3, get('x'), null, 1_000, 1_010)];
    expect(check(h).result).toBe('ok');
  });

  it('an unknown-outcome write cannot take effect before its call', () => {
    const h = [op(2, get('x'), 1, 0, 10), op(1, put('x', 1), undefined, 20, Infinity)];
    expect(check(h).result).toBe('illegal');
  });

  it('an unknown-outcome write, once visible, cannot disappear again', () => {
    const h = [op(1, put('x', 1), undefined, 0, Infinity), op(2, get('x'), 1, 10, 20), op(3, get('x'), null, 30, 40)];
    expect(check(h).result).toBe('illegal');
  });

  it('a read seeing the new value then a later read seeing the old value is illegal', () => {
    // put(x,2) is concurrent with both reads, but once one read returned 2 a later one cannot return 1.
    const h = [
      op(1, put('x', 1), 'ok', 0, 5),
      op(1, put('x', 2), 'ok', 10, 100),
      op(2, get('x'), 2, 20, 30),
      op(3, get('x'), 1, 40, 50),
    ];
    expect(check(h).result).toBe('illegal');
    // The same reads in the other order are fine.
    const ok = [h[0]!, h[1]!, op(2, get('x'), 1, 20, 30), op(3, get('x'), 2, 40, 50)];
    expect(check(ok).result).toBe('ok');
  });

  it('operations touching at an instant count as concurrent', () => {
    const h = [op(1, put('x', 1), 'ok', 0, 10), op(2, get('x'), null, 10, 20)];
    expect(check(h).result).toBe('ok');
    expect(check([op(1, put('x', 1), 'ok', 0, 10), op(2, get('x'), null, 10.001, 20)]).result).toBe('illegal');
  });

  it('compare-and-swap: successes and failures must be consistent', () => {
    const two = [op(1, cas('x', null, 1), true, 0, 10), op(2, cas('x', null, 2), true, 0, 10)];
    expect(check(two).result).toBe('illegal'); // both created the key
    const oneWins = [op(1, cas('x', null, 1), true, 0, 10), op(2, cas('x', null, 2), false, 0, 10), op(3, get('x'), 1, 20, 30)];
    expect(check(oneWins).result).toBe('ok');
    const wrongWinner = [op(1, cas('x', null, 1), true, 0, 10), op(2, cas('x', null, 2), false, 0, 10), op(3, get('x'), 2, 20, 30)];
    expect(check(wrongWinner).result).toBe('illegal');
    const falseFailure = [op(1, put('x', 1), 'ok', 0, 10), op(2, cas('x', 1, 2), false, 20, 30)];
    expect(check(falseFailure).result).toBe('illegal');
  });

  it('compare-and-swap with unknown outcome may or may not have swapped', () => {
    const base = [op(1, put('x', 1), 'ok', 0, 10), op(2, cas('x', 1, 2), undefined, 20, Infinity)];
    expect(check([...base, op(3, get('x'), 2, 30, 40)]).result).toBe('ok');
    expect(check([...base, op(3, get('x'), 1, 30, 40)]).result).toBe('ok');
    expect(check([...base, op(3, get('x'), 2, 30, 40), op(3, get('x'), 1, 50, 60)]).result).toBe('illegal');
    // Its precondition never held: it cannot have swapped.
    const never = [op(1, put('x', 1), 'ok', 0, 10), op(2, cas('x', 5, 2), undefined, 20, Infinity), op(3, get('x'), 2, 30, 40)];
    expect(check(never).result).toBe('illegal');
  });

  it('delete removes the key; its boolean result is checked', () => {
    expect(check([op(1, put('x', 1), 'ok', 0, 10), op(1, del('x'), true, 20, 30), op(2, get('x'), null, 40, 50)]).result).toBe('ok');
    expect(check([op(1, put('x', 1), 'ok', 0, 10), op(1, del('x'), true, 20, 30), op(2, get('x'), 1, 40, 50)]).result).toBe('illegal');
    expect(check([op(1, del('x'), true, 0, 10)]).result).toBe('illegal');
    expect(check([op(1, del('x'), 'ok', 0, 10)]).result).toBe('ok');
    expect(check([op(1, put('x', 1), 'ok', 0, 10), op(1, del('x'), undefined, 20, Infinity), op(2, get('x'), null, 40, 50)]).result).toBe('ok');
  });

  it('checks keys independently and reports the failing key', () => {
    const h = [
      op(1, put('a', 1), 'ok', 0, 10),
      op(2, put('b', 1), 'ok', 0, 10),
      op(1, get('a'), 1, 20, 30),
      op(2, get('b'), null, 20, 30), // stale
    ];
    const r = check(h);
    expect(r.result).toBe('illegal');
    expect(r.partitions.map((p) => [p.key, p.result])).toEqual([
      ['a', 'ok'],
      ['b', 'illegal'],
    ]);
    expect(r.partial?.key).toBe('b');
    expect(r.partial?.stuck?.index).toBe(3);
    // Unpartitioned, the verdict is the same.
    expect(checkLinearizable(kv, h, { partition: false }).result).toBe('illegal');
    // A custom partition function.
    const custom = checkLinearizable(kv, h, { partition: (hist) => partitionBy(hist, (o) => o.input.key) });
    expect(custom.partitions.map((p) => p.operations)).toEqual([
      [0, 2],
      [1, 3],
    ]);
    expect(custom.result).toBe('illegal');
  });

  it('failFast leaves later partitions unchecked', () => {
    const h = [op(1, get('a'), 5, 0, 10), op(1, get('b'), 5, 0, 10)];
    const r = checkLinearizable(kv, h, { failFast: true });
    expect(r.result).toBe('illegal');
    expect(r.partitions[1]).toMatchObject({ result: 'unknown', reason: 'not-checked' });
  });

  it('rejects malformed times and unknown outcomes the model cannot handle', () => {
    expect(() => check([op(1, get('x'), null, 10, 5)])).toThrow(/returnMs/);
    expect(() => check([op(1, get('x'), null, NaN, 5)])).toThrow(/callMs/);
    const { stepUnknown: _unused, ...noUnknown } = kv;
    expect(() => checkLinearizable(noUnknown, [op(1, put('x', 1), undefined, 0, Infinity)])).toThrow(/stepUnknown/);
  });

  it('initial contents are honoured', () => {
    const m = kvModel({ x: 'a' });
    expect(checkLinearizable(m, [op(1, get('x'), 'a', 0, 1)]).result).toBe('ok');
    expect(checkLinearizable(m, [op(1, get('x'), null, 0, 1)]).result).toBe('illegal');
  });
});

describe('single register model', () => {
  type RegOp = Operation<RegisterInput, RegisterOutput>;
  const reg = registerModel(0);
  const w = (c: number, v: number, t0: number, t1: number): RegOp => ({ clientId: c, input: { kind: 'write', value: v }, output: undefined, callMs: t0, returnMs: t1 });
  const r = (c: number, v: number | null, t0: number, t1: number): RegOp => ({ clientId: c, input: { kind: 'read' }, output: v, callMs: t0, returnMs: t1 });

  it('stale read illegal; concurrent read either; initial value honoured', () => {
    expect(checkLinearizable(reg, [r(1, 0, 0, 1)]).result).toBe('ok');
    expect(checkLinearizable(reg, [w(1, 1, 0, 10), r(2, 0, 20, 30)]).result).toBe('illegal');
    expect(checkLinearizable(reg, [w(1, 1, 0, 10), r(2, 0, 5, 30)]).result).toBe('ok');
    expect(checkLinearizable(reg, [w(1, 1, 0, 10), r(2, 1, 5, 30)]).result).toBe('ok');
  });

  it('unknown-outcome write and cas', () => {
    const lost = (c: number, input: RegisterInput, t0: number): RegOp => ({ clientId: c, input, callMs: t0, returnMs: Infinity });
    expect(checkLinearizable(reg, [lost(1, { kind: 'write', value: 3 }, 0), r(2, 3, 5, 6), r(2, 3, 7, 8)]).result).toBe('ok');
    expect(checkLinearizable(reg, [lost(1, { kind: 'write', value: 3 }, 0), r(2, 3, 5, 6), r(2, 0, 7, 8)]).result).toBe('illegal');
    expect(checkLinearizable(reg, [lost(1, { kind: 'cas', expected: 0, value: 4 }, 0), r(2, 4, 5, 6)]).result).toBe('ok');
    expect(checkLinearizable(reg, [lost(1, { kind: 'cas', expected: 9, value: 4 }, 0), r(2, 4, 5, 6)]).result).toBe('illegal');
  });
});

describe('budget', () => {
  // n concurrent writes then a read of a value never written: exponentially
  // many (subset, state) configurations to rule out.
  const hard = (n: number): KvOp[] => [
    ...Array.from({ length: n }, (_, i) => op(i, put('x', i), 'ok', 0, 100)),
    ...Array.from({ length: n }, (_, i) => op(n + i, get('x'), 'never', 0, 100)),
  ];

  it('reports unknown when the state cap is reached', () => {
    const r = checkLinearizable(kv, hard(12), { maxStates: 1_000 });
    expect(r.result).toBe('unknown');
    expect(r.partitions[0]?.reason).toBe('max-states');
    expect(r.partial).toBeDefined();
    expect(explain(kv, r)).toContain('UNKNOWN');
  });

  it('reports unknown when the deadline passes', () => {
    const t0 = performance.now();
    const r = checkLinearizable(kv, hard(30), { timeoutMs: 100, maxStates: Number.MAX_SAFE_INTEGER });
    expect(r.result).toBe('unknown');
    expect(r.partitions[0]?.reason).toBe('timeout');
    expect(performance.now() - t0).toBeLessThan(2_000);
  });

  it('small instances of the hard case are decided', () => {
    expect(checkLinearizable(kv, hard(8)).result).toBe('illegal');
  });
});

describe('formatting', () => {
  it('formatHistory prints a per-client timeline', () => {
    const h = [op('a', put('x', 1), 'ok', 0, 10), op('b', get('x'), 1, 5, 15), op('a', put('x', 2), undefined, 12, Infinity)];
    const text = formatHistory(h, { model: kv, width: 20 });
    expect(text).toContain('client a');
    expect(text).toContain('client b');
    expect(text).toContain('put(x, 2) → ?');
    expect(text).toMatch(/\[12 \.\. \?\]\s+\|\s+\?+\|/);
    expect(text).toMatch(/#1\s+\[5 \.\. 15\]\s+\|\s+=+\| get\(x\) → 1/);
  });
});
