import { EntryType, encodeConfChange } from '@hubha/raft';
import type { ConfChange } from '@hubha/raft';
import { CoordStateMachine, encodeRequest } from '../src/index.js';
import type { ApplyOutcome, BootstrapMember, Command, CommandResult, CoordRequest, TxnOpResult } from '../src/index.js';

export const te = new TextEncoder();
export const td = new TextDecoder();
export const b = (s: string): Uint8Array => te.encode(s);

/** A state machine with its next log index: apply requests, raw bytes and conf changes in order. */
export class Driver {
  sm: CoordStateMachine;
  term = 1;

  constructor(bootstrapMembers: readonly BootstrapMember[] = []) {
    this.sm = new CoordStateMachine({ bootstrapMembers });
  }

  static from(sm: CoordStateMachine): Driver {
    const d = new Driver();
    d.sm = sm;
    d.term = Math.max(1, sm.appliedTerm);
    return d;
  }

  get next(): number {
    return this.sm.appliedIndex + 1;
  }

  raw(data: Uint8Array, type: EntryType = EntryType.Normal): ApplyOutcome {
    return this.sm.apply({ index: this.next, term: this.term, type, data });
  }

  request(req: CoordRequest): ApplyOutcome {
    return this.raw(encodeRequest(req));
  }

  /** Applies `command` (with a client id and seq when given); returns the outcome. */
  do(command: Command, clientId = '', seq = 0): ApplyOutcome {
    return this.request({ clientId, seq, command });
  }

  /** Applies `command` and returns its result. */
  run(command: Command, clientId = '', seq = 0): CommandResult {
    const r = this.do(command, clientId, seq).result;
    if (r === null) throw new Error('no result');
    return r;
  }

  conf(change: ConfChange): ApplyOutcome {
    return this.raw(encodeConfChange(change), EntryType.ConfChange);
  }

  noop(): ApplyOutcome {
    return this.raw(new Uint8Array(0));
  }
}

/** Narrows a result to one type, failing the test otherwise. */
type AnyResult = CommandResult | TxnOpResult;
/** The results whose `type` may be T (DeleteResult's type is 'delete' | 'delete-range'). */
type ResultOf<T, R = AnyResult> = R extends { type: infer U } ? (T extends U ? R : never) : never;

export function as<T extends AnyResult['type']>(r: AnyResult | null | undefined, type: T): ResultOf<T> {
  if (r === null || r === undefined || r.type !== type) throw new Error(`expected a ${type} result, got ${JSON.stringify(r)}`);
  return r as ResultOf<T>;
}

export function errorCode(r: CommandResult | null): string {
  return as(r, 'error').code;
}

/** The replicated state minus the bookkeeping that every entry moves (index, term, sessions). */
export function storeOf(sm: CoordStateMachine): unknown {
  const img = sm.image();
  return { revision: img.revision, kvs: img.kvs, leases: img.leases, lastEpochs: img.lastEpochs, members: img.members };
}

export function hex(data: Uint8Array): string {
  return Buffer.from(data).toString('hex');
}
