import { Client, DatabaseError, type ClientConfig } from 'pg';
import { PgQueryError, describeError } from './errors.js';
import type { Secret } from './secret.js';
import { asRow, type Row } from './validate.js';

/** Where to connect: a unix socket directory or a TCP host. */
export interface SqlTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly password?: Secret;
  /** A physical replication connection (replication=true): IDENTIFY_SYSTEM, TIMELINE_HISTORY. */
  readonly replication?: boolean;
  readonly applicationName?: string;
}

export interface SqlTimeouts {
  readonly connectMs: number;
  /** Client-side bound on each statement (the promise rejects; the connection is then dropped). */
  readonly queryMs: number;
}

export const DEFAULT_SQL_TIMEOUTS: SqlTimeouts = { connectMs: 5000, queryMs: 30_000 };

/** One connection; `query` wraps errors as PgQueryError and returns the rows untyped (validate them). */
export class SqlSession {
  constructor(readonly client: Client) {}

  async query(what: string, text: string, values?: readonly unknown[]): Promise<Row[]> {
    try {
      const res = await this.client.query({ text, ...(values === undefined ? {} : { values: [...values] }) });
      // Multi-statement simple queries answer an array of results; we never send those.
      if (!Array.isArray(res.rows)) throw new PgQueryError('UNEXPECTED_RESULT', `${what}: no rows array in the answer`);
      return res.rows.map((r: unknown) => asRow(r, what));
    } catch (err) {
      if (err instanceof PgQueryError) throw err;
      const sqlState = err instanceof DatabaseError ? err.code : undefined;
      throw new PgQueryError('QUERY_FAILED', `${what}: ${describeError(err)}`, sqlState, { cause: err });
    }
  }
}

/** Opens a connection, runs `fn`, always closes it. */
export async function withSql<T>(target: SqlTarget, timeouts: SqlTimeouts, fn: (s: SqlSession) => Promise<T>): Promise<T> {
  const config: ClientConfig & { replication?: string } = {
    host: target.host,
    port: target.port,
    user: target.user,
    database: target.database,
    application_name: target.applicationName ?? 'hubha',
    connectionTimeoutMillis: timeouts.connectMs,
    query_timeout: timeouts.queryMs,
    ...(target.password === undefined ? {} : { password: target.password.reveal() }),
    ...(target.replication === true ? { replication: 'true' } : {}),
  };
  const client = new Client(config);
  client.on('error', () => {
    /* a connection lost between statements surfaces on the next query */
  });
  try {
    await client.connect();
  } catch (err) {
    await closeQuietly(client);
    const sqlState = err instanceof DatabaseError ? err.code : undefined;
    throw new PgQueryError('CONNECT_FAILED', `cannot connect to ${target.host}:${target.port} as ${target.user}: ${describeError(err)}`, sqlState, {
      cause: err,
    });
  }
  try {
    return await fn(new SqlSession(client));
  } finally {
    await closeQuietly(client);
  }
}

async function closeQuietly(client: Client): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.end().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, 1000);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}
