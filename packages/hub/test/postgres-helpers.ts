import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { pino, type Logger } from 'pino';
import {
  PgBinaries,
  PostgresInstance,
  isProcessAlive,
  postgresProcessesIn,
  resolvePgOsUser,
  type PgOsUser,
} from '../src/index.js';
import { eventually as pollUntil } from '../../../test/support/eventually.js';
import { freePort } from '../../../test/support/ports.js';

/** The one port allocator of the tests (below the ephemeral range). */
export { freePort };

/** The shared poll (test/support/eventually.ts) with the slower defaults PostgreSQL needs. */
export function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  return pollUntil(what, fn, timeoutMs, 50);
}

/** Collects pino lines in memory (to check what we log, e.g. that no password leaks). */
export function memoryLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(s) });
  return { logger, lines };
}

/**
 * A lab of PostgreSQL nodes under one temp dir owned by the PostgreSQL OS user. `cleanup()` fences
 * every node, kills by PID any postgres process still working in a lab data directory, and
 * removes the temp dir — call it in afterAll so it runs even when a test failed.
 */
export class PgLab {
  readonly nodes: PostgresInstance[] = [];
  private constructor(
    readonly root: string,
    readonly binaries: PgBinaries,
    readonly user: PgOsUser,
    readonly logger: Logger,
  ) {}

  static async create(logger: Logger): Promise<PgLab> {
    const user = await resolvePgOsUser();
    const binaries = await PgBinaries.locate({ user });
    const root = await mkdtemp(join(tmpdir(), 'hubha-pg-'));
    await chmod(root, 0o700);
    if (user.switchUser) await chown(root, user.uid, user.gid);
    return new PgLab(root, binaries, user, logger);
  }

  /** A password file (0600, owned by us: only the hub reads it). */
  async passwordFile(name: string, password: string, mode = 0o600): Promise<string> {
    const p = join(this.root, name);
    await writeFile(p, `${password}\n`, { mode });
    await chmod(p, mode);
    return p;
  }

  async node(name: string, port?: number): Promise<PostgresInstance> {
    const dir = join(this.root, name);
    await mkdir(dir, { mode: 0o700 });
    if (this.user.switchUser) await chown(dir, this.user.uid, this.user.gid);
    const inst = new PostgresInstance({
      nodeName: name,
      dataDir: join(dir, 'data'),
      socketDir: join(dir, 'run'),
      port: port ?? (await freePort()),
      binaries: this.binaries,
      osUser: this.user,
      logger: this.logger,
      timeouts: { startMs: 30_000, stopMs: 20_000, promoteMs: 20_000, basebackupMs: 60_000, rewindMs: 60_000, crashRecoveryMs: 60_000 },
    });
    this.nodes.push(inst);
    return inst;
  }

  async cleanup(): Promise<void> {
    for (const n of this.nodes) {
      await n.fence({ fastTimeoutMs: 5000, immediateTimeoutMs: 5000 }).catch(() => undefined);
    }
    for (const n of this.nodes) {
      for (const pid of await postgresProcessesIn(n.dataDir)) {
        if (await isProcessAlive(pid, 'postgres')) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      }
    }
    await rm(this.root, { recursive: true, force: true });
  }
}

/** A superuser client over the node's unix socket. */
export async function connect(node: PostgresInstance): Promise<Client> {
  const c = new Client({ ...node.connectionConfig(), connectionTimeoutMillis: 5000 });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

export async function withClient<T>(node: PostgresInstance, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = await connect(node);
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Resolves to 'pending' if `p` has not settled after `ms`. */
export async function settledWithin<T>(p: Promise<T>, ms: number): Promise<'settled' | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  const r = await Promise.race([
    p.then(
      () => 'settled' as const,
      () => 'settled' as const,
    ),
    new Promise<'pending'>((resolve) => {
      timer = setTimeout(() => resolve('pending'), ms);
    }),
  ]);
  if (timer) clearTimeout(timer);
  return r;
}
