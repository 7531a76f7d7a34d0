/**
 * The linearizability search: Wing & Gong's algorithm with Lowe's memoization
 * ("WGL", as in porcupine and Knossos' linear checker).
 *
 * The history is turned into a doubly linked list of call and return events in
 * time order. A configuration is the set of operations linearized so far plus
 * the model state they lead to; its candidates for the next operation to take
 * effect are the operations called before the first pending return event (the
 * "bound": that operation must be among the next to take effect). Linearizing
 * one lifts its call and return events out of the list. When no candidate
 * leads anywhere new, the search backtracks. A memo of the configurations
 * already explored prunes the search (Lowe): the future of a configuration
 * does not depend on how it was reached, so the question is only whether a
 * configuration with every operation linearized is reachable.
 *
 * Operations with unknown outcome (`returnMs === Infinity`) have their return
 * event at the end of the list, so nothing ever forces them to take effect;
 * the search succeeds as soon as every operation with a known outcome has
 * been linearized, the rest being taken never to have happened. When one is
 * linearized, each state `Model.stepUnknown` offers is a separate
 * alternative. Three things keep them affordable:
 *  - dominance: with the same known operations linearized and the same state,
 *    having used a subset of the unknown-outcome operations leaves strictly
 *    more options, so a configuration is pruned when one with a subset was
 *    explored;
 *  - layers: the search first explores everything reachable with known
 *    operations only, then with one unknown-outcome operation, then two, ...,
 *    so subsets are always explored before their supersets;
 *  - symmetry: of several called unknown-outcome operations with equal
 *    inputs only the earliest unused one is a candidate.
 */
import { partitionIndicesBy, partitionsToIndices } from './partition.js';
import type {
  CheckOptions,
  CheckOutcome,
  CheckResult,
  History,
  LinearizedStep,
  Model,
  Operation,
  PartialLinearization,
  PartitionResult,
} from './types.js';

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_STATES = 1_000_000;

interface EventNode {
  /** Index of the operation in the partition. */
  readonly op: number;
  readonly isCall: boolean;
  /** For a call event: its return event. */
  match: EventNode | undefined;
  prev: EventNode | undefined;
  next: EventNode | undefined;
}

interface Alternative<S> {
  readonly state: S;
  readonly hash: string;
}

/**
 * A configuration reached by the search, as a node of the search tree: the
 * path of moves from the root determines the linearized operations. Kept
 * (with its ancestors) as long as it may still be expanded or is the deepest
 * reached, which is reported as the longest linearizable prefix.
 */
interface Level<S> {
  readonly parent: Level<S> | undefined;
  /** The call event of the operation linearized to get here from `parent`. */
  readonly move: EventNode | undefined;
  readonly state: S;
  readonly hash: string;
  readonly depth: number;
  /** The first pending return event: that operation must be among the next to take effect. */
  readonly bound: EventNode | undefined;
  /** Known-outcome candidates (released once explored). */
  known: readonly EventNode[];
  /** Unknown-outcome candidates, one per input class (released once expanded). */
  optional: readonly EventNode[];
  /** Known candidate being tried, its alternatives, and the next alternative to try. */
  ci: number;
  alts: readonly Alternative<S>[] | undefined;
  ai: number;
}

interface SearchResult<S> {
  readonly result: CheckOutcome;
  readonly reason?: 'timeout' | 'max-states';
  readonly statesExplored: number;
  /** The deepest configuration reached. */
  readonly best: Level<S>;
}

function validate(history: History<unknown, unknown>, model: Model<unknown, unknown, unknown>): void {
  history.forEach((op, i) => {
    if (typeof op.callMs !== 'number' || !Number.isFinite(op.callMs)) {
      throw new TypeError(`operation ${i}: callMs must be a finite number, got ${String(op.callMs)}`);
    }
    if (typeof op.returnMs !== 'number' || Number.isNaN(op.returnMs) || op.returnMs < op.callMs) {
      throw new TypeError(`operation ${i}: returnMs must be a number >= callMs (or Infinity), got ${String(op.returnMs)}`);
    }
    if (op.returnMs === Infinity && model.stepUnknown === undefined) {
      throw new TypeError(`operation ${i} has an unknown outcome but the model has no stepUnknown`);
    }
  });
}

