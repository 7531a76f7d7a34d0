export { computeClusterStatus, formatBytes, formatDuration } from './compute.js';
export { evaluateEligibility } from './eligibility.js';
export type { Eligibility, EligibilityInput, IneligibleReason } from './eligibility.js';
export { lsnBytesBetween, lsnValue } from './lsn.js';
export { DEFAULT_THRESHOLDS, FAILING_CODES, REASON_CODES } from './model.js';
export type {
  ClusterStatus,
  HaState,
  LeaseView,
  MemberProbe,
  MemberStatus,
  PostgresStatus,
  RaftMemberView,
  RaftView,
  ReasonCode,
  StandbyEligibility,
  StandbyIneligibleCode,
  StatusInput,
  StatusReason,
  StatusRecords,
  HandoverView,
  StatusThresholds,
} from './model.js';
export { carryReasonStarts, reasonKey } from './reason-tracker.js';
export type { FoundReason, TrackedReason } from './reason-tracker.js';
export { recordProbe, retainMembers } from './reachability.js';
export type { MemberReachability, ProbeResult, ReachabilityState } from './reachability.js';
