/**
 * Readable reports: a per-client timeline of a history, and an explanation of
 * a failed check.
 */
import type { CheckResult, ClientId, History, Model, Operation, OperationRef } from './types.js';

type Describer<I, O> = Pick<Model<unknown, I, O>, 'describeOperation'>;

/** Describes an operation with the model's `describeOperation`, or as JSON. */
export function describeOperation<I, O>(op: Operation<I, O>, model?: Describer<I, O>): string {
  const unknown = op.returnMs === Infinity;
  const output = unknown ? undefined : op.output;
  if (model?.describeOperation !== undefined) return model.describeOperation(op.input, output, unknown);
  return `${JSON.stringify(op.input)} → ${unknown ? '?' : JSON.stringify(output ?? null)}`;
}

export interface FormatHistoryOptions<I, O> {
  /** Used for `describeOperation`. */
  readonly model?: Describer<I, O>;
  /** Width of the timeline bars in columns; default 48. */
  readonly width?: number;
  /** A note printed after an operation, by its index in the history. */
  readonly note?: (index: number) => string | undefined;
  /** Only operations whose index passes are printed (the time axis still spans those printed). */
  readonly filter?: (index: number) => boolean;
}

function fmtTime(t: number): string {
  if (t === Infinity) return '?';
  return Number.isInteger(t) ? String(t) : t.toFixed(1);
}

/**
 * A timeline of the history, grouped by client in order of first call, each
 * client's operations in call order:
 *
 * ```
 * client 1
 *   #0   [0 .. 5]       |=======              | put(x, 1)
 * client 2
 *   #1   [2 .. ?]       |  ?????????????????? | put(x, 2) → ?
 * ```
 *
 * `=` spans [call, return]; `?` spans from the call of an operation whose
 * outcome is unknown to the end of the axis.
 */
export function formatHistory<I, O>(history: History<I, O>, options: FormatHistoryOptions<I, O> = {}): string {
  const refs: OperationRef<I, O>[] = [];
  history.forEach((op, index) => {
    if (options.filter === undefined || options.filter(index)) refs.push({ index, op });
  });
  return formatRefs(refs, options);
}

function formatRefs<I, O>(refs: readonly OperationRef<I, O>[], options: FormatHistoryOptions<I, O>): string {
  if (refs.length === 0) return '(no operations)\n';
  const width = Math.max(8, options.width ?? 48);
  let t0 = Infinity;
  let t1 = -Infinity;
  for (const { op } of refs) {
    t0 = Math.min(t0, op.callMs);
    t1 = Math.max(t1, op.callMs, op.returnMs === Infinity ? op.callMs : op.returnMs);
  }
  const span = t1 - t0;
  const col = (t: number): number => (span <= 0 ? 0 : Math.min(width - 1, Math.floor(((t - t0) / span) * (width - 1) + 1e-9)));

  const byClient = new Map<ClientId, OperationRef<I, O>[]>();
  for (const ref of [...refs].sort((a, b) => a.op.callMs - b.op.callMs || a.index - b.index)) {
    let list = byClient.get(ref.op.clientId);
    if (list === undefined) {
      list = [];
      byClient.set(ref.op.clientId, list);
    }
    list.push(ref);
  }

  const idWidth = Math.max(...refs.map((r) => String(r.index).length)) + 1;
  const times = refs.map((r) => `[${fmtTime(r.op.callMs)} .. ${fmtTime(r.op.returnMs)}]`);
  const timeWidth = Math.max(...times.map((t) => t.length));
  const lines: string[] = [
    `time ${fmtTime(t0)} .. ${fmtTime(t1)} ms${span > 0 ? `, one column ≈ ${fmtTime(span / (width - 1))} ms` : ''}; '=' call..return, '?' outcome unknown`,
  ];
  for (const [client, list] of byClient) {
    lines.push(`client ${String(client)}`);
    for (const { index, op } of list) {
      const unknown = op.returnMs === Infinity;
      const a = col(op.callMs);
      const b = unknown ? width - 1 : col(op.returnMs);
      const bar = ' '.repeat(a) + (unknown ? '?' : '=').repeat(b - a + 1) + ' '.repeat(width - 1 - b);
      const time = `[${fmtTime(op.callMs)} .. ${fmtTime(op.returnMs)}]`;
      const note = options.note?.(index);
      lines.push(
        `  ${`#${index}`.padEnd(idWidth)} ${time.padEnd(timeWidth)} |${bar}| ${describeOperation(op, options.model)}${note === undefined ? '' : `   ${note}`}`,
      );
    }
  }
  return lines.join('\n') + '\n';
}

export interface ExplainOptions {
  /** Width of the timeline bars; default 48. */
  readonly width?: number;
  /**
   * Timeline of the whole failing partition instead of the window around the
   * failure (the operations overlapping the last few linearized ones and the
   * stuck one). Default false.
   */
  readonly full?: boolean;
  /** Most operations listed in the linearized prefix (its tail is shown); default 20. */
  readonly maxPrefix?: number;
}

