import { chmod, chown, mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { PgOsUser } from './os-user.js';

/** Gives `path` to the PostgreSQL OS user when we run as root; no-op otherwise. */
export async function chownToPgUser(path: string, user: PgOsUser): Promise<void> {
  if (user.switchUser) await chown(path, user.uid, user.gid);
}

export async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

async function fsyncPath(path: string): Promise<void> {
  const h = await open(path, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/**
 * Writes a file atomically: a temporary file in the same directory, fsync, chown/chmod, rename
 * over the target, fsync the directory. Readers see the old or the new content, never a mix.
 */
export async function writeFileAtomic(path: string, content: string, mode: number, user: PgOsUser): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    await writeFile(tmp, content, { mode, flag: 'wx' });
    await chmod(tmp, mode);
    await chownToPgUser(tmp, user);
    await fsyncPath(tmp);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncPath(dirname(path));
}

/** Creates `path` (and missing parents) and gives the leaf `mode` and the OS user. */
export async function ensureDir(path: string, mode: number, user: PgOsUser): Promise<void> {
  await mkdir(path, { recursive: true, mode });
  await chmod(path, mode);
  await chownToPgUser(path, user);
}

/** Creates an empty file owned by the OS user if it does not exist (e.g. the server log). */
export async function ensureFile(path: string, mode: number, user: PgOsUser): Promise<void> {
  const h = await open(path, 'a', mode);
  await h.close();
  await chownToPgUser(path, user);
}

export type DirState = 'missing' | 'empty' | 'non-empty';

export async function dirState(path: string): Promise<DirState> {
  try {
    const entries = await readdir(path);
    return entries.length === 0 ? 'empty' : 'non-empty';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw err;
  }
}

/** Removes everything inside `path`, keeping the directory itself (its owner and mode). */
export async function wipeDirContents(path: string): Promise<void> {
  for (const entry of await readdir(path)) {
    await rm(join(path, entry), { recursive: true, force: true });
  }
}
