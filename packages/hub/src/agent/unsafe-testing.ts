/**
 * A deliberately unsafe switch for the chaos tests, and nothing else: with
 * HUBHA_UNSAFE_DISABLE_FENCING=1 the agent never fences itself (no VIP release, no PostgreSQL
 * stop) when it loses or is about to lose the lease, so a deposed primary keeps accepting writes
 * — the split brain that `npm run chaos -- --unsafe-no-fencing` and test/chaos/unsafe-fencing.test.ts
 * use to show that the chaos checker catches it. Refused (the sidecar does not start) unless
 * HUBHA_UNSAFE_TESTING=1 is set as well; while on, the agent logs an error every loop.
 */
export const UNSAFE_DISABLE_FENCING_ENV = 'HUBHA_UNSAFE_DISABLE_FENCING';
export const UNSAFE_TESTING_ENV = 'HUBHA_UNSAFE_TESTING';

/** Whether self-fencing is disabled; throws when asked for without the testing acknowledgement. */
export function selfFencingDisabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const asked = env[UNSAFE_DISABLE_FENCING_ENV];
  if (asked === undefined || asked === '' || asked === '0') return false;
  if (asked !== '1') throw new Error(`${UNSAFE_DISABLE_FENCING_ENV} must be 1 or unset, got ${JSON.stringify(asked)}`);
  if (env[UNSAFE_TESTING_ENV] !== '1') {
    throw new Error(`refusing to start: ${UNSAFE_DISABLE_FENCING_ENV}=1 disables self-fencing (split brain, lost writes) and is only accepted together with ${UNSAFE_TESTING_ENV}=1, for the chaos tests`);
  }
  return true;
}
