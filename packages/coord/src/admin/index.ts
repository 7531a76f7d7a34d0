/**
 * The Admin service (proto/admin.proto): served by every member on its client endpoint, and its
 * client. The status it answers is computed by ../status (computeClusterStatus).
 */
export { ADMIN_SERVICE, adminService } from './definitions.js';
export { AdminRefusal, AdminService, AdminUnavailableError, probeError } from './admin-service.js';
export type { AdminEvent, AdminHost, AdminServiceOptions, RecordsRead } from './admin-service.js';
export { adminErrorToGrpc, adminHandlers } from './handlers.js';
export { diffSummaries, haStateEvent, summarize, watchingEvent } from './events.js';
export type { RecordsSummary } from './events.js';
export { HISTORY_PATH, STATUS_PATH, registerAdminRoutes } from './http-routes.js';
export { METADATA_FORWARDED_BY, MemberChangeOutcomeUnknown, MemberOperations } from './member-operations.js';
export type { LeadershipAnswer, MemberChange, MemberOperationsOptions, MembershipHost } from './member-operations.js';
export { memberHandlers } from './member-handlers.js';
export { MemberAdminClient } from './member-client.js';
export type { MemberChangeAnswer, MemberClientOptions } from './member-client.js';
export {
  checkAddMember,
  checkPromoteMember,
  checkRemoveMember,
  chooseTransferTarget,
  parseAdvertisedAddress,
  quorumOf,
  validateAddMember,
  validateMemberName,
} from './member-rules.js';
export type { AddMemberRequest, ClusterFacts, MemberFacts } from './member-rules.js';
export { kindFromContext } from './member-kind.js';
export type { MemberKind } from './member-kind.js';
export { AdminCallError, AdminClient, AdminUnreachableError } from './client.js';
export type { AdminClientOptions, AdminEndpointFailure, AdminWatchHandlers, Answered, FailoverAnswer, SwitchoverAnswer } from './client.js';
export { HANDOVER_WINDOW_MS, HandoverOperations, MAX_SCHEDULE_AHEAD_MS, SWITCHOVER_MAX_LAG_BYTES, switchoverBlockers } from './handover-operations.js';
export type { FailoverInput, FailoverOutcome, HandoverHost, ReinitOutcome, SwitchoverInput, SwitchoverOutcome } from './handover-operations.js';
export { MAX_BY_CHARS, MAX_REASON_CHARS, checkOperator } from './operator-input.js';
export {
  MalformedAdminAnswerError,
  historyFromWire,
  historyToWire,
  rejoinFromWire,
  rejoinToWire,
  memberStatusFromWire,
  memberStatusToWire,
  pausedFromWire,
  pausedToWire,
  statusFromWire,
  statusToJson,
  statusToWire,
  thresholdsFromWire,
  thresholdsToWire,
} from './wire.js';
