import { describe, expect, it } from 'vitest';
import { checkLinearizable, explain, kvModel } from '../src/index.js';
import { prng, randomSpecs, simulateKv } from './helpers.js';

const kv = kvModel();

describe('performance', () => {
  it('2000 ops over 10 keys and 8 clients check within a couple of seconds', () => {
    const h = simulateKv(randomSpecs(prng(1), 2_000, { keys: 10, clients: 8 }));
    const r = checkLinearizable(kv, h, { timeoutMs: 10_000 });
    console.log(`2000 ops / 10 keys / 8 clients: ${r.result} in ${r.elapsedMs.toFixed(1)} ms, ${r.statesExplored} states`);
    expect(r.result).toBe('ok');
    expect(r.elapsedMs).toBeLessThan(2_000);
  });

  it('with 5% unknown outcomes, and a mutated one, stays fast', () => {
    const h = simulateKv(randomSpecs(prng(2), 2_000, { keys: 10, clients: 8, unknownRate: 0.05 }));
    const r = checkLinearizable(kv, h, { timeoutMs: 10_000 });
    console.log(`2000 ops, 5% unknown: ${r.result} in ${r.elapsedMs.toFixed(1)} ms, ${r.statesExplored} states`);
    expect(r.result).toBe('ok');
    expect(r.elapsedMs).toBeLessThan(2_000);

    const target = h.findIndex((o, i) => i > 1_000 && o.input.kind === 'get' && o.returnMs !== Infinity);
    const bad = h.map((o, i) => (i === target ? { ...o, output: 'never-written' } : o));
    const rb = checkLinearizable(kv, bad, { timeoutMs: 10_000 });
    console.log(`same, one read mutated: ${rb.result} in ${rb.elapsedMs.toFixed(1)} ms, ${rb.statesExplored} states`);
    expect(rb.result).toBe('illegal');
    expect(rb.partial?.stuck?.index).toBe(target);
    expect(rb.elapsedMs).toBeLessThan(2_000);
    console.log(explain(kv, rb));
  });

  it('a single hot key: 1000 ops over 8 clients, 2% unknown outcomes, linearizable and with a mutated read', () => {
    const h = simulateKv(randomSpecs(prng(3), 1_000, { keys: 1, clients: 8, unknownRate: 0.02 }));
    const r = checkLinearizable(kv, h, { timeoutMs: 30_000 });
    console.log(`1000 ops / 1 key / 8 clients, 2% unknown: ${r.result} in ${r.elapsedMs.toFixed(1)} ms, ${r.statesExplored} states`);
    expect(r.result).toBe('ok');

    // Illegal histories are the expensive case: every configuration before
    // the violation must be ruled out.
    const target = h.findIndex((o, i) => i > 800 && o.input.kind === 'get' && o.returnMs !== Infinity);
    const bad = h.map((o, i) => (i === target ? { ...o, output: 'never-written' } : o));
    const rb = checkLinearizable(kv, bad, { timeoutMs: 30_000 });
    console.log(`same, one read mutated: ${rb.result} in ${rb.elapsedMs.toFixed(1)} ms, ${rb.statesExplored} states`);
    expect(rb.result).toBe('illegal');
  });
});
