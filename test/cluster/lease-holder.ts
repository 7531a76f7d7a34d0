/**
 * A lease holder in its own process (for the lease-safety test): it keeps the lease with the
 * LeaseKeeper and prints every belief change as JSON, timed on CLOCK_MONOTONIC
 * (process.hrtime), which all processes on one machine share — so the test can compare the
 * holders' own clocks.
 *   tsx lease-holder.ts <holder> <ttlMs> <endpoint,endpoint,...>
 */
import { CoordClient } from '@hubha/coord';

const [holder, ttlArg, endpointsArg] = process.argv.slice(2);
if (holder === undefined || ttlArg === undefined || endpointsArg === undefined) {
  process.stderr.write('usage: lease-holder <holder> <ttlMs> <endpoints>\n');
  process.exit(2);
}
const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;
const print = (event: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify({ ...event, t: monotonicMs() })}\n`);

const client = await CoordClient.connect({ endpoints: endpointsArg.split(','), requestTimeoutMs: 3_000 });
const keeper = client.session(holder).keepLease({ name: 'active-hub', holder, ttlMs: Number(ttlArg), now: monotonicMs });
keeper.on('acquired', (e) => print({ event: 'acquired', epoch: e.epoch, validUntil: e.validUntil }));
keeper.on('renewed', (e) => print({ event: 'renewed', epoch: e.epoch, validUntil: e.validUntil }));
keeper.on('lost', (e) => print({ event: 'lost', epoch: e.epoch, reason: e.reason }));
process.on('SIGTERM', () => {
  void keeper.close().then(() => client.close()).then(() => process.exit(0));
});