function isSubset(a: Uint32Array, b: Uint32Array): boolean {
  for (let w = 0; w < a.length; w++) if ((a[w]! & ~b[w]!) !== 0) return false;
  return true;
}

function lift(call: EventNode): void {
  call.prev!.next = call.next;
  call.next!.prev = call.prev;
  const ret = call.match!;
  ret.prev!.next = ret.next;
  if (ret.next !== undefined) ret.next.prev = ret.prev;
}

function unlift(call: EventNode): void {
  const ret = call.match!;
  ret.prev!.next = ret;
  if (ret.next !== undefined) ret.next.prev = ret;
  call.prev!.next = call;
  call.next!.prev = call;
}

/** Equal strings for operations with equal inputs (JSON), else unique per operation. */
function inputClass(input: unknown, i: number): string {
  try {
    const json = JSON.stringify(input);
    if (typeof json === 'string') return json;
  } catch {
    // Not serializable (cycles, bigint): its own class.
  }
  return `#${i}`;
}

/**
 * The memo of explored configurations, keyed by a compact exact encoding of
 * the linearized known-outcome operations plus the model state's hash, with
 * dominance pruning over the linearized unknown-outcome operations.
 */
class Memo {
  private readonly seen = new Set<string>();
  private readonly seenUnknown = new Map<string, Uint32Array[]>();
  /** Configurations recorded. */
  size = 0;

  constructor(
    /** Bitset of the linearized unknown-outcome operations (absent if there are none). */
    private readonly unknown: Uint32Array | undefined,
    private readonly maxStates: number,
  ) {}

  /** Records a configuration: `new`, `seen` (or dominated), or `full` (cap reached, not recorded). */
  add(key: string): 'new' | 'seen' | 'full' {
    const cur = this.unknown;
    if (cur === undefined) {
      if (this.seen.has(key)) return 'seen';
      if (this.size >= this.maxStates) return 'full';
      this.seen.add(key);
    } else {
      const list = this.seenUnknown.get(key);
      if (list !== undefined && list.some((u) => isSubset(u, cur))) return 'seen';
      if (this.size >= this.maxStates) return 'full';
      if (list === undefined) this.seenUnknown.set(key, [cur.slice()]);
      else list.push(cur.slice()); // Layers explore subsets first, so none of `list` is a superset.
    }
    this.size++;
    return 'new';
  }
}

class BudgetExhausted {
  constructor(readonly reason: 'timeout' | 'max-states') {}
}

class Linearizable {}

