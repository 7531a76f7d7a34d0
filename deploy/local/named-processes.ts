import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';

/**
 * Child processes we started, by name, with their output appended to a log file. Every signal
 * goes to a process we own, by PID; kill() waits for the exit.
 */
export class NamedProcesses {
  readonly processes = new Map<string, ChildProcess>();
  private readonly exits = new Map<string, Promise<void>>();

  /** Tracks `child` as `name` (which must not be running) and appends its output to `logFile`. */
  track(name: string, child: ChildProcess, logFile: string): ChildProcess {
    if (this.processes.has(name)) throw new Error(`${name} is already running`);
    const log = createWriteStream(logFile, { flags: 'a' });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    this.processes.set(name, child);
    this.exits.set(
      name,
      new Promise((resolve) => {
        child.once('exit', () => {
          this.processes.delete(name);
          resolve();
        });
      }),
    );
    return child;
  }

  /** Sends `signal` and waits for the process to exit (no-op when it is not running). */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.processes.get(name);
    if (child === undefined) return;
    const exited = this.exits.get(name);
    child.kill(signal);
    await exited;
  }
}

/** The JSON lines of a pino log file (lines that are not JSON, e.g. Node warnings, are skipped). */
export async function readJsonLog(file: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // not JSON
    }
  }
  return out;
}
