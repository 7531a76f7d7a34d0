import { spawn } from 'node:child_process';
import { LabError } from './errors.js';

export interface RunOptions {
  /** Default 10 s; then SIGKILL and COMMAND_TIMEOUT (or a result with timedOut when check is false). */
  readonly timeoutMs?: number;
  /** Throw a LabError on a non-zero exit (default true). */
  readonly check?: boolean;
  /** Environment; default: this process's environment. */
  readonly env?: NodeJS.ProcessEnv;
  /** Written to stdin, then closed; default: stdin is /dev/null. */
  readonly input?: string;
}

export interface RunResult {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
  readonly timedOut: boolean;
}

const MAX_OUTPUT = 1024 * 1024;

/**
 * Runs argv[0] with argv[1..] (no shell). Captures output (bounded), applies a timeout, and by
 * default throws a LabError for a non-zero exit.
 */
export function run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) return Promise.reject(new LabError('INVALID_ARGUMENT', 'empty argv'));
  const timeoutMs = options.timeoutMs ?? 10_000;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let settled = false;
    const child = spawn(cmd, args, {
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: options.env ?? process.env,
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout?.setEncoding('utf8').on('data', (c: string) => {
      if (stdout.length < MAX_OUTPUT) stdout += c;
    });
    child.stderr?.setEncoding('utf8').on('data', (c: string) => {
      if (stderr.length < MAX_OUTPUT) stderr += c;
    });
    if (options.input !== undefined && child.stdin) {
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input);
    }
    child.on('error', (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new LabError('COMMAND_FAILED', `cannot start ${cmd}: ${err.message}`, { cause: err }));
    });
    child.on('close', (exitCode, signal) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const result: RunResult = { exitCode, signal, stdout, stderr, durationMs: Date.now() - started, timedOut };
      if (options.check === false) return resolve(result);
      if (timedOut) return reject(new LabError('COMMAND_TIMEOUT', `${argv.join(' ')}: no exit within ${timeoutMs} ms`, { command: failure(argv, result) }));
      if (exitCode !== 0) {
        const detail = (stderr.trim() || stdout.trim()).slice(-500);
        const code = /Operation not permitted|Permission denied/.test(stderr) ? 'NOT_PERMITTED' : 'COMMAND_FAILED';
        return reject(
          new LabError(code, `${argv.join(' ')}: ${exitCode === null ? `killed by ${String(signal)}` : `exit ${exitCode}`}${detail ? `: ${detail}` : ''}`, {
            command: failure(argv, result),
          }),
        );
      }
      resolve(result);
    });
  });
}

function failure(argv: readonly string[], r: RunResult): { argv: readonly string[]; exitCode: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } {
  return { argv: [...argv], exitCode: r.exitCode, signal: r.signal, stdout: r.stdout.slice(-2000), stderr: r.stderr.slice(-2000) };
}