/** Searches one (sub-)history for a linearization. */
function search<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  deadline: number,
  maxStates: number,
): SearchResult<S> {
  const n = ops.length;
  const unknown = ops.map((op) => op.returnMs === Infinity);
  let knownRemaining = unknown.reduce((acc, u) => acc + (u ? 0 : 1), 0);
  const classOf = ops.map((op, i) => (unknown[i] ? inputClass(op.input, i) : ''));

  // Events in time order; at equal times calls come first, so operations that
  // touch at an instant count as concurrent (the lenient reading of a tie).
  const events: EventNode[] = [];
  for (let i = 0; i < n; i++) {
    const ret: EventNode = { op: i, isCall: false, match: undefined, prev: undefined, next: undefined };
    const call: EventNode = { op: i, isCall: true, match: ret, prev: undefined, next: undefined };
    events.push(call, ret);
  }
  const time = (e: EventNode): number => (e.isCall ? ops[e.op]!.callMs : ops[e.op]!.returnMs);
  events.sort((a, b) => time(a) - time(b) || (a.isCall === b.isCall ? a.op - b.op : a.isCall ? -1 : 1));
  const head: EventNode = { op: -1, isCall: false, match: undefined, prev: undefined, next: undefined };
  let last = head;
  for (const e of events) {
    last.next = e;
    e.prev = last;
    last = e;
  }

  // Compact encoding of the set K of linearized known-outcome operations.
  // Let b be the bound (first pending return): every known operation
  // returning before b is in K, and every other member of K was called before
  // b returned (it was a candidate under an earlier bound, and bounds only
  // move forward). So K is determined by b's rank among the returns and by
  // which operations of open[rank b] (known operations called before b
  // returned and returning after it) are in K.
  const rank = new Int32Array(n).fill(-1);
  const open: number[][] = [];
  {
    const pending = new Set<number>();
    for (const e of events) {
      if (unknown[e.op]) continue;
      if (e.isCall) pending.add(e.op);
      else {
        pending.delete(e.op);
        rank[e.op] = open.length;
        open.push([...pending]);
      }
    }
  }
  const linearized = new Uint8Array(n);
  const unknownSlot = new Int32Array(n);
  let unknownCount = 0;
  for (let i = 0; i < n; i++) if (unknown[i]) unknownSlot[i] = unknownCount++;
  const unknownBits = unknownCount > 0 ? new Uint32Array(Math.ceil(unknownCount / 32)) : undefined;
  const memo = new Memo(unknownBits, maxStates);

  const configKey = (bound: EventNode, hash: string): string => {
    const r = rank[bound.op]!;
    let key = String.fromCharCode(r & 0xffff, r >>> 16);
    const others = open[r]!;
    for (let j = 0; j < others.length; j += 16) {
      let mask = 0;
      const end = Math.min(others.length, j + 16);
      for (let k = j; k < end; k++) if (linearized[others[k]!] === 1) mask |= 1 << (k - j);
      key += String.fromCharCode(mask);
    }
    return key + hash;
  };

  const setLinearized = (i: number, on: boolean): void => {
    linearized[i] = on ? 1 : 0;
    if (unknown[i]) unknownBits![unknownSlot[i]! >>> 5]! ^= 1 << (unknownSlot[i]! & 31);
    else knownRemaining += on ? -1 : 1;
  };

  /** A level for the configuration the list is in now. */
  const makeLevel = (parent: Level<S> | undefined, move: EventNode | undefined, state: S, hash: string, bound: EventNode | undefined): Level<S> => {
    const known: EventNode[] = [];
    const optional: EventNode[] = [];
    for (let e = head.next; e !== undefined && e.isCall; e = e.next) {
      if (!unknown[e.op]) known.push(e);
      else if (!optional.some((o) => classOf[o.op] === classOf[e.op])) optional.push(e);
    }
    return { parent, move, state, hash, depth: parent === undefined ? 0 : parent.depth + 1, bound, known, optional, ci: 0, alts: undefined, ai: 0 };
  };

  const firstReturn = (): EventNode | undefined => {
    let e = head.next;
    while (e !== undefined && e.isCall) e = e.next;
    return e;
  };

  const alternativesFor = (i: number, state: S, hash: string): readonly Alternative<S>[] => {
    const op = ops[i]!;
    if (!unknown[i]) {
      const r = model.step(state, op.input, op.output as O);
      return r.ok ? [{ state: r.state, hash: model.hash(r.state) }] : [];
    }
    // Taking effect without changing the state is the same as never taking
    // effect, which the search allows anyway by not choosing the operation.
    const out: Alternative<S>[] = [];
    for (const s of model.stepUnknown!(state, op.input)) {
      const h = model.hash(s);
      if (h !== hash && !out.some((a) => a.hash === h)) out.push({ state: s, hash: h });
    }
    return out;
  };

  const init = model.init();
  const root = makeLevel(undefined, undefined, init, model.hash(init), firstReturn());
  let best = root;
  let iterations = 0;
  /** The configuration the event list is in. */
  let at = root;

  const tick = (): void => {
    if ((++iterations & 1023) === 0 && performance.now() > deadline) throw new BudgetExhausted('timeout');
  };

  /** Linearizes `node` in state `alt` on top of `at`; the new level, or undefined if explored before. */
  const tryMove = (node: EventNode, alt: Alternative<S>): Level<S> | undefined => {
    lift(node);
    setLinearized(node.op, true);
    if (knownRemaining === 0) throw new Linearizable();
    const bound = firstReturn()!;
    const added = memo.add(configKey(bound, alt.hash));
    if (added === 'new') {
      const level = makeLevel(at, node, alt.state, alt.hash, bound);
      at = level;
      if (level.depth > best.depth) best = level;
      return level;
    }
    setLinearized(node.op, false);
    unlift(node);
    if (added === 'full') throw new BudgetExhausted('max-states');
    return undefined;
  };

  const back = (): void => {
    const move = at.move!;
    setLinearized(move.op, false);
    unlift(move);
    at = at.parent!;
  };

  /** Moves the event list to the configuration of `target`: undo up to the common ancestor, redo down. */
  const goTo = (target: Level<S>): void => {
    const down: Level<S>[] = [];
    let t = target;
    while (t.depth > at.depth) {
      down.push(t);
      t = t.parent!;
    }
    while (at.depth > t.depth) back();
    while (at !== t) {
      back();
      down.push(t);
      t = t.parent!;
    }
    for (let k = down.length - 1; k >= 0; k--) {
      const move = down[k]!.move!;
      lift(move);
      setLinearized(move.op, true);
    }
    at = target;
  };

  /**
   * Explores everything reachable from `start` (which the list is in) by
   * known-outcome operations; collects the levels with unknown-outcome
   * candidates into `expand`. Ends with the list back in `start`.
   */
  const exploreKnown = (start: Level<S>, expand: Level<S>[]): void => {
    let level = start;
    if (level.optional.length > 0) expand.push(level);
    for (;;) {
      tick();
      let next: Level<S> | undefined;
      while (next === undefined && level.ci < level.known.length) {
        const node = level.known[level.ci]!;
        const alts = (level.alts ??= alternativesFor(node.op, level.state, level.hash));
        while (next === undefined && level.ai < alts.length) next = tryMove(node, alts[level.ai++]!);
        if (next === undefined) {
          level.ci++;
          level.alts = undefined;
          level.ai = 0;
        }
      }
      if (next !== undefined) {
        level = next;
        if (level.optional.length > 0) expand.push(level);
        continue;
      }
      // Every known candidate explored.
      level.known = [];
      if (level === start) return;
      back();
      level = at;
    }
  };

  const finish = (result: CheckOutcome, reason?: 'timeout' | 'max-states'): SearchResult<S> => {
    return { result, ...(reason === undefined ? {} : { reason }), statesExplored: memo.size, best };
  };

  if (knownRemaining === 0) return finish('ok');
  try {
    let layer: Level<S>[] = [];
    exploreKnown(root, layer);
    while (layer.length > 0) {
      const nextLayer: Level<S>[] = [];
      for (const level of layer) {
        goTo(level);
        for (const node of level.optional) {
          for (const alt of alternativesFor(node.op, level.state, level.hash)) {
            tick();
            const child = tryMove(node, alt);
            if (child === undefined) continue;
            exploreKnown(child, nextLayer);
            back();
          }
        }
        level.optional = [];
      }
      layer = nextLayer;
    }
  } catch (e) {
    if (e instanceof Linearizable) return finish('ok');
    if (e instanceof BudgetExhausted) return finish('unknown', e.reason);
    throw e;
  }
  return finish('illegal');
}

