import { AdminRefusal } from './admin-service.js';

/** Longest reason an operator may give (it is stored in records and logged). */
export const MAX_REASON_CHARS = 1000;
/** Longest "by" (who asked, e.g. alice@ops-host). */
export const MAX_BY_CHARS = 255;

/** Validates the operator's reason and name before anything is written. */
export function checkOperator(reason: string, by: string): void {
  if (reason.length > MAX_REASON_CHARS) throw new AdminRefusal('invalid-argument', 'reason-too-long', `the reason is longer than ${MAX_REASON_CHARS} characters`);
  if (by.length > MAX_BY_CHARS) throw new AdminRefusal('invalid-argument', 'by-too-long', `"by" is longer than ${MAX_BY_CHARS} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f]/.test(by)) throw new AdminRefusal('invalid-argument', 'invalid-by', '"by" holds control characters');
}
