import { PgManagerError, PgQueryError } from './errors.js';
import { validateSlotName } from './quoting.js';
import type { SqlSession } from './sql.js';
import { bool, oneOf } from './validate.js';

/**
 * Creates physical replication slot `name` reserving WAL immediately (so WAL a standby still needs
 * is kept from now on, before it first connects). Idempotent: an existing physical slot of that
 * name is fine; a logical one is SLOT_CONFLICT. Slots are not replicated: after a failover the new
 * primary needs its own slot for the old primary.
 */
export async function createPhysicalSlot(s: SqlSession, name: string): Promise<{ created: boolean }> {
  validateSlotName(name);
  const what = `create slot ${name}`;
  const existing = async (): Promise<boolean> => {
    const rows = await s.query(what, 'SELECT slot_type FROM pg_replication_slots WHERE slot_name = $1', [name]);
    const r = rows[0];
    if (r === undefined) return false;
    if (oneOf(r, 'slot_type', what, ['physical', 'logical'] as const) !== 'physical') {
      throw new PgManagerError('SLOT_CONFLICT', `replication slot "${name}" exists and is logical`);
    }
    return true;
  };
  if (await existing()) return { created: false };
  try {
    const rows = await s.query(what, 'SELECT slot_name FROM pg_create_physical_replication_slot($1, true)', [name]);
    if (rows.length !== 1 || rows[0]?.['slot_name'] !== name) {
      throw new PgQueryError('UNEXPECTED_RESULT', `${what}: pg_create_physical_replication_slot answered ${JSON.stringify(rows)}`);
    }
    return { created: true };
  } catch (err) {
    // 42710 duplicate_object: created concurrently.
    if (err instanceof PgQueryError && err.sqlState === '42710' && (await existing())) return { created: false };
    throw err;
  }
}

/** Drops slot `name`. Idempotent: a missing slot is fine. A slot in use is SLOT_ACTIVE. */
export async function dropSlot(s: SqlSession, name: string): Promise<{ dropped: boolean }> {
  validateSlotName(name);
  const what = `drop slot ${name}`;
  const rows = await s.query(what, 'SELECT active FROM pg_replication_slots WHERE slot_name = $1', [name]);
  const r = rows[0];
  if (r === undefined) return { dropped: false };
  if (bool(r, 'active', what)) {
    throw new PgManagerError('SLOT_ACTIVE', `replication slot "${name}" is in use by a connected standby`);
  }
  try {
    await s.query(what, 'SELECT pg_drop_replication_slot($1)', [name]);
    return { dropped: true };
  } catch (err) {
    if (err instanceof PgQueryError && err.sqlState === '42704') return { dropped: false }; // dropped concurrently
    if (err instanceof PgQueryError && err.sqlState === '55006') {
      throw new PgManagerError('SLOT_ACTIVE', `replication slot "${name}" is in use by a connected standby`, { cause: err });
    }
    throw err;
  }
}
