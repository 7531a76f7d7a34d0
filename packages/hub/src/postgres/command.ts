import { spawn } from 'node:child_process';
import type { Logger } from 'pino';
import { BoundedOutput, tailOf } from './bounded-output.js';
import { PgCommandError, type PgCommandFailure } from './errors.js';
import type { PgOsUser } from './os-user.js';

export interface PgCommandSpec {
  /** Absolute path of the binary (from PgBinaries). Spawned directly: no shell, arguments as an array. */
  readonly command: string;
  readonly args: readonly string[];
  /** Past it the command gets SIGTERM, then SIGKILL after `killGraceMs`, and COMMAND_TIMEOUT is thrown. */
  readonly timeoutMs: number;
  /** Added to the clean base environment (PATH, LC_ALL=C, TZ=UTC); nothing else is inherited. */
  readonly env?: Readonly<Record<string, string>>;
  /** Working directory; default `/` (the OS user may not be able to enter ours). */
  readonly cwd?: string;
  /** Written to stdin, which is then closed; default: stdin is /dev/null. */
  readonly stdin?: string;
  /** Exit codes that are not failures (default [0]); e.g. `pg_ctl status` answers 3 for "not running". */
  readonly okExitCodes?: readonly number[];
  /** Bound on each captured stream (default 256 KiB). */
  readonly maxOutputBytes?: number;
  readonly killGraceMs?: number;
}

export interface PgCommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
}

/** Environment every PostgreSQL binary gets: C locale so the output we parse is not translated. */
const BASE_ENV: Readonly<Record<string, string>> = {
  PATH: '/usr/local/bin:/usr/bin:/bin',
  LC_ALL: 'C',
  LANG: 'C',
  TZ: 'UTC',
};

/** How long we wait for stdout/stderr to close after the process exited (a grandchild may hold them). */
const CLOSE_GRACE_MS = 500;

/**
 * Runs PostgreSQL binaries as the PostgreSQL OS user: argument arrays (never a shell), a timeout,
 * bounded captured output, and a non-zero exit turned into a PgCommandError carrying the tails of
 * stdout/stderr.
 */
export class PgCommandRunner {
  constructor(
    readonly user: PgOsUser,
    private readonly logger?: Logger,
  ) {}

  run(spec: PgCommandSpec): Promise<PgCommandResult> {
    const started = Date.now();
    const maxOut = spec.maxOutputBytes ?? 256 * 1024;
    const stdout = new BoundedOutput(maxOut);
    const stderr = new BoundedOutput(maxOut);
    const okCodes = spec.okExitCodes ?? [0];
    const grace = spec.killGraceMs ?? 2000;
    this.logger?.debug({ cmd: spec.command, args: spec.args }, 'postgres command');

    return new Promise<PgCommandResult>((resolve, reject) => {
      const failure = (exitCode: number | null, signal: NodeJS.Signals | null): PgCommandFailure => ({
        command: spec.command,
        args: [...spec.args],
        exitCode,
        signal,
        stdout: stdout.text(),
        stderr: stderr.text(),
        durationMs: Date.now() - started,
      });
      let child;
      try {
        child = spawn(spec.command, [...spec.args], {
          cwd: spec.cwd ?? '/',
          env: { ...BASE_ENV, ...spec.env },
          stdio: [spec.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
          ...(this.user.switchUser ? { uid: this.user.uid, gid: this.user.gid } : {}),
        });
      } catch (err) {
        reject(new PgCommandError('COMMAND_SPAWN_FAILED', `cannot start ${spec.command}`, failure(null, null), { cause: err }));
        return;
      }
      let timedOut = false;
      let settled = false;
      let killTimer: NodeJS.Timeout | undefined;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGTERM');
        killTimer = setTimeout(() => child.kill('SIGKILL'), grace);
      }, spec.timeoutMs);

      child.stdout?.on('data', (c: Buffer) => stdout.push(c));
      child.stderr?.on('data', (c: Buffer) => stderr.push(c));
      if (spec.stdin !== undefined && child.stdin) {
        child.stdin.on('error', () => {
          /* the command may exit before reading stdin; its exit status tells */
        });
        child.stdin.end(spec.stdin);
      }

      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (killTimer) clearTimeout(killTimer);
        fn();
      };

      child.on('error', (err) => {
        finish(() =>
          reject(new PgCommandError('COMMAND_SPAWN_FAILED', `cannot start ${spec.command}: ${err.message}`, failure(null, null), { cause: err })),
        );
      });

      child.on('exit', (code, signal) => {
        // Wait (briefly) for the pipes to drain; a daemonized grandchild must not keep us waiting.
        let closed = false;
        const done = (): void => {
          if (closed) return;
          closed = true;
          child.stdout?.destroy();
          child.stderr?.destroy();
          const durationMs = Date.now() - started;
          finish(() => {
            const name = spec.command.split('/').pop() ?? spec.command;
            if (timedOut) {
              reject(
                new PgCommandError(
                  'COMMAND_TIMEOUT',
                  `${name} did not finish within ${spec.timeoutMs} ms${tailSuffix(stderr.text())}`,
                  failure(code, signal),
                ),
              );
            } else if (code === null || !okCodes.includes(code)) {
              reject(
                new PgCommandError(
                  'COMMAND_FAILED',
                  `${name} ${code === null ? `was killed by ${String(signal)}` : `exited with code ${code}`}${tailSuffix(stderr.text() || stdout.text())}`,
                  failure(code, signal),
                ),
              );
            } else {
              this.logger?.debug({ cmd: name, exitCode: code, durationMs }, 'postgres command done');
              resolve({ exitCode: code, stdout: stdout.text(), stderr: stderr.text(), durationMs });
            }
          });
        };
        const t = setTimeout(done, CLOSE_GRACE_MS);
        child.on('close', () => {
          clearTimeout(t);
          done();
        });
      });
    });
  }
}

function tailSuffix(text: string): string {
  const t = tailOf(text, 1500);
  return t === '' ? '' : `: ${t}`;
}
