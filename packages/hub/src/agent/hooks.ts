import { spawn } from 'node:child_process';
import type { Logger } from 'pino';

export type HookEvent = 'promote' | 'demote' | 'role-change';

export interface HookOutcome {
  readonly event: HookEvent;
  readonly ok: boolean;
  readonly exitCode: number | null;
  readonly durationMs: number;
  readonly error: string | null;
}

/** Output kept from a hook for the log, at most (head). */
const MAX_HOOK_OUTPUT_BYTES = 4096;

/**
 * Runs the operator's hook commands (argv arrays, no shell) with a timeout. Hooks never block
 * fencing or promotion: the caller does not await them on the critical path, and a failure is
 * logged and reported (lastFailure), never thrown.
 */
export class HookRunner {
  private lastFailureText: string | null = null;
  private readonly running = new Set<Promise<HookOutcome>>();

  constructor(
    private readonly node: string,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
  ) {}

  lastFailure(): string | null {
    return this.lastFailureText;
  }

  /** Starts the hook in the background; the returned promise settles with its outcome. */
  run(event: HookEvent, argv: readonly string[] | null, env: { role: string; epoch: number | null }): Promise<HookOutcome> | null {
    if (argv === null || argv.length === 0) return null;
    const started = performance.now();
    const promise = new Promise<HookOutcome>((resolve) => {
      let output = '';
      let settled = false;
      const finish = (exitCode: number | null, error: string | null): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const outcome: HookOutcome = { event, ok: error === null && exitCode === 0, exitCode, durationMs: Math.round(performance.now() - started), error: error ?? (exitCode === 0 ? null : `exited with ${exitCode}`) };
        if (outcome.ok) this.logger.info({ hook: event, epoch: env.epoch, durationMs: outcome.durationMs }, 'hook succeeded');
        else {
          this.lastFailureText = `${event}: ${outcome.error}`;
          this.logger.warn({ hook: event, epoch: env.epoch, exitCode, error: outcome.error, output: output.slice(0, MAX_HOOK_OUTPUT_BYTES) }, 'hook failed');
        }
        resolve(outcome);
      };
      const child = spawn(argv[0]!, argv.slice(1), {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, HUBHA_EVENT: event, HUBHA_ROLE: env.role, HUBHA_EPOCH: env.epoch === null ? '' : String(env.epoch), HUBHA_NODE: this.node },
      });
      const collect = (chunk: Buffer): void => {
        if (output.length < MAX_HOOK_OUTPUT_BYTES) output += chunk.toString('utf8');
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      child.once('error', (err) => finish(null, err.message));
      child.once('exit', (code, signal) => finish(code, signal === null ? null : `killed by ${signal}`));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        finish(null, `timed out after ${this.timeoutMs} ms`);
      }, this.timeoutMs);
    });
    this.running.add(promise);
    void promise.finally(() => this.running.delete(promise));
    return promise;
  }

  /** Waits for hooks still running (shutdown). */
  async drain(): Promise<void> {
    await Promise.all([...this.running]);
  }
}