/**
 * Explains a check result: a summary line per outcome and, for a failing (or
 * undecided) partition, the longest linearizable prefix found, the operation
 * that could not follow it, and a timeline of the operations around it.
 */
export function explain<S, I, O>(model: Model<S, I, O>, result: CheckResult<S, I, O>, options: ExplainOptions = {}): string {
  const describeState = (s: S): string => (model.describeState !== undefined ? model.describeState(s) : model.hash(s));
  const nOps = result.partitions.reduce((a, p) => a + p.operations.length, 0);
  const count = (r: string): number => result.partitions.filter((p) => p.result === r).length;
  const out: string[] = [
    `linearizability: ${result.result.toUpperCase()} — ${nOps} operations in ${result.partitions.length} partition(s) ` +
      `(${count('ok')} ok, ${count('illegal')} illegal, ${count('unknown')} unknown); ` +
      `${result.statesExplored} states explored in ${result.elapsedMs.toFixed(1)} ms`,
  ];
  for (const [i, p] of result.partitions.entries()) {
    if (p.result === 'ok') continue;
    out.push(
      `  partition ${i}${p.key === undefined ? '' : ` (key ${JSON.stringify(p.key)})`}: ${p.result}` +
        `${p.reason === undefined ? '' : ` (${p.reason})`}, ${p.operations.length} ops, ${p.statesExplored} states, ${p.elapsedMs.toFixed(1)} ms`,
    );
  }
  const partial = result.partial;
  if (partial === undefined) return out.join('\n') + '\n';

  const where = `partition ${partial.partition}${partial.key === undefined ? '' : ` (key ${JSON.stringify(partial.key)})`}`;
  const lin = partial.linearized;
  const maxPrefix = options.maxPrefix ?? 20;
  out.push('');
  out.push(
    `${result.result === 'illegal' ? 'Not linearizable' : 'Undecided'}: ${where}, ${partial.operations.length} operations. ` +
      `Longest linearizable prefix found: ${lin.length} operation(s), starting from ${describeState(model.init())}:`,
  );
  const from = Math.max(0, lin.length - maxPrefix);
  if (from > 0) out.push(`    ... ${from} earlier`);
  for (let k = from; k < lin.length; k++) {
    const s = lin[k]!;
    out.push(`  ${String(k + 1).padStart(4)}. #${s.index} client ${String(s.op.clientId)}: ${describeOperation(s.op, model)}   ⇒ ${describeState(s.state)}`);
  }
  const stuck = partial.stuck;
  if (stuck !== undefined) {
    const what = `#${stuck.index} client ${String(stuck.op.clientId)}: ${describeOperation(stuck.op, model)} [${fmtTime(stuck.op.callMs)} .. ${fmtTime(stuck.op.returnMs)}]`;
    if (result.result === 'illegal') {
      const legalHere = model.step(partial.state, stuck.op.input, stuck.op.output as O).ok;
      out.push(
        `Then ${what} had to take effect next but cannot` +
          (legalHere
            ? ` (its result is legal in ${describeState(partial.state)}, but nothing can follow it there; no other order found gets further).`
            : `: its result is not legal in ${describeState(partial.state)}, and no other order found gets further.`),
      );
    } else {
      out.push(`The search stopped before it could linearize ${what}.`);
    }
  }

  // Window of interest: from the earliest call among the last few linearized
  // operations (and the stuck one) to the stuck operation's return.
  const position = new Map<number, number>();
  lin.forEach((s, k) => position.set(s.index, k + 1));
  let refs = partial.operations;
  if (options.full !== true) {
    const anchor = [...lin.slice(-5).map((s) => s.op), ...(stuck === undefined ? [] : [stuck.op])];
    if (anchor.length > 0) {
      const w0 = Math.min(...anchor.map((o) => o.callMs));
      const w1 = Math.max(...anchor.map((o) => (o.returnMs === Infinity ? o.callMs : o.returnMs)));
      refs = refs.filter(({ op }) => op.callMs <= w1 && op.returnMs >= w0);
    }
  }
  out.push('');
  out.push(
    `Timeline${options.full === true || refs.length === partial.operations.length ? '' : ` (the ${refs.length} of ${partial.operations.length} operations overlapping the failure)`}` +
      `; "L<n>": n-th in the prefix above, "✗": could not be linearized:`,
  );
  out.push(
    formatRefs(refs, {
      model,
      ...(options.width === undefined ? {} : { width: options.width }),
      note: (index) => (index === stuck?.index ? '✗' : position.has(index) ? `L${position.get(index)!}` : undefined),
    }).trimEnd(),
  );
  return out.join('\n') + '\n';
}
