/**
 * The eligibility rules live in @hubha/coord (packages/coord/src/status/eligibility.ts), where the
 * status model uses them to explain, per standby, why it may not take over: one set of rules for
 * the decision and its explanation. Re-exported here under the same names.
 */
export { evaluateEligibility } from '@hubha/coord';
export type { Eligibility, EligibilityInput, IneligibleReason } from '@hubha/coord';
