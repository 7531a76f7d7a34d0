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
 * - lost writes (asynchronous mode): reported with the bound that actually holds — what the old
 *   primary acknowledged beyond the new one's WAL, up to the start of its fence — and a violation
 *   when one was acknowledged after the fence began (the fence did not end the loss). The
 *   primary's last report before a partition bounds nothing: the standby's lag against it was
 *   within maximumLagOnFailoverBytes, but the primary went on acknowledging after it. And the
 *   books must balance: each lost write is a commit the old primary made after the fork, so its
 *   rewind (which counts those commits before discarding them) must have found at least as many;
 *   fewer means writes vanished some other way (a violation).
 * - recovery within a stated bound after the heal.
 * - Raft election safety: at most one leader per term, from the members' 'leader changed' lines.
 */
import { identityOf, type Ack, type Fence, type LeaderObservation, type Promotion, type Rejoin } from './history.js';

export type ViolationKind = 'split-brain' | 'stale-primary' | 'lost-write' | 'unbounded-loss' | 'unexplained-loss' | 'no-recovery' | 'raft-two-leaders';

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

/**
 * How long after its fence began ('demoting: fencing this hub') a hub may still acknowledge a
 * write: the VIP release (an `ip` process) and the shutdown request come first, and a commit
 * already past its WAL flush at the request still reaches its client (measured: up to 86 ms, on
 * a loaded machine). A fence that does not end writes goes on acknowledging until the promotion,
 * seconds later.
 */
export const FENCE_ACK_SLACK_MS = 1000;

/**
 * Asynchronous mode: the acknowledged writes missing on the final primary, per server identity —
 * how many, when they were acknowledged, how that ends against the server's fence, which
 * promotion superseded it and how much WAL its rewind discarded. Lost writes are allowed here,
 * so these are information lines; the violation is a lost write acknowledged more than
 * FENCE_ACK_SLACK_MS after its server began fencing, which no timing bound covers.
 */
export function describeAsyncLoss(
  lost: readonly Ack[],
  facts: { readonly promotions: readonly Promotion[]; readonly fences: readonly Fence[]; readonly rejoins: readonly Rejoin[] },
): { lines: string[]; violations: Violation[] } {
  const groups = new Map<string, Ack[]>();
  for (const a of lost) groups.set(identityOf(a), [...(groups.get(identityOf(a)) ?? []), a]);
  const lines: string[] = [];
  const violations: Violation[] = [];
  for (const [identity, acks] of groups) {
    const first = acks.reduce((x, y) => (y.ack < x.ack ? y : x));
    const last = acks.reduce((x, y) => (y.ack > x.ack ? y : x));
    const { tl, epoch } = first;
    // The fence of the epoch that served them, the promotion that superseded them, the rejoin of their server.
    const fence = epoch === null ? undefined : facts.fences.filter((f) => f.epoch === epoch).sort((x, y) => x.at - y.at)[0];
    const promotion = facts.promotions.filter((p) => p.timeline > tl && p.at >= first.ack).sort((x, y) => x.at - y.at)[0];
    const server = fence?.node;
    const rejoin = server === undefined || promotion === undefined ? undefined : facts.rejoins.filter((r) => r.node === server && r.at > promotion.at).sort((x, y) => x.at - y.at)[0];
    const parts = [
      `${acks.length} acknowledged write(s) of ${identity}${server === undefined ? '' : ` (${server})`} lost`,
      promotion === undefined ? '' : ` in the failover to ${promotion.node} (timeline ${promotion.timeline}, epoch ${promotion.epoch}, promoted ${iso(promotion.at)})`,
      `: acknowledged ${iso(first.ack)}–${iso(last.ack)} (${last.ack - first.ack} ms)`,
      fence === undefined
        ? ', no fence of their epoch logged (killed or paused)'
        : `, the last ${Math.abs(fence.at - last.ack)} ms ${fence.at >= last.ack ? 'before' : 'after'} ${fence.node} began fencing at ${iso(fence.at)}`,
      rejoin === undefined ? '' : `; ${rejoin.walAfterFork === null ? 'what its rewind discarded is unknown' : `its rewind discarded ${rejoin.walAfterFork.commits} commit(s) made after the fork (${rejoin.walAfterFork.bytes} bytes of WAL)`}`,
      fence === undefined ? '' : ' — bounded by the fence, not by the lag at its last report',
    ];
    lines.push(parts.join(''));
    const discarded = rejoin?.walAfterFork?.commits;
    if (discarded !== undefined && acks.length > discarded) {
      violations.push({
        kind: 'unexplained-loss',
        message: `${acks.length} acknowledged write(s) of ${identity} lost, but ${server!}'s rewind found only ${discarded} commit(s) after the fork: ${acks.length - discarded} vanished some other way (first lost id ${first.id})`,
      });
    }
    if (fence !== undefined && last.ack > fence.at + FENCE_ACK_SLACK_MS) {
      const after = acks.filter((a) => a.ack > fence.at + FENCE_ACK_SLACK_MS).sort((x, y) => x.ack - y.ack);
      violations.push({
        kind: 'unbounded-loss',
        message: `${after.length} lost write(s) of ${identity} were acknowledged more than ${FENCE_ACK_SLACK_MS} ms after ${fence.node} began fencing (epoch ${fence.epoch}, ${iso(fence.at)}): first id ${after[0]!.id} acked ${iso(after[0]!.ack)}; the fence did not end the loss`,
      });
    }
  }
  return { lines, violations };
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
