/**
 * One chaos round on a running lab cluster: a writer through the VIP in the client namespace,
 * a fault schedule, the heal, the wait for recovery, and the checker's verdict.
 */
import { checkRecovery, type Violation } from './checker.js';
import { describeEvent, executeSchedule, type Roles, type Schedule } from './faults.js';
import type { Ack, History } from './history.js';
import { sleep, type LabCluster } from './lab-cluster.js';
import { verifyHistory } from './verify.js';

export interface RoundOptions {
  readonly round: number;
  /** Schedule for the roles found at the start of the round. */
  readonly schedule: (roles: Roles) => Schedule;
  /** Where the writer's history goes. */
  readonly historyFile: string;
  /** Recovery (cluster recovered and a write acknowledged through the VIP) within this after the heal. */
  readonly recoveryBoundMs: number;
  /** Acknowledged writes of earlier rounds, all of which must still be on the final primary. */
  readonly earlierAcks: readonly Ack[];
  /**
   * Keys of violations already reported by earlier rounds (two leaders in a term, a split brain
   * against a given promotion): later rounds see the same logs and would report them again.
   */
  readonly knownViolations: Set<string>;
  /** Ids of acknowledged writes already reported missing by earlier rounds (each is reported once); this round adds its own. */
  readonly knownLost: Set<number>;
  /** Concurrent writer loops (each on its own connection through the VIP); default 1. */
  readonly writerLoops?: number;
  readonly log?: (line: string) => void;
}

export interface RoundResult {
  readonly round: number;
  readonly roles: Roles;
  readonly startEpoch: number;
  readonly schedule: Schedule;
  readonly described: string[];
  readonly notes: string[];
  readonly acks: Ack[];
  readonly inDoubt: number;
  readonly recoveryMs: number | null;
  readonly final: { active: string; epoch: number } | null;
  readonly violations: Violation[];
  /** Asynchronous mode: the acknowledged writes this round found missing on the final primary, with their bound (information). */
  readonly lostInfo: string[];
  readonly durationMs: number;
}

/** The first id of round `round`'s writer: rounds never share ids. */
export function firstIdOf(round: number): number {
  return round * 10_000_000 + 1;
}

export async function runRound(lc: LabCluster, options: RoundOptions): Promise<RoundResult> {
  const t0 = Date.now();
  const log = options.log ?? (() => undefined);
  const start = await lc.waitRecovered(options.recoveryBoundMs);
  const roles: Roles = { active: start.active, standby: start.standby, witness: 'witness', client: 'client' };
  const schedule = options.schedule(roles);
  const described = schedule.events.map((e) => describeEvent(e, roles));
  const writer = lc.startWriter(options.historyFile, firstIdOf(options.round), { loops: options.writerLoops ?? 1 });
  const violations: Violation[] = [];
  let recoveryMs: number | null = null;
  let final: { active: string; epoch: number } | null = null;
  let notes: string[] = [];
  let why = '';
  let history: History;
  try {
    // Warm-up: the writer is through to the primary.
    for (let i = 0; i < 100 && (await writer.history()).acks.length < 10; i++) await sleep(100);
    const exec = await executeSchedule(lc, schedule, roles, log);
    notes = exec.notes;
    const healAt = exec.healAt;
    // Recovered: the cluster's state, then a write sent after that acknowledged through the VIP.
    try {
      const rec = await lc.waitRecovered(options.recoveryBoundMs);
      final = { active: rec.active, epoch: rec.epoch };
      const recoveredAt = Date.now();
      const deadline = healAt + options.recoveryBoundMs;
      let acked: Ack | undefined;
      for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
        acked = (await writer.history()).acks.find((a) => a.sent >= recoveredAt);
        if (acked !== undefined) break;
        await sleep(100);
      }
      if (acked === undefined) why = `cluster recovered ${recoveredAt - healAt} ms after the heal, but no write through the VIP was acknowledged after that`;
      else recoveryMs = acked.ack - healAt;
    } catch (err) {
      why = (err instanceof Error ? err.message : String(err)).replace(/^not recovered within \d+ ms: /, '');
    }
    violations.push(...checkRecovery(recoveryMs, options.recoveryBoundMs, why));
    await sleep(500);
  } finally {
    // Ended by PID whatever happened above (SIGTERM, SIGKILL after a grace).
    history = await writer.stop();
  }
  const all = [...options.earlierAcks, ...history.acks];
  const verdict = await verifyHistory(lc, history.acks, null);
  for (const v of verdict.violations) {
    if (v.key !== undefined) {
      if (options.knownViolations.has(v.key)) continue;
      options.knownViolations.add(v.key);
    }
    violations.push(v);
  }
  let lostInfo: string[] = [];
  if (final !== null) {
    // Every acknowledged write so far (this round's and the earlier ones) on the final primary;
    // one already reported missing by an earlier round is not reported again.
    const lost = await verifyHistory(lc, all, final.active, options.knownLost).catch(() => null);
    if (lost === null) violations.push({ kind: 'lost-write', message: `could not read the writes back from ${final.active}` });
    else {
      violations.push(...lost.violations.filter((v) => v.kind === 'lost-write' || v.kind === 'unbounded-loss'));
      lostInfo = lost.lostInfo;
      for (const a of lost.missing) options.knownLost.add(a.id);
    }
  }
  return {
    round: options.round,
    roles,
    startEpoch: start.epoch,
    schedule,
    described,
    notes,
    acks: history.acks,
    inDoubt: history.inDoubt.length,
    recoveryMs,
    final,
    violations,
    lostInfo,
    durationMs: Date.now() - t0,
  };
}
