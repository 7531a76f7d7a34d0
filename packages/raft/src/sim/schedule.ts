import type { Prng } from '../core/prng.js';
import { chance, randomBelow } from '../core/prng.js';
import type { NetworkFaults } from './network.js';
import type { NodeConfig } from './sim-node.js';

/**
 * The fault and workload schedule: a per-seed profile (how hostile this run's network and
 * crash rate are, and how the Raft knobs are set) and a weighted random choice of the next
 * action. The weights keep faults rare enough that the cluster makes progress most of the time.
 */

export type ActionKind =
  | 'tick'
  | 'deliver'
  | 'propose'
  | 'crash'
  | 'restart'
  | 'partition'
  | 'heal'
  | 'conf-change'
  | 'transfer'
  | 'read'
  | 'snapshot'
  | 'campaign';

export interface Profile {
  readonly network: NetworkFaults;
  readonly raft: NodeConfig;
  readonly weights: Readonly<Record<ActionKind, number>>;
  /** Chance that a crash strikes inside the node's next Ready instead of between inputs. */
  readonly midReadyCrash: number;
  /** Chance that a crash is a bounce: the node restarts in the same step. */
  readonly bounce: number;
  /** Chance that a crash aims at a node that has just granted a vote. */
  readonly voteCrash: number;
  /** Per-node chance of missing a tick (slow clocks); all zero in most seeds. */
  readonly tickSkip: readonly number[];
  /** Chance that a proposal carries padding (bigger entries exercise the byte bounds). */
  readonly padding: number;
  /** Whether the last initial voter is configured with canCampaign: false (a witness-like voter). */
  readonly passiveVoter: boolean;
  /** Lazy-fsync bug only: chance per node tick that pending writes become durable. */
  readonly lazySyncRate: number;
}

/** What the scheduler needs to know about the cluster to pick only applicable actions. */
export interface ScheduleView {
  readonly crashed: number;
  readonly running: number;
  /** How many nodes may be down at once before crashes become rare. */
  readonly maxDown: number;
  readonly partitioned: boolean;
  readonly hasLeader: boolean;
}

export const ELECTION_TIMEOUT_TICKS = 10;

function pick<T>(prng: Prng, options: readonly T[]): T {
  return options[randomBelow(prng, options.length)]!;
}

/** Draws this seed's profile. */
export function drawProfile(prng: Prng, bug: string | null): Profile {
  const network: NetworkFaults = {
    minDelay: 0,
    maxDelay: pick(prng, [1, 2, 2, 3, 4]),
    dropRate: pick(prng, [0, 0.01, 0.02, 0.05]),
    duplicateRate: pick(prng, [0, 0, 0.01, 0.03]),
    reorder: chance(prng, 0.3),
  };
  const raft: NodeConfig = {
    electionTimeoutTicks: ELECTION_TIMEOUT_TICKS,
    heartbeatIntervalTicks: 1,
    preVote: chance(prng, 0.8),
    checkQuorum: chance(prng, 0.8),
    maxMsgBytes: pick(prng, [4, 16, 256, 1024 * 1024]),
    maxInflightMsgs: pick(prng, [1, 4, 256]),
    maxInflightBytes: pick(prng, [0, 64, 32 * 1024 * 1024]),
    maxUncommittedBytes: pick(prng, [0, 0, 128, 64 * 1024 * 1024]),
  };
  const crash = pick(prng, [0.5, 1, 1.5]);
  const partition = pick(prng, [0.3, 0.7, 1.2]);
  const weights: Record<ActionKind, number> = {
    tick: 30,
    deliver: 40,
    propose: 12,
    crash: bug === null ? crash : crash * 3,
    restart: 3,
    partition,
    heal: 2,
    'conf-change': 1.2,
    transfer: 0.6,
    read: 3,
    snapshot: 1.2,
    // Some seeds call elections often: contested elections (two candidates in one term).
    campaign: pick(prng, [0.3, 0.3, 0.3, 3]),
  };
  // Crash styles: mostly crashes at random points (some inside a Ready), or mostly quick
  // restarts of nodes that have just voted (the window where a lost vote or entry matters).
  // With an injected bug, always the latter: it is the timing that exposes lost durable state.
  const styles = [
    { midReadyCrash: 0.3, bounce: 0.3, voteCrash: 0.3 },
    { midReadyCrash: 0.1, bounce: 0.8, voteCrash: 0.9 },
  ] as const;
  const drawn = pick(prng, styles);
  const style = bug === null ? drawn : styles[1];
  const skewed = chance(prng, 0.3);
  const tickSkip = Array.from({ length: 8 }, () => (skewed ? pick(prng, [0, 0.1, 0.3]) : 0));
  return {
    network,
    raft,
    weights,
    ...style,
    tickSkip,
    padding: pick(prng, [0, 0.3]),
    passiveVoter: chance(prng, 0.2),
    lazySyncRate: 0.1,
  };
}

/** Picks the next action among those that make sense now. */
export function nextAction(prng: Prng, profile: Profile, view: ScheduleView): ActionKind {
  const w = profile.weights;
  const candidates: [ActionKind, number][] = [
    ['tick', w.tick],
    ['deliver', w.deliver],
    ['propose', w.propose],
    ['read', w.read],
    ['snapshot', w.snapshot],
    ['campaign', w.campaign],
  ];
  if (view.running > 0) {
    // Beyond the tolerated number of failures, crashes become ten times rarer.
    candidates.push(['crash', view.crashed < view.maxDown ? w.crash : w.crash / 10]);
  }
  if (view.crashed > 0) candidates.push(['restart', w.restart]);
  if (view.partitioned) candidates.push(['heal', w.heal]);
  else candidates.push(['partition', w.partition]);
  if (view.hasLeader) {
    candidates.push(['conf-change', w['conf-change']]);
    candidates.push(['transfer', w.transfer]);
  }
  let total = 0;
  for (const [, weight] of candidates) total += weight;
  let r = (prng.nextUint32() / 0x1_0000_0000) * total;
  for (const [kind, weight] of candidates) {
    if (r < weight) return kind;
    r -= weight;
  }
  return 'tick';
}
