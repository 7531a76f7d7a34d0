/**
 * Core types of the linearizability checker: operations, histories, models and results.
 */

/** Identifies the client (process, connection, thread) that issued an operation. */
export type ClientId = string | number;

/**
 * One operation of a history, as observed by the client that issued it.
 *
 * Times are the client's monotonic clock readings in milliseconds; all clients
 * of one history must read the same clock (e.g. `performance.now()` on one
 * machine). `callMs` is taken just before the request is sent, `returnMs` just
 * after the response arrived.
 *
 * An operation whose outcome is unknown (timed out, connection lost, the
 * process crashed) has `returnMs === Infinity`; its `output` is ignored. Such an
 * operation may have taken effect at any instant after its call, or never.
 */
export interface Operation<Input, Output> {
  readonly clientId: ClientId;
  readonly input: Input;
  /** The observed result; ignored (may be absent) when `returnMs === Infinity`. */
  readonly output?: Output | undefined;
  readonly callMs: number;
  /** `Infinity` when the outcome is unknown. */
  readonly returnMs: number;
}

/** A history: every operation issued by every client, in any order. */
export type History<Input, Output> = readonly Operation<Input, Output>[];

/** True when the operation's outcome is unknown (`returnMs === Infinity`). */
export function isUnknown(op: Operation<unknown, unknown>): boolean {
  return op.returnMs === Infinity;
}

/** The result of applying one operation to one state. */
export interface StepResult<State> {
  /** Whether the observed output is a legal result of the input in the given state. */
  readonly ok: boolean;
  /** The state after the operation (meaningful only when `ok`). */
  readonly state: State;
}

/**
 * A sequential specification of the object under test.
 *
 * States must be treated as immutable values: `step` returns a new state and
 * never changes the one it was given. `hash` must return equal strings for
 * equal states and distinct strings for distinct states (it is the key of the
 * search's memo table, so a collision could hide a violation).
 */
export interface Model<State, Input, Output> {
  /** The state before any operation. */
  init(): State;
  /** Whether `output` is a legal result of applying `input` in `state`, and the next state. */
  step(state: State, input: Input, output: Output): StepResult<State>;
  /**
   * The states an operation whose result was never observed may leave behind
   * if it did take effect, e.g. `[state with key := value]` for a put, the
   * swapped state or nothing for a compare-and-swap (depending on whether its
   * precondition holds in `state`), and nothing for a read. The checker always
   * also allows the operation never to take effect, so this need not list
   * `state` itself. Required only for histories containing operations with
   * unknown outcome.
   */
  stepUnknown?(state: State, input: Input): readonly State[];
  /** A canonical string for a state. */
  hash(state: State): string;
  /**
   * P-compositionality: the object an operation touches, when the model is a
   * collection of independent objects (e.g. a map of registers). The checker
   * then checks the history of each object on its own, which is exponentially
   * cheaper. Every operation must touch exactly one object.
   */
  partitionKey?(input: Input): string;
  /** Human-readable operation, for reports; `output` is `undefined` for an unknown outcome. */
  describeOperation?(input: Input, output: Output | undefined, unknown: boolean): string;
  /** Human-readable state, for reports. */
  describeState?(state: State): string;
}

/** Outcome of a check. `unknown`: the time or state budget ran out first. */
export type CheckOutcome = 'ok' | 'illegal' | 'unknown';

/** An operation together with its index in the checked history. */
export interface OperationRef<Input, Output> {
  readonly index: number;
  readonly op: Operation<Input, Output>;
}

/** One step of a (partial) linearization: the operation and the state after it. */
export interface LinearizedStep<State, Input, Output> extends OperationRef<Input, Output> {
  readonly state: State;
}

/** What the search of one partition established. */
export interface PartitionResult {
  /** The partition key (from `Model.partitionKey`), if the history was partitioned by key. */
  readonly key?: string;
  /** Indices (into the checked history) of the partition's operations. */
  readonly operations: readonly number[];
  readonly result: CheckOutcome;
  /**
   * Why the result is `unknown`: the deadline passed, the state cap was
   * reached, or the partition was not checked (deadline already passed, or
   * `failFast` after an illegal partition).
   */
  readonly reason?: 'timeout' | 'max-states' | 'not-checked';
  /** Distinct (linearized set, state) configurations memoized. */
  readonly statesExplored: number;
  readonly elapsedMs: number;
}

/**
 * The best the search achieved in a partition that is not linearizable (or
 * whose check ran out of budget): the longest linearizable prefix it found and
 * the operation that could not be linearized after it.
 */
export interface PartialLinearization<State, Input, Output> {
  /** Index into `CheckResult.partitions`. */
  readonly partition: number;
  readonly key?: string;
  /** The partition's operations. */
  readonly operations: readonly OperationRef<Input, Output>[];
  /** The longest linearizable prefix found, in linearization order. */
  readonly linearized: readonly LinearizedStep<State, Input, Output>[];
  /** The state after `linearized` (the initial state when it is empty). */
  readonly state: State;
  /**
   * The operation that had to take effect next (its response had been
   * received) but could not be linearized after `linearized`. Absent when the
   * search ran out of budget before reaching it.
   */
  readonly stuck?: OperationRef<Input, Output>;
}

export interface CheckResult<State, Input, Output> {
  /** `illegal` if any partition is not linearizable; otherwise `unknown` if any ran out of budget; else `ok`. */
  readonly result: CheckOutcome;
  readonly partitions: readonly PartitionResult[];
  /** For `illegal`: the first illegal partition; for `unknown`: the first partition left undecided. */
  readonly partial?: PartialLinearization<State, Input, Output>;
  readonly statesExplored: number;
  readonly elapsedMs: number;
}

export interface CheckOptions<Input, Output> {
  /** Wall-clock budget for the whole check; default 10 000 ms. Past it the result is `unknown`. */
  readonly timeoutMs?: number;
  /** Cap on memoized configurations per partition; default 1 000 000. Past it that partition is `unknown`. */
  readonly maxStates?: number;
  /**
   * How to split the history into independently checked sub-histories:
   * `true` (default) uses `Model.partitionKey` when the model has one; `false`
   * checks the history as one; a function returns the partitions (each a list
   * of operations of the history; together they must cover it).
   */
  readonly partition?: boolean | ((history: History<Input, Output>) => readonly (readonly Operation<Input, Output>[])[]);
  /** Stop at the first illegal partition (the others are reported `unknown`); default false. */
  readonly failFast?: boolean;
}
