import { PgQueryError } from './errors.js';
import { parseLsn, type Lsn } from './lsn.js';

/* Validation of SQL answers: every field we read is checked for type and range; a surprise is an
 * UNEXPECTED_RESULT error naming the query and the field, never a NaN or undefined passed on. */

export type Row = Record<string, unknown>;

function bad(what: string, key: string, v: unknown, expected: string): PgQueryError {
  const shown = typeof v === 'string' ? JSON.stringify(v.slice(0, 80)) : String(v);
  return new PgQueryError('UNEXPECTED_RESULT', `${what}: column ${key} = ${shown}, expected ${expected}`);
}

export function exactlyOneRow(rows: readonly unknown[], what: string): Row {
  if (rows.length !== 1) throw new PgQueryError('UNEXPECTED_RESULT', `${what}: expected 1 row, got ${rows.length}`);
  const r = rows[0];
  if (typeof r !== 'object' || r === null) throw new PgQueryError('UNEXPECTED_RESULT', `${what}: row is not an object`);
  return r as Row;
}

export function asRow(r: unknown, what: string): Row {
  if (typeof r !== 'object' || r === null) throw new PgQueryError('UNEXPECTED_RESULT', `${what}: row is not an object`);
  return r as Row;
}

export function str(row: Row, key: string, what: string): string {
  const v = row[key];
  if (typeof v !== 'string') throw bad(what, key, v, 'text');
  return v;
}

export function strOrNull(row: Row, key: string, what: string): string | null {
  const v = row[key];
  if (v === null) return null;
  if (typeof v !== 'string') throw bad(what, key, v, 'text or null');
  return v;
}

export function bool(row: Row, key: string, what: string): boolean {
  const v = row[key];
  if (typeof v !== 'boolean') throw bad(what, key, v, 'boolean');
  return v;
}

/** int4 (number) or int8 (string from pg) within the safe integer range. */
export function int(row: Row, key: string, what: string, min = 0): number {
  const v = row[key];
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^-?\d{1,15}$/.test(v)) n = Number(v);
  else throw bad(what, key, v, 'integer');
  if (!Number.isSafeInteger(n) || n < min) throw bad(what, key, v, `integer >= ${min}`);
  return n;
}

export function intOrNull(row: Row, key: string, what: string, min = 0): number | null {
  return row[key] === null ? null : int(row, key, what, min);
}

/** int8 as bigint (pg returns int8 as a decimal string). */
export function bigintOf(row: Row, key: string, what: string): bigint {
  const v = row[key];
  if (typeof v !== 'string' || !/^-?\d{1,20}$/.test(v)) throw bad(what, key, v, 'int8');
  return BigInt(v);
}

export function lsn(row: Row, key: string, what: string): Lsn {
  const v = row[key];
  try {
    return parseLsn(v);
  } catch (err) {
    throw new PgQueryError('UNEXPECTED_RESULT', `${what}: column ${key}: ${(err as Error).message}`, undefined, { cause: err });
  }
}

export function lsnOrNull(row: Row, key: string, what: string): Lsn | null {
  return row[key] === null ? null : lsn(row, key, what);
}

/** A non-negative finite number of milliseconds (from EXTRACT(epoch FROM interval) * 1000), or null. */
export function msOrNull(row: Row, key: string, what: string): number | null {
  const v = row[key];
  if (v === null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw bad(what, key, v, 'milliseconds >= 0 or null');
  return v;
}

export function dateOrNull(row: Row, key: string, what: string): Date | null {
  const v = row[key];
  if (v === null) return null;
  if (!(v instanceof Date) || Number.isNaN(v.getTime())) throw bad(what, key, v, 'timestamp or null');
  return v;
}

export function oneOf<T extends string>(row: Row, key: string, what: string, allowed: readonly T[]): T {
  const v = row[key];
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw bad(what, key, v, allowed.join('|'));
  return v as T;
}
