import type { Message } from '../core/types.js';
import { FNV_OFFSET, fnvNumber, fnvString } from './hash.js';

/**
 * The run's event log: a bounded ring of recent events (formatted only when a violation is
 * reported) and a digest over every event of the run, which the determinism test compares.
 */

export type TraceKind =
  | 'tick'
  | 'deliver'
  | 'drop-dead'
  | 'propose'
  | 'ack'
  | 'crash'
  | 'crash-armed'
  | 'restart'
  | 'partition'
  | 'heal'
  | 'conf'
  | 'transfer'
  | 'read'
  | 'read-state'
  | 'snapshot'
  | 'campaign'
  | 'role'
  | 'start'
  | 'retire'
  | 'phase'
  | 'sync';

export interface TraceEvent {
  readonly step: number;
  readonly time: number;
  readonly kind: TraceKind;
  readonly node: string;
  readonly message: Message | null;
  readonly detail: string;
}

const KIND_CODES: Record<TraceKind, number> = {
  tick: 1,
  deliver: 2,
  'drop-dead': 3,
  propose: 4,
  ack: 5,
  crash: 6,
  'crash-armed': 7,
  restart: 8,
  partition: 9,
  heal: 10,
  conf: 11,
  transfer: 12,
  read: 13,
  'read-state': 14,
  snapshot: 15,
  campaign: 16,
  role: 17,
  start: 18,
  retire: 19,
  phase: 20,
  sync: 21,
};

export class Trace {
  private readonly ring: (TraceEvent | undefined)[];
  private next = 0;
  private total = 0;
  private hash = FNV_OFFSET;

  constructor(readonly capacity = 400) {
    this.ring = new Array<TraceEvent | undefined>(capacity);
  }

  record(step: number, time: number, kind: TraceKind, node: string, message: Message | null = null, detail = ''): void {
    this.ring[this.next] = { step, time, kind, node, message, detail };
    this.next = (this.next + 1) % this.capacity;
    this.total++;
    let h = fnvNumber(this.hash, KIND_CODES[kind]);
    h = fnvNumber(h, time);
    h = fnvString(h, node);
    if (message !== null) {
      h = fnvString(h, message.type);
      h = fnvString(h, message.to);
      h = fnvNumber(h, message.term);
      h = fnvNumber(h, message.index);
      h = fnvNumber(h, message.logTerm);
      h = fnvNumber(h, message.commit);
      h = fnvNumber(h, message.entries.length);
      h = fnvNumber(h, message.reject ? 1 : 0);
    }
    if (detail.length > 0) h = fnvString(h, detail);
    this.hash = h;
  }

  /** Folds extra state (e.g. the final status of every node) into the digest. */
  mix(value: string): void {
    this.hash = fnvString(this.hash, value);
  }

  get digest(): string {
    return `${this.hash.toString(16).padStart(8, '0')}:${this.total}`;
  }

  get eventCount(): number {
    return this.total;
  }

  /** Recent events, oldest first. */
  recent(): TraceEvent[] {
    const out: TraceEvent[] = [];
    const n = Math.min(this.total, this.capacity);
    for (let k = 0; k < n; k++) {
      const e = this.ring[(this.next - n + k + this.capacity) % this.capacity];
      if (e !== undefined) out.push(e);
    }
    return out;
  }

  /**
   * The last `lines` interesting events as text: heartbeat traffic is left out and runs of
   * ticks are folded into one line. Before them come up to `context` earlier notable events
   * (crashes, restarts, partitions, role and membership changes) from further back in the ring.
   */
  format(lines = 30, context = 12): string[] {
    const formatted: { line: string; notable: boolean }[] = [];
    let tickRun: { from: number; to: number; count: number } | null = null;
    const flush = (): void => {
      if (tickRun !== null) {
        formatted.push({ line: tickRun.count === 1 ? `t=${tickRun.from} tick` : `t=${tickRun.from}..${tickRun.to} ${tickRun.count} ticks`, notable: false });
        tickRun = null;
      }
    };
    for (const e of this.recent()) {
      if (e.kind === 'tick') {
        if (tickRun === null) tickRun = { from: e.time, to: e.time, count: 1 };
        else {
          tickRun.to = e.time;
          tickRun.count++;
        }
        continue;
      }
      if (e.message !== null && isHeartbeatTraffic(e.message)) continue;
      flush();
      formatted.push({ line: formatEvent(e), notable: NOTABLE.has(e.kind) });
    }
    flush();
    const tail = formatted.slice(-lines).map((f) => f.line);
    const earlier = formatted
      .slice(0, Math.max(0, formatted.length - lines))
      .filter((f) => f.notable)
      .slice(-context)
      .map((f) => `(earlier) ${f.line}`);
    return [...earlier, ...tail];
  }
}

const NOTABLE: ReadonlySet<TraceKind> = new Set<TraceKind>(['crash', 'crash-armed', 'restart', 'partition', 'heal', 'conf', 'transfer', 'role', 'start', 'retire', 'phase', 'campaign']);

function isHeartbeatTraffic(m: Message): boolean {
  return (m.type === 'heartbeat' || m.type === 'heartbeat-resp') && m.context.length === 0;
}

export function formatMessage(m: Message): string {
  let s = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  switch (m.type) {
    case 'app':
      s += ` prev=(${m.index},${m.logTerm}) n=${m.entries.length}`;
      if (m.entries.length > 0) s += ` [${m.entries[0]!.index}..${m.entries[m.entries.length - 1]!.index}]`;
      s += ` commit=${m.commit}`;
      break;
    case 'app-resp':
      s += m.reject ? ` REJECT index=${m.index} hint=${m.rejectHint}` : ` ack=${m.index}`;
      break;
    case 'vote':
    case 'pre-vote':
      s += ` last=(${m.index},${m.logTerm})`;
      if (m.context.length > 0) s += ' transfer';
      break;
    case 'vote-resp':
    case 'pre-vote-resp':
      s += m.reject ? ' REJECT' : ' GRANT';
      break;
    case 'snap':
      if (m.snapshot !== null) s += ` snap=(${m.snapshot.meta.index},${m.snapshot.meta.term})`;
      break;
    case 'heartbeat':
      s += ` commit=${m.commit}`;
      break;
    case 'read-index-resp':
      s += ` index=${m.index}`;
      break;
    default:
      break;
  }
  return s;
}

export function formatEvent(e: TraceEvent): string {
  const head = `t=${e.time} #${e.step} ${e.kind}`;
  const parts = [head];
  if (e.node.length > 0 && e.message === null) parts.push(e.node);
  if (e.message !== null) parts.push(formatMessage(e.message));
  if (e.detail.length > 0) parts.push(e.detail);
  return parts.join(' ');
}
