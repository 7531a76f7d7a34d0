import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';

/**
 * The Linux watchdog (/dev/watchdog), as Patroni offers it: while this hub is the active one, the
 * agent writes a keepalive every loop; if the sidecar freezes (a GC pause, SIGSTOP, a VM stall)
 * for longer than the device's timeout, the kernel resets the machine — so a frozen primary cannot
 * wake up and write after its lease has gone. On demotion the agent disarms it with the magic
 * close character 'V'. The device timeout is the operator's (softdog's soft_margin, or the
 * hardware's); set it below the lease TTL minus the demotion budget.
 *
 * mode off: not used. automatic: used when the device can be opened, else a warning. required:
 * the hub refuses to become active without it.
 */
export type WatchdogMode = 'off' | 'automatic' | 'required';

export class Watchdog {
  private handle: FileHandle | null = null;

  constructor(
    readonly device: string,
    readonly mode: WatchdogMode,
    private readonly logger: Logger,
  ) {}

  armed(): boolean {
    return this.handle !== null;
  }

  /** Opens the device (arming it). False when it cannot be opened; the caller decides by mode. */
  async arm(): Promise<boolean> {
    if (this.mode === 'off') return true;
    if (this.handle !== null) return true;
    try {
      this.handle = await open(this.device, 'w');
      this.logger.info({ device: this.device }, 'watchdog armed');
      return true;
    } catch (err) {
      const level = this.mode === 'required' ? 'error' : 'warn';
      this.logger[level]({ device: this.device, err: (err as Error).message }, 'watchdog cannot be opened');
      return this.mode !== 'required';
    }
  }

  async keepalive(): Promise<void> {
    if (this.handle === null) return;
    await this.handle.write('\0').catch((err: unknown) => this.logger.error({ device: this.device, err: String(err) }, 'watchdog keepalive failed'));
  }

  /** Disarms (magic close) and closes; idempotent. */
  async disarm(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    if (handle === null) return;
    await handle.write('V').catch(() => undefined);
    await handle.close().catch(() => undefined);
    this.logger.info({ device: this.device }, 'watchdog disarmed');
  }
}
