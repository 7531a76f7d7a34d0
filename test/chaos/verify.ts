/**
 * The checker applied to a live lab cluster: gathers the members' logs and the final primary's
 * rows and returns every violation. Shared by the lab scenario tests and the chaos runner.
 */
import { checkElectionSafety, checkLostWrites, checkSplitBrain, checkStalePrimary, describeAsyncLoss, type Violation } from './checker.js';
import {
  fencesFromLog,
  leaderObservationsFromLog,
  promotionsFromLog,
  rejoinsFromLog,
  type Ack,
  type Fence,
  type LeaderObservation,
  type Promotion,
  type Rejoin,
} from './history.js';
import { MEMBERS, type LabCluster } from './lab-cluster.js';

export interface LogFacts {
  readonly promotions: Promotion[];
  readonly leaders: LeaderObservation[];
  readonly fences: Fence[];
  readonly rejoins: Rejoin[];
}

export async function logFacts(lc: LabCluster): Promise<LogFacts> {
  const facts: LogFacts = { promotions: [], leaders: [], fences: [], rejoins: [] };
  for (const m of MEMBERS) {
    const lines = await lc.logs(m);
    facts.promotions.push(...promotionsFromLog(lines));
    facts.leaders.push(...leaderObservationsFromLog(m, lines));
    facts.fences.push(...fencesFromLog(lines));
    facts.rejoins.push(...rejoinsFromLog(lines));
  }
  return facts;
}

export interface Verdict {
  readonly violations: Violation[];
  readonly facts: LogFacts;
  /** Asynchronous mode: the lost writes, described with their bound (not violations). */
  readonly lostInfo: string[];
  /** Acknowledged writes missing on the final primary (not counting `alreadyLost`). */
  readonly missing: Ack[];
}

/**
 * Split brain (both rules), Raft election safety, and — when `finalPrimary` is given — every
 * acknowledged write on it: a violation in synchronous mode; in asynchronous mode a description
 * of the loss and of its bound (a violation only when the loss outlasted a fence). Ids in
 * `alreadyLost` were reported by an earlier round and are not reported again.
 */
export async function verifyHistory(lc: LabCluster, acks: readonly Ack[], finalPrimary: string | null, alreadyLost: ReadonlySet<number> = new Set()): Promise<Verdict> {
  const facts = await logFacts(lc);
  const violations = [...checkSplitBrain(acks), ...checkStalePrimary(acks, facts.promotions), ...checkElectionSafety(facts.leaders)];
  const lostInfo: string[] = [];
  let missing: Ack[] = [];
  if (finalPrimary !== null && acks.length > 0) {
    const ids = acks.map((a) => a.id);
    const present = await lc.idsOn(finalPrimary, Math.min(...ids), Math.max(...ids));
    missing = acks.filter((a) => !present.has(a.id) && !alreadyLost.has(a.id));
    if (lc.synchronous !== 'off') violations.push(...checkLostWrites(acks.filter((a) => !alreadyLost.has(a.id)), present, finalPrimary));
    else if (missing.length > 0) {
      const loss = describeAsyncLoss(missing, facts);
      lostInfo.push(...loss.lines.map((l) => `asynchronous mode (not a violation): ${l}`));
      violations.push(...loss.violations);
    }
  }
  return { violations, facts, lostInfo, missing };
}