function partialOf<S, I, O>(
  model: Model<S, I, O>,
  history: History<I, O>,
  partition: number,
  key: string | undefined,
  indices: readonly number[],
  search: SearchResult<S>,
): PartialLinearization<S, I, O> {
  const linearized: LinearizedStep<S, I, O>[] = [];
  for (let l: Level<S> | undefined = search.best; l?.move !== undefined; l = l.parent) {
    const index = indices[l.move.op]!;
    linearized.push({ index, op: history[index]!, state: l.state });
  }
  linearized.reverse();
  // The deepest configuration's first pending return: that operation had to
  // take effect next, and nothing (for an illegal history) let it.
  const bound = search.best.bound;
  const stuckIndex = bound === undefined ? undefined : indices[bound.op]!;
  return {
    partition,
    ...(key === undefined ? {} : { key }),
    operations: indices.map((index) => ({ index, op: history[index]! })),
    linearized,
    state: linearized.length > 0 ? linearized[linearized.length - 1]!.state : model.init(),
    ...(stuckIndex === undefined ? {} : { stuck: { index: stuckIndex, op: history[stuckIndex]! } }),
  };
}

/**
 * Checks whether `history` is linearizable with respect to `model`.
 *
 * The history is split into partitions (by `Model.partitionKey` unless
 * `options.partition` says otherwise) that are checked independently; the
 * result is `illegal` if any partition is not linearizable, else `unknown` if
 * any ran out of budget, else `ok`. For `illegal` and `unknown`, `partial`
 * describes the first such partition: the longest linearizable prefix found
 * and the operation that could not follow it (see `explain`).
 */
