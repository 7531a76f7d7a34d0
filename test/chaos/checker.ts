/**
 * The chaos checker: verdicts on a recorded history (pure functions; test/chaos/checker.test.ts
 * shows each of them failing on a synthetic history).
 *
 * - split brain, from the acknowledgements alone: per server identity (system identifier +
 *   timeline + epoch) the interval in which it certainly accepted writes; two identities whose
 *   intervals overlap accepted writes at the same time. An acknowledged write committed at some
 *   instant in [sent, ack], so the certain interval of an identity runs from its first ack to its
 *   last send: [first ack, last ack] made conservative by the client's round trip, so that a slow
 *   client can never fake an overlap.
 * - split brain, against the promotions: a write sent after a newer timeline was promoted (the
 *   promoting hub's 'PostgreSQL promoted' log line, written after pg_promote returned) and yet
 *   acknowledged by a server on an older timeline — the deposed primary kept accepting writes
 *   while the new one was writable. (A single client through the VIP switches servers in one
 *   step, so this is how it sees a primary that did not fence itself in time.) A promotion the
 *   promoting hub abandoned (its own 'promotion failed' line: it fenced itself before it became
 *   the active hub) counts only if its timeline acknowledged a write meanwhile: otherwise the
 *   branch served nobody, and the older timeline going on is no split brain (a write it did
 *   acknowledge and that got discarded is a lost write, below).
 * - lost writes (synchronous mode): every acknowledged id must be on the final primary.
 * - recovery within a stated bound after the heal.
 * - Raft election safety: at most one leader per term, from the members' 'leader changed' lines.
 */
import { identityOf, type Ack, type LeaderObservation, type Promotion } from './history.js';

export type ViolationKind = 'split-brain' | 'stale-primary' | 'lost-write' | 'no-recovery' | 'raft-two-leaders';

export interface Violation {
  readonly kind: ViolationKind;
  readonly message: string;
  /** Identifies the underlying event, for runs that see it again in later rounds (split brain against a promotion, two leaders in a term). */
  readonly key?: string;
}

export interface IdentityInterval {
  readonly identity: string;
  readonly tl: number;
  readonly count: number;
  readonly firstSent: number;
  readonly firstAck: number;
  readonly lastSent: number;
  readonly lastAck: number;
  readonly firstId: number;
  readonly lastId: number;
}

/** Per identity: how many acks, and the first/last send and ack times, in order of first ack. */
export function identityIntervals(acks: readonly Ack[]): IdentityInterval[] {
  const by = new Map<string, { tl: number; count: number; firstSent: number; firstAck: number; lastSent: number; lastAck: number; firstId: number; lastId: number }>();
  for (const a of acks) {
    const key = identityOf(a);
    const cur = by.get(key);
    if (cur === undefined) {
      by.set(key, { tl: a.tl, count: 1, firstSent: a.sent, firstAck: a.ack, lastSent: a.sent, lastAck: a.ack, firstId: a.id, lastId: a.id });
      continue;
    }
    cur.count++;
    if (a.ack < cur.firstAck) {
      cur.firstAck = a.ack;
      cur.firstSent = a.sent;
      cur.firstId = a.id;
    }
    if (a.sent > cur.lastSent) {
      cur.lastSent = a.sent;
      cur.lastAck = a.ack;
      cur.lastId = a.id;
    }
  }
  return [...by.entries()].map(([identity, v]) => ({ identity, ...v })).sort((x, y) => x.firstAck - y.firstAck);
}

/** Two identities with overlapping certain intervals: both accepted writes at the same time. */
export function checkSplitBrain(acks: readonly Ack[]): Violation[] {
  const intervals = identityIntervals(acks);
  const out: Violation[] = [];
  for (let i = 0; i < intervals.length; i++) {
    for (let j = i + 1; j < intervals.length; j++) {
      const a = intervals[i]!;
      const b = intervals[j]!;
      if (a.lastSent > b.firstAck && b.lastSent > a.firstAck) {
        out.push({
          kind: 'split-brain',
          message:
            `${a.identity} (${a.count} acks, first acked ${iso(a.firstAck)}, last sent ${iso(a.lastSent)} id ${a.lastId}) and ` +
            `${b.identity} (${b.count} acks, first acked ${iso(b.firstAck)} id ${b.firstId}, last sent ${iso(b.lastSent)}) accepted writes in overlapping intervals`,
        });
      }
    }
  }
  return out;
}

