import { access, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { PgCommandRunner } from './command.js';
import { PgBinariesError, describeError } from './errors.js';
import type { PgOsUser } from './os-user.js';

export const DEFAULT_PG_MAJOR = 15;
export const DEFAULT_PG_BIN_DIR = `/usr/lib/postgresql/${DEFAULT_PG_MAJOR}/bin`;

/** The binaries this library runs. */
export const REQUIRED_PG_BINARIES = [
  'initdb',
  'pg_ctl',
  'postgres',
  'pg_basebackup',
  'pg_rewind',
  'pg_controldata',
  'pg_waldump',
] as const;
export type PgBinaryName = (typeof REQUIRED_PG_BINARIES)[number];

const INSTALL_HINT = `install them with: apt-get install postgresql-${DEFAULT_PG_MAJOR}`;

/** A validated PostgreSQL bin directory: every required binary present and executable, of one major version. */
export class PgBinaries {
  private constructor(
    readonly binDir: string,
    readonly major: number,
    /** e.g. "15.14" */
    readonly version: string,
  ) {}

  path(name: PgBinaryName): string {
    return join(this.binDir, name);
  }

  /**
   * Validates `binDir` (default /usr/lib/postgresql/15/bin): it exists, holds every required
   * binary as an executable file, and `postgres --version` (run as the OS user) reports
   * `expectedMajor`. Missing pieces throw BINARIES_MISSING with the apt-get hint.
   */
  static async locate(options: {
    binDir?: string;
    expectedMajor?: number;
    user: PgOsUser;
    timeoutMs?: number;
  }): Promise<PgBinaries> {
    const binDir = options.binDir ?? DEFAULT_PG_BIN_DIR;
    const expectedMajor = options.expectedMajor ?? DEFAULT_PG_MAJOR;
    if (!isAbsolute(binDir)) {
      throw new PgBinariesError('BINARIES_MISSING', `PostgreSQL bin directory must be an absolute path, got "${binDir}"`);
    }
    try {
      const st = await stat(binDir);
      if (!st.isDirectory()) throw new Error('not a directory');
    } catch (err) {
      throw new PgBinariesError(
        'BINARIES_MISSING',
        `PostgreSQL bin directory ${binDir} does not exist (${describeError(err)}); ${INSTALL_HINT}`,
        { cause: err },
      );
    }
    const missing: string[] = [];
    for (const name of REQUIRED_PG_BINARIES) {
      const p = join(binDir, name);
      try {
        const st = await stat(p);
        if (!st.isFile()) throw new Error('not a file');
        await access(p, constants.X_OK);
      } catch {
        missing.push(name);
      }
    }
    if (missing.length > 0) {
      throw new PgBinariesError('BINARIES_MISSING', `PostgreSQL binaries missing or not executable in ${binDir}: ${missing.join(', ')}; ${INSTALL_HINT}`);
    }
    const runner = new PgCommandRunner(options.user);
    let out: string;
    try {
      out = (await runner.run({ command: join(binDir, 'postgres'), args: ['--version'], timeoutMs: options.timeoutMs ?? 10_000 })).stdout;
    } catch (err) {
      throw new PgBinariesError('BINARIES_MISSING', `cannot run ${join(binDir, 'postgres')} --version as ${options.user.name}: ${describeError(err)}`, {
        cause: err,
      });
    }
    const version = parsePostgresVersion(out);
    if (version === undefined) {
      throw new PgBinariesError('BINARIES_VERSION', `unexpected "postgres --version" output: ${JSON.stringify(out.slice(0, 200))}`);
    }
    if (version.major !== expectedMajor) {
      throw new PgBinariesError(
        'BINARIES_VERSION',
        `${binDir} holds PostgreSQL ${version.version}, expected major ${expectedMajor}; ${INSTALL_HINT}`,
      );
    }
    return new PgBinaries(binDir, version.major, version.version);
  }
}

/** Parses "postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)" → { major: 15, version: "15.14" }. */
export function parsePostgresVersion(text: string): { major: number; version: string } | undefined {
  const m = /^postgres \(PostgreSQL\) (\d+)(?:\.(\d+))?\S*/m.exec(text.trim());
  if (!m || m[1] === undefined) return undefined;
  const major = Number(m[1]);
  if (!Number.isSafeInteger(major) || major < 10) return undefined;
  return { major, version: m[2] === undefined ? m[1] : `${m[1]}.${m[2]}` };
}
