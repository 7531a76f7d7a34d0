import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Watchdog } from '../src/agent/watchdog.js';

// A regular file stands in for /dev/watchdog: what matters is what the agent writes to it.
let dir: string | null = null;
afterEach(async () => {
  if (dir !== null) await rm(dir, { recursive: true, force: true });
  dir = null;
});

describe('Watchdog', () => {
  it('keeps alive while armed and disarms with the magic close character', async () => {
    dir = await mkdtemp(join(tmpdir(), 'hubha-wd-'));
    const device = join(dir, 'watchdog');
    const wd = new Watchdog(device, 'automatic', pino({ level: 'silent' }));
    expect(await wd.arm()).toBe(true);
    await wd.keepalive();
    await wd.keepalive();
    await wd.disarm();
    await wd.disarm(); // idempotent
    await wd.keepalive(); // disarmed: nothing written
    expect(await readFile(device, 'latin1')).toBe('\0\0V');
  });

  it('required mode refuses when the device cannot be opened; automatic carries on', async () => {
    const missing = '/nonexistent-dir/watchdog';
    expect(await new Watchdog(missing, 'required', pino({ level: 'silent' })).arm()).toBe(false);
    const automatic = new Watchdog(missing, 'automatic', pino({ level: 'silent' }));
    expect(await automatic.arm()).toBe(true);
    expect(automatic.armed()).toBe(false);
  });
});