/**
 * Acks from a server on an older timeline for writes sent after a newer timeline's promotion had
 * completed. One violation per (identity, promotion) with the count and the first such id.
 */
export function checkStalePrimary(acks: readonly Ack[], promotions: readonly Promotion[]): Violation[] {
  const out: Violation[] = [];
  // An abandoned promotion served a client if its timeline acknowledged a write between the
  // promotion and a while after its fence began (the fence ends writes within seconds).
  const served = (p: Promotion): boolean =>
    p.abandonedAt === null || p.abandonedAt === undefined || acks.some((a) => a.tl === p.timeline && a.ack >= p.at - 1000 && a.sent <= p.abandonedAt! + ABANDONED_FENCE_MS);
  const effective = promotions.filter(served);
  const groups = new Map<string, { p: Promotion; identity: string; count: number; first: Ack; last: Ack }>();
  for (const a of acks) {
    for (const p of effective) {
      if (p.timeline > a.tl && a.sent > p.at) {
        const key = `${identityOf(a)}|${p.node}|${p.timeline}`;
        const g = groups.get(key);
        if (g === undefined) groups.set(key, { p, identity: identityOf(a), count: 1, first: a, last: a });
        else {
          g.count++;
          if (a.sent > g.last.sent) g.last = a;
        }
      }
    }
  }
  for (const g of groups.values()) {
    out.push({
      kind: 'stale-primary',
      key: `stale-primary ${g.identity} ${g.p.node} tl${g.p.timeline} e${g.p.epoch}`,
      message:
        `split brain: ${g.identity} acknowledged ${g.count} write(s) sent after ${g.p.node} was promoted to timeline ${g.p.timeline} (epoch ${g.p.epoch}) at ${iso(g.p.at)}: ` +
        `first id ${g.first.id} sent ${g.first.sent - g.p.at} ms after, last id ${g.last.id} sent ${g.last.sent - g.p.at} ms after`,
    });
  }
  return out;
}

/** How long after 'promotion failed' an abandoned primary might still have acknowledged writes (its fence). */
const ABANDONED_FENCE_MS = 15_000;

/** Every acknowledged id must be present on the final primary. */
export function checkLostWrites(acks: readonly Ack[], present: ReadonlySet<number>, where: string): Violation[] {
  const missing = acks.filter((a) => !present.has(a.id));
  if (missing.length === 0) return [];
  const ids = missing.slice(0, 10).map((a) => `${a.id} (${identityOf(a)}, acked ${iso(a.ack)})`);
  return [{ kind: 'lost-write', message: `${missing.length} acknowledged write(s) missing on ${where}: ${ids.join(', ')}${missing.length > 10 ? ', …' : ''}` }];
}

/** Recovery (one active hub, VIP on it, standby streaming, writes acknowledged again) within the bound. */
export function checkRecovery(recoveryMs: number | null, boundMs: number, why = ''): Violation[] {
  if (recoveryMs !== null && recoveryMs <= boundMs) return [];
  return [{ kind: 'no-recovery', message: recoveryMs === null ? `not recovered within ${boundMs} ms after the heal${why === '' ? '' : `: ${why}`}` : `recovered only ${recoveryMs} ms after the heal (bound ${boundMs} ms)` }];
}

/** Raft election safety: at most one leader per term, over every member's observations. */
export function checkElectionSafety(observations: readonly LeaderObservation[]): Violation[] {
  const byTerm = new Map<number, Map<string, LeaderObservation>>();
  for (const o of observations) {
    const leaders = byTerm.get(o.term) ?? new Map<string, LeaderObservation>();
    if (!leaders.has(o.leader)) leaders.set(o.leader, o);
    byTerm.set(o.term, leaders);
  }
  const out: Violation[] = [];
  for (const [term, leaders] of [...byTerm.entries()].sort((a, b) => a[0] - b[0])) {
    if (leaders.size > 1) {
      out.push({ kind: 'raft-two-leaders', key: `raft term ${term}`, message: `term ${term} had ${leaders.size} leaders: ${[...leaders.values()].map((o) => `${o.leader} (seen by ${o.member} at ${iso(o.at)})`).join(', ')}` });
    }
  }
  return out;
}

function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString().slice(11, 23) : String(ms);
}
