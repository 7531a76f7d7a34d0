import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { PgManagerError } from './errors.js';

/**
 * The OS user PostgreSQL runs as. PostgreSQL refuses to run as root, so when this process is root
 * its binaries are spawned with this user's uid/gid and the files we write into the data
 * directory are chowned to it; when it is not root, everything runs as ourselves.
 */
export interface PgOsUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  /** True when we are root and must spawn with uid/gid and chown what we write. */
  readonly switchUser: boolean;
}

/** Parses /etc/passwd text for `name`; undefined when absent. Exported for tests. */
export function findPasswdEntry(passwd: string, name: string): { uid: number; gid: number } | undefined {
  for (const line of passwd.split('\n')) {
    const fields = line.split(':');
    if (fields.length < 7 || fields[0] !== name) continue;
    const uid = Number(fields[2]);
    const gid = Number(fields[3]);
    if (!Number.isSafeInteger(uid) || !Number.isSafeInteger(gid) || uid < 0 || gid < 0) return undefined;
    return { uid, gid };
  }
  return undefined;
}

/**
 * Resolves the OS user. As root: `name` (default `postgres`) from /etc/passwd, or an explicit
 * uid/gid. Not root: the current user (the name is then only informative).
 */
export async function resolvePgOsUser(
  options: { name?: string; uid?: number; gid?: number; passwdFile?: string } = {},
): Promise<PgOsUser> {
  const myUid = process.getuid?.() ?? -1;
  if (myUid !== 0) {
    const me = userInfo();
    return { name: me.username, uid: me.uid, gid: me.gid, switchUser: false };
  }
  const name = options.name ?? 'postgres';
  let uid = options.uid;
  let gid = options.gid;
  if (uid === undefined || gid === undefined) {
    let passwd: string;
    try {
      passwd = await readFile(options.passwdFile ?? '/etc/passwd', 'utf8');
    } catch (err) {
      throw new PgManagerError('OS_USER_UNKNOWN', 'cannot read /etc/passwd to find the PostgreSQL OS user', { cause: err });
    }
    const entry = findPasswdEntry(passwd, name);
    if (entry === undefined) {
      throw new PgManagerError(
        'OS_USER_UNKNOWN',
        `OS user "${name}" does not exist; PostgreSQL cannot run as root (apt-get install postgresql-15 creates "postgres")`,
      );
    }
    uid ??= entry.uid;
    gid ??= entry.gid;
  }
  if (!Number.isSafeInteger(uid) || !Number.isSafeInteger(gid) || uid < 0 || gid < 0) {
    throw new PgManagerError('INVALID_ARGUMENT', `invalid uid/gid ${String(uid)}/${String(gid)} for the PostgreSQL OS user`);
  }
  if (uid === 0) {
    throw new PgManagerError('OS_USER_UNKNOWN', `OS user "${name}" is root; PostgreSQL refuses to run as root`);
  }
  return { name, uid, gid, switchUser: true };
}
