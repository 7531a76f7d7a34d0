import type { NodeId } from './types.js';
import type { Prng } from './prng.js';

export interface RaftConfig {
  readonly id: NodeId;
  /** A follower that hears nothing from a leader for a random [T, 2T) ticks starts an election. */
  readonly electionTimeoutTicks: number;
  /** A leader sends heartbeats every this many ticks; must be well below the election timeout. */
  readonly heartbeatIntervalTicks: number;
  /** Ask for (pre-)votes before raising the term, so a rejoining node cannot disrupt a cluster. */
  readonly preVote: boolean;
  /**
   * A leader that has not heard from a quorum within an election timeout steps down, and a
   * follower that heard from its leader within the election timeout refuses to vote for others.
   */
  readonly checkQuorum: boolean;
  /** False: a voter that votes and replicates but never starts an election (see docs). */
  readonly canCampaign: boolean;
  /** Upper bound on the entry bytes in one App message (at least one entry is always sent). */
  readonly maxMsgBytes: number;
  /** At most this many App messages in flight to one follower in the replicate state. */
  readonly maxInflightMsgs: number;
  /** At most this many entry bytes in flight to one follower (0: no byte bound). */
  readonly maxInflightBytes: number;
  /** Proposals are refused while the leader's uncommitted entries exceed this (0: no bound). */
  readonly maxUncommittedBytes: number;
  /** Randomness for election jitter; inject a seeded generator for determinism. */
  readonly random: Prng;
}

export type RaftConfigInput = Pick<RaftConfig, 'id' | 'random'> & Partial<Omit<RaftConfig, 'id' | 'random'>>;

export const DEFAULT_RAFT_CONFIG = {
  electionTimeoutTicks: 10,
  heartbeatIntervalTicks: 1,
  preVote: true,
  checkQuorum: true,
  canCampaign: true,
  maxMsgBytes: 1024 * 1024,
  maxInflightMsgs: 256,
  maxInflightBytes: 32 * 1024 * 1024,
  maxUncommittedBytes: 64 * 1024 * 1024,
} as const;

export class RaftConfigError extends Error {
  readonly code = 'RAFT_CONFIG_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'RaftConfigError';
  }
}

/** Fills defaults and validates; throws RaftConfigError naming the bad field. */
export function resolveRaftConfig(input: RaftConfigInput): RaftConfig {
  const config: RaftConfig = { ...DEFAULT_RAFT_CONFIG, ...input };
  if (typeof config.id !== 'string' || config.id.length === 0) throw new RaftConfigError('id must be a non-empty string');
  const positive = (name: keyof RaftConfig, value: number): void => {
    if (!Number.isInteger(value) || value <= 0) throw new RaftConfigError(`${name} must be a positive integer, got ${value}`);
  };
  const nonNegative = (name: keyof RaftConfig, value: number): void => {
    if (!Number.isInteger(value) || value < 0) throw new RaftConfigError(`${name} must be a non-negative integer, got ${value}`);
  };
  positive('electionTimeoutTicks', config.electionTimeoutTicks);
  positive('heartbeatIntervalTicks', config.heartbeatIntervalTicks);
  positive('maxMsgBytes', config.maxMsgBytes);
  positive('maxInflightMsgs', config.maxInflightMsgs);
  nonNegative('maxInflightBytes', config.maxInflightBytes);
  nonNegative('maxUncommittedBytes', config.maxUncommittedBytes);
  if (config.heartbeatIntervalTicks >= config.electionTimeoutTicks) {
    throw new RaftConfigError(
      `heartbeatIntervalTicks (${config.heartbeatIntervalTicks}) must be below electionTimeoutTicks (${config.electionTimeoutTicks})`,
    );
  }
  return config;
}
