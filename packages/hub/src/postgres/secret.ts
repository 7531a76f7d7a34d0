import { open } from 'node:fs/promises';
import { constants } from 'node:fs';
import { inspect } from 'node:util';
import { PgManagerError } from './errors.js';

const REDACTED = '[redacted]';

/**
 * A password held in memory. It prints as `[redacted]` through String(), JSON, util.inspect and
 * pino, so passing it to a logger by mistake does not leak it; `reveal()` is the one way out.
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return REDACTED;
  }
  toJSON(): string {
    return REDACTED;
  }
  [inspect.custom](): string {
    return REDACTED;
  }
}

const MAX_PASSWORD_FILE_BYTES = 4096;

/**
 * Reads a password file: a regular file (no symlink), no permission bits for group or others
 * (0600 or 0400), holding the password on its first line (one trailing newline is dropped; an
 * empty password, control characters or a second non-empty line are refused). The password never
 * appears in an error message.
 */
export async function readPasswordFile(path: string): Promise<Secret> {
  if (typeof path !== 'string' || path === '') {
    throw new PgManagerError('PASSWORD_FILE_INVALID', 'password file: a path is required');
  }
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    throw new PgManagerError('PASSWORD_FILE_INVALID', `password file ${path}: cannot open it (a symlink is refused)`, {
      cause: err,
    });
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) {
      throw new PgManagerError('PASSWORD_FILE_INVALID', `password file ${path}: not a regular file`);
    }
    if ((st.mode & 0o077) !== 0) {
      throw new PgManagerError(
        'PASSWORD_FILE_INVALID',
        `password file ${path}: mode ${(st.mode & 0o777).toString(8)} lets group or others read it; chmod 0600 it`,
      );
    }
    if (st.size > MAX_PASSWORD_FILE_BYTES) {
      throw new PgManagerError('PASSWORD_FILE_INVALID', `password file ${path}: larger than ${MAX_PASSWORD_FILE_BYTES} bytes`);
    }
    const text = (await handle.readFile()).toString('utf8');
    const lines = text.split(/\r?\n/);
    const password = lines[0] ?? '';
    if (lines.slice(1).some((l) => l !== '')) {
      throw new PgManagerError('PASSWORD_FILE_INVALID', `password file ${path}: must hold one line`);
    }
    if (password === '') {
      throw new PgManagerError('PASSWORD_FILE_INVALID', `password file ${path}: the password is empty`);
    }
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(password)) {
      throw new PgManagerError('PASSWORD_FILE_INVALID', `password file ${path}: the password holds control characters`);
    }
    return new Secret(password);
  } finally {
    await handle.close();
  }
}
