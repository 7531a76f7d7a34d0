import { PgManagerError } from './errors.js';
import { quoteIdent, validateRoleName } from './quoting.js';
import { isScramVerifier, scramSha256Verifier } from './scram.js';
import type { Secret } from './secret.js';
import type { SqlSession } from './sql.js';
import { bool, exactlyOneRow } from './validate.js';

/**
 * What pg_rewind needs on the source server from a non-superuser (PostgreSQL docs, pg_rewind),
 * plus pg_checkpoint (PG 15) so the follower can CHECKPOINT a freshly promoted primary first.
 */
const REWIND_GRANTS = [
  'GRANT EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text, boolean, boolean) TO %I',
  'GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_file(text, boolean) TO %I',
  'GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text) TO %I',
  'GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) TO %I',
  'GRANT pg_checkpoint TO %I',
];

/**
 * Creates (or updates) the replication role: LOGIN REPLICATION with a SCRAM verifier computed
 * here (the password never reaches the server), and the grants pg_rewind needs.
 */
export async function ensureReplicationRole(s: SqlSession, user: string, password: Secret): Promise<void> {
  validateRoleName('replicationUser', user);
  const verifier = scramSha256Verifier(password);
  if (!isScramVerifier(verifier)) throw new PgManagerError('INVALID_ARGUMENT', 'internal: malformed SCRAM verifier');
  const what = `replication role ${user}`;
  const exists = (await s.query(what, 'SELECT 1 FROM pg_roles WHERE rolname = $1', [user])).length === 1;
  const ident = quoteIdent(user);
  await s.query(what, `${exists ? 'ALTER' : 'CREATE'} ROLE ${ident} WITH LOGIN REPLICATION PASSWORD '${verifier}'`);
  for (const g of REWIND_GRANTS) await s.query(what, g.replace('%I', ident));
  const r = exactlyOneRow(await s.query(what, 'SELECT rolreplication, rolcanlogin FROM pg_roles WHERE rolname = $1', [user]), what);
  if (!bool(r, 'rolreplication', what) || !bool(r, 'rolcanlogin', what)) {
    throw new PgManagerError('UNEXPECTED_RESULT', `${what}: role lacks REPLICATION or LOGIN after creation`);
  }
}
