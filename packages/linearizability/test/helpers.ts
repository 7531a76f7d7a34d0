import type { ClientId, KvInput, KvOutput, Model, Operation, RegisterValue } from '../src/index.js';

export type KvOp = Operation<KvInput, KvOutput>;

export const put = (key: string, value: RegisterValue): KvInput => ({ kind: 'put', key, value });
export const get = (key: string): KvInput => ({ kind: 'get', key });
export const cas = (key: string, expected: RegisterValue | null, value: RegisterValue): KvInput => ({ kind: 'cas', key, expected, value });
export const del = (key: string): KvInput => ({ kind: 'delete', key });

/** An operation; `returnMs` Infinity (and output undefined) for an unknown outcome. */
export function op(clientId: ClientId, input: KvInput, output: KvOutput, callMs: number, returnMs: number): KvOp {
  return { clientId, input, output, callMs, returnMs };
}

/**
 * Exhaustive reference: tries every order of the operations that respects
 * real-time order (a before b iff a.returnMs < b.callMs), every subset of the
 * unknown-outcome operations taking effect, and every state they may produce.
 * Exponential; for tiny histories only.
 */
export function bruteForceLinearizable<S, I, O>(model: Model<S, I, O>, history: readonly Operation<I, O>[]): boolean {
  const n = history.length;
  const done: boolean[] = new Array<boolean>(n).fill(false);
  const unknown = history.map((o) => o.returnMs === Infinity);
  const rec = (state: S, knownLeft: number): boolean => {
    if (knownLeft === 0) return true;
    for (let i = 0; i < n; i++) {
      if (done[i]) continue;
      const oi = history[i]!;
      let minimal = true;
      for (let j = 0; j < n && minimal; j++) {
        if (j !== i && !done[j] && history[j]!.returnMs < oi.callMs) minimal = false;
      }
      if (!minimal) continue;
      done[i] = true;
      if (unknown[i]) {
        for (const s of model.stepUnknown!(state, oi.input)) {
          if (rec(s, knownLeft)) return true;
        }
      } else {
        const r = model.step(state, oi.input, oi.output as O);
        if (r.ok && rec(r.state, knownLeft - 1)) return true;
      }
      done[i] = false;
    }
    return false;
  };
  return rec(model.init(), unknown.filter((u) => !u).length);
}

/** One operation to simulate against an atomic KV store. */
export interface OpSpec {
  readonly client: number;
  /** Think time before the call, after the client's previous operation returned (or timed out). */
  readonly gap: number;
  /** Call → return (or → timeout, for an unknown outcome). */
  readonly duration: number;
  /** Where in its interval the operation takes effect, 0..1. */
  readonly at: number;
  readonly kind: 'put' | 'get' | 'cas' | 'delete';
  readonly key: number;
  /** For cas: picks `expected` among null and the values written to the key so far. */
  readonly pick: number;
  /** The outcome is lost (returnMs = Infinity). */
  readonly unknown: boolean;
  /** For an unknown outcome: whether it takes effect at all... */
  readonly applied: boolean;
  /** ...and how long after its timeout it may do so. */
  readonly late: number;
}

/**
 * Runs the specs against a sequential (atomic) KV map: each operation takes
 * effect at one instant within [call, return] (an operation with unknown
 * outcome: at an instant after its call, possibly after the client gave up, or
 * never). Every write writes a fresh value `v<i>`, so a value identifies its
 * writer. Returns a history that is linearizable by construction.
 */
export function simulateKv(specs: readonly OpSpec[]): KvOp[] {
  const clock = new Map<number, number>();
  const written = new Map<string, string[]>();
  const pending: { point: number; index: number }[] = [];
  const drafts = specs.map((s, i) => {
    const key = `k${s.key}`;
    const callMs = (clock.get(s.client) ?? 0) + s.gap;
    const end = callMs + s.duration;
    clock.set(s.client, end);
    const value = `v${i}`;
    let input: KvInput;
    switch (s.kind) {
      case 'put':
        input = put(key, value);
        break;
      case 'get':
        input = get(key);
        break;
      case 'delete':
        input = del(key);
        break;
      case 'cas': {
        const options = [null, ...(written.get(key) ?? [])];
        input = cas(key, options[s.pick % options.length]!, value);
        break;
      }
    }
    if (s.kind === 'put' || s.kind === 'cas') written.set(key, [...(written.get(key) ?? []), value]);
    if (!s.unknown) pending.push({ point: callMs + s.at * s.duration, index: i });
    else if (s.applied) pending.push({ point: callMs + s.at * (s.duration + s.late), index: i });
    return { clientId: s.client, input, callMs, returnMs: s.unknown ? Infinity : end };
  });
  pending.sort((a, b) => a.point - b.point || a.index - b.index);
  const state = new Map<string, RegisterValue>();
  const outputs = new Map<number, KvOutput>();
  for (const { index } of pending) {
    const input = drafts[index]!.input;
    const current = state.get(input.key) ?? null;
    switch (input.kind) {
      case 'put':
        state.set(input.key, input.value);
        outputs.set(index, 'ok');
        break;
      case 'get':
        outputs.set(index, current);
        break;
      case 'delete':
        state.delete(input.key);
        outputs.set(index, current !== null);
        break;
      case 'cas':
        if (current === input.expected) state.set(input.key, input.value);
        outputs.set(index, current === input.expected);
        break;
    }
  }
  return drafts.map((d, i) => (d.returnMs === Infinity ? { ...d } : { ...d, output: outputs.get(i) }));
}

/** Deterministic PRNG (mulberry32) for the performance test. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random specs from a PRNG: `n` operations over `keys` keys and `clients` clients. */
export function randomSpecs(
  rand: () => number,
  n: number,
  opts: { keys: number; clients: number; unknownRate?: number },
): OpSpec[] {
  const kinds = ['put', 'get', 'get', 'cas', 'delete'] as const;
  const specs: OpSpec[] = [];
  for (let i = 0; i < n; i++) {
    specs.push({
      client: Math.floor(rand() * opts.clients),
      gap: rand() * 2,
      duration: 0.5 + rand() * 10,
      at: rand(),
      kind: kinds[Math.floor(rand() * kinds.length)]!,
      key: Math.floor(rand() * opts.keys),
      pick: Math.floor(rand() * 1000),
      unknown: rand() < (opts.unknownRate ?? 0),
      applied: rand() < 0.5,
      late: rand() * 50,
    });
  }
  return specs;
}