export function checkLinearizable<S, I, O>(
  model: Model<S, I, O>,
  history: History<I, O>,
  options: CheckOptions<I, O> = {},
): CheckResult<S, I, O> {
  const start = performance.now();
  const deadline = start + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const maxStates = options.maxStates ?? DEFAULT_MAX_STATES;
  validate(history, model as Model<unknown, unknown, unknown>);

  let groups: { key?: string; indices: number[] }[];
  const partition = options.partition ?? true;
  if (typeof partition === 'function') {
    groups = partitionsToIndices(history, partition(history)).map((indices) => ({ indices }));
  } else if (partition && model.partitionKey !== undefined) {
    const keyOf = model.partitionKey.bind(model);
    groups = partitionIndicesBy(history, (op) => keyOf(op.input));
  } else {
    groups = [{ indices: history.map((_, i) => i) }];
  }

  const partitions: PartitionResult[] = [];
  let partial: PartialLinearization<S, I, O> | undefined;
  let firstUnknown: PartialLinearization<S, I, O> | undefined;
  let statesExplored = 0;
  let stop = false;
  groups.forEach((g, p) => {
    const keyPart = g.key === undefined ? {} : { key: g.key };
    if (stop || performance.now() > deadline) {
      partitions.push({ ...keyPart, operations: g.indices, result: 'unknown', reason: 'not-checked', statesExplored: 0, elapsedMs: 0 });
      return;
    }
    const t0 = performance.now();
    const r = search(
      model,
      g.indices.map((i) => history[i]!),
      deadline,
      maxStates,
    );
    statesExplored += r.statesExplored;
    partitions.push({
      ...keyPart,
      operations: g.indices,
      result: r.result,
      ...(r.reason === undefined ? {} : { reason: r.reason }),
      statesExplored: r.statesExplored,
      elapsedMs: performance.now() - t0,
    });
    if (r.result === 'illegal' && partial === undefined) {
      partial = partialOf(model, history, p, g.key, g.indices, r);
      if (options.failFast === true) stop = true;
    } else if (r.result === 'unknown' && firstUnknown === undefined) {
      firstUnknown = partialOf(model, history, p, g.key, g.indices, r);
    }
  });

  const result: CheckOutcome = partial !== undefined ? 'illegal' : partitions.some((p) => p.result === 'unknown') ? 'unknown' : 'ok';
  const shown = partial ?? firstUnknown;
  return {
    result,
    partitions,
    ...(shown === undefined || result === 'ok' ? {} : { partial: shown }),
    statesExplored,
    elapsedMs: performance.now() - start,
  };
}
