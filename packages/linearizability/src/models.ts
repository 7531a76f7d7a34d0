/**
 * Sequential specifications shipped with the checker: a single register and a
 * key-value map of independent registers (put / get / compare-and-swap /
 * delete).
 */
import type { Model, StepResult } from './types.js';

/** Values stored in registers: compared with `===`. */
export type RegisterValue = string | number;

function show(v: RegisterValue | null | undefined): string {
  return v === undefined ? '?' : JSON.stringify(v);
}

// ---------------------------------------------------------------------------
// Single register

export type RegisterInput =
  | { readonly kind: 'write'; readonly value: RegisterValue }
  | { readonly kind: 'read' }
  /** Sets the register to `value` iff it currently holds `expected` (`null`: holds nothing). */
  | { readonly kind: 'cas'; readonly expected: RegisterValue | null; readonly value: RegisterValue };

/**
 * `write` → anything (ignored); `read` → the value, `null` if never written;
 * `cas` → whether it swapped.
 */
export type RegisterOutput = RegisterValue | null | boolean | undefined;

export type RegisterState = RegisterValue | null;

/** A read/write/compare-and-swap register holding `initial` (default `null`) at the start. */
export function registerModel(initial: RegisterValue | null = null): Model<RegisterState, RegisterInput, RegisterOutput> {
  return {
    init: () => initial,
    step(state, input, output): StepResult<RegisterState> {
      switch (input.kind) {
        case 'write':
          return { ok: true, state: input.value };
        case 'read':
          return { ok: (output ?? null) === state, state };
        case 'cas': {
          const holds = state === input.expected;
          if (output === true) return { ok: holds, state: input.value };
          if (output === false) return { ok: !holds, state };
          return { ok: false, state };
        }
      }
    },
    stepUnknown(state, input) {
      switch (input.kind) {
        case 'write':
          return [input.value];
        case 'read':
          return [];
        case 'cas':
          return state === input.expected ? [input.value] : [];
      }
    },
    hash: (state) => (state === null ? 'null' : typeof state === 'number' ? `n${state}` : `s${state}`),
    describeOperation(input, output, unknown) {
      const res = unknown ? ' → ?' : '';
      switch (input.kind) {
        case 'write':
          return `write(${show(input.value)})${res}`;
        case 'read':
          return `read() → ${unknown ? '?' : show(output as RegisterValue | null)}`;
        case 'cas':
          return `cas(${show(input.expected)} → ${show(input.value)}) → ${unknown ? '?' : String(output)}`;
      }
    },
    describeState: (state) => show(state),
  };
}

// ---------------------------------------------------------------------------
// Key-value map of registers

export type KvInput =
  | { readonly kind: 'put'; readonly key: string; readonly value: RegisterValue }
  | { readonly kind: 'get'; readonly key: string }
  /** Sets `key` to `value` iff it currently holds `expected` (`null`: `key` is absent). */
  | { readonly kind: 'cas'; readonly key: string; readonly expected: RegisterValue | null; readonly value: RegisterValue }
  | { readonly kind: 'delete'; readonly key: string };

/**
 * `put` → anything (ignored: it always succeeds); `get` → the value, `null`
 * when absent; `cas` → whether it swapped; `delete` → whether the key existed
 * if a boolean, otherwise ignored.
 */
export type KvOutput = RegisterValue | null | boolean | undefined;

/** Key → value; absent keys hold nothing. Treated as immutable. */
export type KvState = ReadonlyMap<string, RegisterValue>;

function withValue(state: KvState, key: string, value: RegisterValue | null): KvState {
  const next = new Map(state);
  if (value === null) next.delete(key);
  else next.set(key, value);
  return next;
}

function hashKv(state: KvState): string {
  if (state.size === 0) return '{}';
  if (state.size === 1) return JSON.stringify([...state]);
  return JSON.stringify([...state].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}

/**
 * A map of independent registers. Its `partitionKey` is the operation's key,
 * so histories are checked key by key (P-compositionality).
 */
export function kvModel(initial: Readonly<Record<string, RegisterValue>> = {}): Model<KvState, KvInput, KvOutput> {
  const init: KvState = new Map(Object.entries(initial));
  return {
    init: () => init,
    step(state, input, output): StepResult<KvState> {
      const current = state.get(input.key) ?? null;
      switch (input.kind) {
        case 'put':
          return { ok: true, state: current === input.value ? state : withValue(state, input.key, input.value) };
        case 'get':
          return { ok: (output ?? null) === current, state };
        case 'cas': {
          const holds = current === input.expected;
          if (output === true) return { ok: holds, state: current === input.value ? state : withValue(state, input.key, input.value) };
          if (output === false) return { ok: !holds, state };
          return { ok: false, state };
        }
        case 'delete': {
          const ok = typeof output === 'boolean' ? output === (current !== null) : true;
          return { ok, state: current === null ? state : withValue(state, input.key, null) };
        }
      }
    },
    stepUnknown(state, input) {
      const current = state.get(input.key) ?? null;
      switch (input.kind) {
        case 'put':
          return [withValue(state, input.key, input.value)];
        case 'get':
          return [];
        case 'cas':
          return current === input.expected ? [withValue(state, input.key, input.value)] : [];
        case 'delete':
          return current === null ? [] : [withValue(state, input.key, null)];
      }
    },
    hash: hashKv,
    partitionKey: (input) => input.key,
    describeOperation(input, output, unknown) {
      const res = (o: string): string => ` → ${unknown ? '?' : o}`;
      switch (input.kind) {
        case 'put':
          return `put(${input.key}, ${show(input.value)})${unknown ? res('') : ''}`;
        case 'get':
          return `get(${input.key})${res(show(output as RegisterValue | null))}`;
        case 'cas':
          return `cas(${input.key}, ${show(input.expected)} → ${show(input.value)})${res(String(output))}`;
        case 'delete':
          return `delete(${input.key})${unknown ? res('') : typeof output === 'boolean' ? res(String(output)) : ''}`;
      }
    },
    describeState(state) {
      if (state.size === 0) return '{}';
      return `{${[...state].map(([k, v]) => `${k}: ${show(v)}`).join(', ')}}`;
    },
  };
}
