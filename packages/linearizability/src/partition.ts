import type { History, Operation } from './types.js';

/**
 * Groups a history's operations by key, keeping each group in history order.
 * Groups appear in order of their key's first occurrence.
 *
 * By P-compositionality (Herlihy & Wing), a history over independent objects
 * is linearizable iff each object's sub-history is, so each group can be
 * checked on its own.
 */
export function partitionBy<Input, Output>(
  history: History<Input, Output>,
  keyOf: (op: Operation<Input, Output>) => string,
): Operation<Input, Output>[][] {
  return partitionIndicesBy(history, keyOf).map((g) => g.indices.map((i) => history[i]!));
}

/** Like {@link partitionBy}, but returns each group's key and the indices of its operations. */
export function partitionIndicesBy<Input, Output>(
  history: History<Input, Output>,
  keyOf: (op: Operation<Input, Output>) => string,
): { key: string; indices: number[] }[] {
  const groups = new Map<string, number[]>();
  history.forEach((op, i) => {
    const key = keyOf(op);
    let g = groups.get(key);
    if (g === undefined) {
      g = [];
      groups.set(key, g);
    }
    g.push(i);
  });
  return [...groups].map(([key, indices]) => ({ key, indices }));
}

/**
 * Maps partitions given as lists of operation objects back to indices into the
 * history (by identity; an object occurring several times in the history is
 * matched to its occurrences in order). Throws unless the partitions cover the
 * history exactly once.
 */
export function partitionsToIndices<Input, Output>(
  history: History<Input, Output>,
  partitions: readonly (readonly Operation<Input, Output>[])[],
): number[][] {
  const positions = new Map<Operation<Input, Output>, number[]>();
  history.forEach((op, i) => {
    const list = positions.get(op);
    if (list === undefined) positions.set(op, [i]);
    else list.push(i);
  });
  const used = new Map<Operation<Input, Output>, number>();
  let total = 0;
  const out = partitions.map((part) =>
    part.map((op) => {
      const list = positions.get(op);
      const k = used.get(op) ?? 0;
      const index = list?.[k];
      if (index === undefined) throw new Error('partition contains an operation that is not in the history (or repeats one)');
      used.set(op, k + 1);
      total++;
      return index;
    }),
  );
  if (total !== history.length) throw new Error(`partitions cover ${total} of the history's ${history.length} operations`);
  for (const p of out) p.sort((a, b) => a - b);
  return out;
}
