/**
 * The port allocator of local clusters and tests (deploy/local/ports.ts): ports below the
 * ephemeral range (which outgoing connections take their local ports from), free when handed
 * out, and never the same twice in one process.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../deploy/local/ports.js';

const ephemeralStart = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

describe('freePort', () => {
  it('hands out distinct, bindable ports below the ephemeral range', async () => {
    const ports: number[] = [];
    for (let i = 0; i < 50; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(50);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(20_000);
      expect(port).toBeLessThan(ephemeralStart);
    }
    const server = await listen(ports[49]!);
    server.close();
  });

  it('skips a port something already listens on', async () => {
    // Hold the next few candidates: the allocator walks upwards from where it stopped.
    const probe = await freePort();
    const held: Server[] = [];
    for (let port = probe + 1; port <= probe + 3 && port < ephemeralStart; port++) {
      const server = await listen(port).catch(() => null); // taken already: just as good
      if (server !== null) held.push(server);
    }
    try {
      const port = await freePort();
      expect(port).not.toBe(probe);
      for (const s of held) expect(port).not.toBe((s.address() as { port: number }).port);
    } finally {
      for (const s of held) s.close();
    }
  });
});
