import { spawn } from 'node:child_process';
import { classifyCommandStderr, VipError, type VipCommandFailure } from './errors.js';

export interface VipCommandSpec {
  readonly command: string;
  readonly args: readonly string[];
  readonly timeoutMs: number;
  /** Aborting kills the command (SIGKILL); the result then says `aborted`. */
  readonly signal?: AbortSignal;
}

export interface VipCommandResult {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
  readonly timedOut: boolean;
  readonly aborted: boolean;
  /** Set when the command could not be started at all (ENOENT, EACCES, …). */
  readonly spawnError: NodeJS.ErrnoException | undefined;
}

/** Environment of the commands: C locale, so the stderr we classify is not translated. */
const ENV: Readonly<Record<string, string>> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  LC_ALL: 'C',
  LANG: 'C',
};

const MAX_OUTPUT = 64 * 1024;

/**
 * Runs one command: argument array (no shell), timeout (SIGKILL: `ip` and `arping` hold no
 * state worth a graceful stop), bounded output. Never rejects: failures are in the result, and
 * `toVipError` turns a failed result into a classified VipError.
 */
export function runCommand(spec: VipCommandSpec): Promise<VipCommandResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let settled = false;
    const finish = (r: Omit<VipCommandResult, 'stdout' | 'stderr' | 'durationMs' | 'timedOut'>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      spec.signal?.removeEventListener('abort', onAbort);
      resolve({ ...r, stdout, stderr, timedOut, durationMs: Date.now() - started });
    };
    if (spec.signal?.aborted) {
      // Not started at all: nothing to kill.
      settled = true;
      resolve({ exitCode: null, signal: null, stdout, stderr, durationMs: 0, timedOut, aborted: true, spawnError: undefined });
      return;
    }
    const child = spawn(spec.command, [...spec.args], { stdio: ['ignore', 'pipe', 'pipe'], env: ENV });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, spec.timeoutMs);
    let aborted = false;
    const onAbort = (): void => {
      aborted = true;
      child.kill('SIGKILL');
    };
    spec.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      if (stdout.length < MAX_OUTPUT) stdout += c.slice(0, MAX_OUTPUT - stdout.length);
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      if (stderr.length < MAX_OUTPUT) stderr += c.slice(0, MAX_OUTPUT - stderr.length);
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      finish({ exitCode: null, signal: null, aborted, spawnError: err });
    });
    // 'close' (not 'exit'): the output is complete. `ip`/`arping` leave no grandchildren behind.
    child.on('close', (code, sig) => finish({ exitCode: code, signal: sig, aborted, spawnError: undefined }));
  });
}

export function commandFailure(spec: VipCommandSpec, r: VipCommandResult): VipCommandFailure {
  return {
    command: spec.command,
    args: [...spec.args],
    exitCode: r.exitCode,
    signal: r.signal,
    stdout: tail(r.stdout),
    stderr: tail(r.stderr),
    durationMs: r.durationMs,
  };
}

/** The classified error of a failed command (call only when exitCode !== 0). */
export function toVipError(spec: VipCommandSpec, r: VipCommandResult, what: string): VipError {
  const command = commandFailure(spec, r);
  const name = spec.command.split('/').pop() ?? spec.command;
  if (r.spawnError) {
    const code = r.spawnError.code === 'ENOENT' ? 'COMMAND_MISSING' : r.spawnError.code === 'EACCES' || r.spawnError.code === 'EPERM' ? 'PERMISSION_DENIED' : 'COMMAND_FAILED';
    return new VipError(code, `${what}: cannot start ${name}: ${r.spawnError.message}`, { cause: r.spawnError, command });
  }
  if (r.timedOut) return new VipError('COMMAND_TIMEOUT', `${what}: ${name} did not finish within ${spec.timeoutMs} ms`, { command });
  const detail = tail(r.stderr.trim() || r.stdout.trim(), 300);
  const status = r.exitCode === null ? `was killed by ${String(r.signal)}` : `exited with code ${r.exitCode}`;
  return new VipError(classifyCommandStderr(r.stderr), `${what}: ${name} ${status}${detail ? `: ${detail}` : ''}`, { command });
}

function tail(text: string, max = 2000): string {
  return text.length <= max ? text : `...${text.slice(text.length - max)}`;
}
