/**
 * Timers and the monotonic clock, injected so tests can drive a node by hand. Production uses
 * the real event loop and performance.now(), which never jumps with the wall clock.
 */
export interface Scheduler {
  /** Monotonic milliseconds (unrelated to the wall clock). */
  now(): number;
  every(intervalMs: number, fn: () => void): { cancel(): void };
  after(delayMs: number, fn: () => void): { cancel(): void };
}

export const realScheduler: Scheduler = {
  now: () => performance.now(),
  every(intervalMs, fn) {
    const handle = setInterval(fn, intervalMs);
    return { cancel: () => clearInterval(handle) };
  },
  after(delayMs, fn) {
    const handle = setTimeout(fn, delayMs);
    return { cancel: () => clearTimeout(handle) };
  },
};

interface ManualTimer {
  dueMs: number;
  readonly intervalMs: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/** A scheduler whose time only moves when the test calls advance(). */
export class ManualScheduler implements Scheduler {
  private nowMs = 0;
  private readonly timers: ManualTimer[] = [];

  now(): number {
    return this.nowMs;
  }

  every(intervalMs: number, fn: () => void): { cancel(): void } {
    return this.add(intervalMs, intervalMs, fn);
  }

  after(delayMs: number, fn: () => void): { cancel(): void } {
    return this.add(delayMs, 0, fn);
  }

  private add(delayMs: number, intervalMs: number, fn: () => void): { cancel(): void } {
    const timer: ManualTimer = { dueMs: this.nowMs + delayMs, intervalMs, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }

  /** Moves time forward, firing due timers in time order (bounded per call). */
  advance(ms: number): void {
    const target = this.nowMs + ms;
    for (let fired = 0; fired < 1_000_000; fired++) {
      const due = this.timers.filter((t) => !t.cancelled && t.dueMs <= target).sort((a, b) => a.dueMs - b.dueMs)[0];
      if (due === undefined) break;
      this.nowMs = due.dueMs;
      if (due.intervalMs > 0) due.dueMs += due.intervalMs;
      else due.cancelled = true;
      due.fn();
    }
    this.nowMs = target;
    for (let i = this.timers.length - 1; i >= 0; i--) if (this.timers[i]!.cancelled) this.timers.splice(i, 1);
  }
}
