/**
 * Ports for local clusters (`npm start`) and tests, all on 127.0.0.1.
 *
 * Asking the kernel for port 0 hands out a port from the ephemeral range — the same range every
 * outgoing connection (gRPC channels, pg clients) takes its local port from. A port released by
 * such a probe and bound seconds later by a PostgreSQL that starts after its clone can meanwhile
 * be the local end of one of those connections: the server then fails with "address already in
 * use". So ports come from below the ephemeral range, starting at a random place (test files run
 * in parallel processes), are checked by binding them, and are never handed out twice by one
 * process.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const LOWEST_PORT = 20_000;
/** Linux's default ephemeral range starts at 32768; read it when the kernel tells. */
const DEFAULT_EPHEMERAL_START = 32_768;
/** A bound on the search: the range holds ~12 000 ports; most are free. */
const MAX_ATTEMPTS = 2_000;

const handedOut = new Set<number>();
let next = -1;

let ephemeralStartCache: number | null = null;

/** Read once per process (the range is a boot-time setting). */
function ephemeralStart(): number {
  if (ephemeralStartCache !== null) return ephemeralStartCache;
  let start = DEFAULT_EPHEMERAL_START;
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(first) && first > LOWEST_PORT + 1_000) start = first;
  } catch {
    // Not Linux, or /proc not mounted: the usual default.
  }
  ephemeralStartCache = start;
  return start;
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A port on 127.0.0.1 that is free now, below the ephemeral range, not handed out before here. */
export async function freePort(): Promise<number> {
  const end = ephemeralStart(); // exclusive
  const span = end - LOWEST_PORT;
  if (next < 0) next = LOWEST_PORT + Math.floor(Math.random() * span);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const port = next;
    next = LOWEST_PORT + ((next - LOWEST_PORT + 1) % span);
    if (handedOut.has(port)) continue;
    if (await canBind(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port found on 127.0.0.1 between ${LOWEST_PORT} and ${end - 1} after ${MAX_ATTEMPTS} attempts`);
}
