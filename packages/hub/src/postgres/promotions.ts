import { PgManagerError, PgQueryError } from './errors.js';
import { validateNodeName } from './quoting.js';
import type { SqlSession } from './sql.js';
import { bigintOf, dateOrNull, exactlyOneRow, str } from './validate.js';

export interface PromotionRecord {
  readonly epoch: bigint;
  readonly node: string;
  readonly promotedAt: Date;
}

const MAX_INT8 = (1n << 63n) - 1n;

export function validateEpoch(epoch: unknown): bigint {
  let e: bigint;
  if (typeof epoch === 'bigint') e = epoch;
  else if (typeof epoch === 'number' && Number.isSafeInteger(epoch)) e = BigInt(epoch);
  else throw new PgManagerError('INVALID_ARGUMENT', `epoch must be an integer, got ${String(epoch)}`);
  if (e < 0n || e > MAX_INT8) throw new PgManagerError('INVALID_ARGUMENT', `epoch out of range: ${e}`);
  return e;
}

const DDL = [
  'CREATE SCHEMA IF NOT EXISTS hubha',
  `CREATE TABLE IF NOT EXISTS hubha.promotions (
     epoch bigint PRIMARY KEY,
     node text NOT NULL,
     promoted_at timestamptz NOT NULL DEFAULT now())`,
];

function toRecord(r: Record<string, unknown>, what: string): PromotionRecord {
  const promotedAt = dateOrNull(r, 'promoted_at', what);
  if (promotedAt === null) throw new PgQueryError('UNEXPECTED_RESULT', `${what}: promoted_at is null`);
  return { epoch: bigintOf(r, 'epoch', what), node: str(r, 'node', what), promotedAt };
}

/**
 * Records in the database itself that fencing epoch `epoch` promoted it (hubha.promotions).
 * Epochs only grow: an epoch at or below the newest recorded one by another node is STALE_EPOCH
 * (a deposed leader must not write history); the same (epoch, node) again is a no-op returning
 * the existing row. Runs in one transaction holding a lock on the table.
 */
export async function recordPromotion(
  s: SqlSession,
  args: { epoch: bigint | number; node: string; at?: Date },
): Promise<{ record: PromotionRecord; inserted: boolean }> {
  const epoch = validateEpoch(args.epoch);
  const node = validateNodeName(args.node);
  if (args.at !== undefined && (!(args.at instanceof Date) || Number.isNaN(args.at.getTime()))) {
    throw new PgManagerError('INVALID_ARGUMENT', 'at must be a valid Date');
  }
  const what = 'recordPromotion';
  await s.query(what, 'BEGIN');
  try {
    for (const ddl of DDL) await s.query(what, ddl);
    await s.query(what, 'LOCK TABLE hubha.promotions IN SHARE ROW EXCLUSIVE MODE');
    const newest = (
      await s.query(what, 'SELECT epoch::text AS epoch, node, promoted_at FROM hubha.promotions ORDER BY epoch DESC LIMIT 1')
    )[0];
    if (newest !== undefined) {
      const last = toRecord(newest, what);
      if (last.epoch === epoch && last.node === node) {
        await s.query(what, 'ROLLBACK');
        return { record: last, inserted: false };
      }
      if (last.epoch >= epoch) {
        throw new PgManagerError(
          'STALE_EPOCH',
          `promotion by ${node} at epoch ${epoch} refused: epoch ${last.epoch} (${last.node}) is already recorded`,
        );
      }
    }
    const row = exactlyOneRow(
      await s.query(
        what,
        `INSERT INTO hubha.promotions (epoch, node, promoted_at) VALUES ($1::bigint, $2, COALESCE($3::timestamptz, now()))
         RETURNING epoch::text AS epoch, node, promoted_at`,
        [epoch.toString(), node, args.at === undefined ? null : args.at.toISOString()],
      ),
      what,
    );
    await s.query(what, 'COMMIT');
    return { record: toRecord(row, what), inserted: true };
  } catch (err) {
    await s.query(what, 'ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** All recorded promotions, oldest first. */
export async function listPromotions(s: SqlSession): Promise<PromotionRecord[]> {
  const what = 'listPromotions';
  const exists = exactlyOneRow(await s.query(what, "SELECT to_regclass('hubha.promotions') IS NOT NULL AS present"), what);
  if (exists['present'] !== true) return [];
  return (await s.query(what, 'SELECT epoch::text AS epoch, node, promoted_at FROM hubha.promotions ORDER BY epoch')).map((r) =>
    toRecord(r, what),
  );
}
