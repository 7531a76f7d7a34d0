import { PgManagerError } from './errors.js';

/* Quoting for the three languages we generate text in: postgresql.conf values, libpq conninfo
 * strings and SQL identifiers. Inputs with control characters are refused rather than escaped. */

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function refuseControl(what: string, v: string): void {
  if (typeof v !== 'string') throw new PgManagerError('INVALID_ARGUMENT', `${what} must be a string`);
  if (CONTROL.test(v)) throw new PgManagerError('INVALID_ARGUMENT', `${what} must not contain control characters`);
}

/** A postgresql.conf string value: '...' with backslash doubled and quote doubled. */
export function quoteGucValue(v: string): string {
  refuseControl('configuration value', v);
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** A libpq conninfo value: '...' with backslash and quote backslash-escaped. */
export function quoteConninfoValue(v: string): string {
  refuseControl('conninfo value', v);
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A libpq keyword/value connection string from ordered pairs. */
export function buildConninfo(params: ReadonlyArray<readonly [string, string | number]>): string {
  return params
    .map(([k, v]) => {
      if (!/^[a-z_]+$/.test(k)) throw new PgManagerError('INVALID_ARGUMENT', `invalid conninfo keyword "${k}"`);
      return `${k}=${quoteConninfoValue(String(v))}`;
    })
    .join(' ');
}

/** A SQL identifier in double quotes. */
export function quoteIdent(name: string): string {
  refuseControl('identifier', name);
  return `"${name.replace(/"/g, '""')}"`;
}

/** Role names we create or connect as: lower-case SQL identifiers, at most 63 bytes. */
export function validateRoleName(what: string, name: unknown): string {
  if (typeof name !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(name)) {
    throw new PgManagerError('INVALID_ARGUMENT', `${what} must match [a-z_][a-z0-9_]{0,62}, got ${JSON.stringify(name)}`);
  }
  return name;
}

/** Physical replication slot names: PostgreSQL allows [a-z0-9_], at most 63 bytes. */
export function validateSlotName(name: unknown): string {
  if (typeof name !== 'string' || !/^[a-z0-9_]{1,63}$/.test(name)) {
    throw new PgManagerError('INVALID_ARGUMENT', `replication slot name must match [a-z0-9_]{1,63}, got ${JSON.stringify(name)}`);
  }
  return name;
}

/**
 * Node (hub) names, used as application_name and in synchronous_standby_names: letters, digits,
 * '_', '.', '-', at most 63 bytes (NAMEDATALEN - 1), so they survive both quotings unchanged.
 */
export function validateNodeName(name: unknown): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/.test(name)) {
    throw new PgManagerError('INVALID_ARGUMENT', `node name must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,62}, got ${JSON.stringify(name)}`);
  }
  return name;
}

/** postgresql.conf parameter names. */
export function validateGucName(name: unknown): string {
  if (typeof name !== 'string' || !/^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/.test(name)) {
    throw new PgManagerError('INVALID_ARGUMENT', `invalid configuration parameter name ${JSON.stringify(name)}`);
  }
  return name;
}

/** Hosts in conninfo strings: a hostname or an IP literal. */
export function validateHost(host: unknown): string {
  if (typeof host !== 'string' || !/^[A-Za-z0-9_.:-]{1,253}$/.test(host)) {
    throw new PgManagerError('INVALID_ARGUMENT', `invalid host ${JSON.stringify(host)}`);
  }
  return host;
}

export function validatePort(port: unknown): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new PgManagerError('INVALID_ARGUMENT', `invalid port ${JSON.stringify(port)}`);
  }
  return port;
}

/** IPv4/IPv6 CIDR for pg_hba.conf ("127.0.0.0/8", "10.1.2.3/32", "fd00::/64"). */
export function validateCidr(cidr: unknown): string {
  if (typeof cidr !== 'string') throw new PgManagerError('INVALID_ARGUMENT', 'CIDR must be a string');
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (v4) {
    const octets = v4.slice(1, 5).map(Number);
    const bits = Number(v4[5]);
    if (octets.every((o) => o <= 255) && bits <= 32) return cidr;
  } else if (/^[0-9A-Fa-f:]{2,39}\/(\d{1,3})$/.test(cidr) && cidr.includes(':')) {
    const bits = Number(cidr.split('/')[1]);
    if (bits <= 128) return cidr;
  }
  throw new PgManagerError('INVALID_ARGUMENT', `invalid CIDR ${JSON.stringify(cidr)}`);
}
