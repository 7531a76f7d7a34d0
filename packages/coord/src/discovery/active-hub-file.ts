import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { ActiveHub } from '../records/records.js';
import { activeHubSchema } from '../records/records.js';

/**
 * The active hub as a local file, for consumers on a hub host that read a file rather than ask
 * the cluster. Written atomically: a reader sees the old file or the new one, never a part.
 */

/**
 * Writes `record` (validated against activeHubSchema) as JSON to `path`: a temporary file in the
 * same directory, fsync, rename over `path`, fsync of the directory (so the rename survives a
 * crash). The file is world-readable (0644): it holds no secrets.
 */
export async function writeActiveHubFile(path: string, record: ActiveHub): Promise<void> {
  const valid = activeHubSchema.parse(record);
  const text = `${JSON.stringify(valid, null, 2)}\n`;
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let renamed = false;
  try {
    const file = await open(temp, 'wx', 0o644);
    try {
      await file.writeFile(text, 'utf8');
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
    renamed = true;
    const directory = await open(dir, 'r');
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  } finally {
    if (!renamed) await rm(temp, { force: true });
  }
}

/** Reads a file written by writeActiveHubFile: null when there is none; throws when it is not a valid record. */
export async function readActiveHubFile(path: string): Promise<ActiveHub | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return activeHubSchema.parse(JSON.parse(text));
}
