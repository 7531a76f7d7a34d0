/**
 * The checker applied to a live lab cluster: gathers the members' logs and the final primary's
 * rows and returns every violation. Shared by the lab scenario tests and the chaos runner.
 */
import { checkElectionSafety, checkLostWrites, checkSplitBrain, checkStalePrimary, type Violation } from './checker.js';
import { leaderObservationsFromLog, promotionsFromLog, type Ack, type LeaderObservation, type Promotion } from './history.js';
import { MEMBERS, type LabCluster } from './lab-cluster.js';

export interface LogFacts {
  readonly promotions: Promotion[];
  readonly leaders: LeaderObservation[];
}

export async function logFacts(lc: LabCluster): Promise<LogFacts> {
  const promotions: Promotion[] = [];
  const leaders: LeaderObservation[] = [];
  for (const m of MEMBERS) {
    const lines = await lc.logs(m);
    promotions.push(...promotionsFromLog(lines));
    leaders.push(...leaderObservationsFromLog(m, lines));
  }
  return { promotions, leaders };
}

/**
 * Split brain (both rules), Raft election safety, and — when `finalPrimary` is given and the
 * cluster is synchronous — that every acknowledged write is on it.
 */
export async function verifyHistory(lc: LabCluster, acks: readonly Ack[], finalPrimary: string | null): Promise<{ violations: Violation[]; facts: LogFacts; lostInfo: string | null }> {
  const facts = await logFacts(lc);
  const violations = [...checkSplitBrain(acks), ...checkStalePrimary(acks, facts.promotions), ...checkElectionSafety(facts.leaders)];
  let lostInfo: string | null = null;
  if (finalPrimary !== null && acks.length > 0) {
    const ids = acks.map((a) => a.id);
    const present = await lc.idsOn(finalPrimary, Math.min(...ids), Math.max(...ids));
    const lost = checkLostWrites(acks, present, finalPrimary);
    if (lc.synchronous !== 'off') violations.push(...lost);
    else if (lost.length > 0) lostInfo = `asynchronous mode (not a violation): ${lost[0]!.message}`;
  }
  return { violations, facts, lostInfo };
}
