/**
 * Small Node programs run inside lab namespaces (`node -e`), so that tests can measure the
 * network from a host's point of view: a TCP responder that answers with a fixed text, and a
 * prober that connects to several targets at once, each with a timeout.
 */

/** argv: [port, reply]. Prints "listening" once bound on 0.0.0.0:port; answers `reply` and closes. */
export const RESPONDER_JS = `
const net = require('node:net');
const [port, reply] = process.argv.slice(1);
const server = net.createServer((s) => { s.on('error', () => {}); s.end(reply); });
server.on('error', (e) => { console.error(String(e)); process.exit(2); });
server.listen(Number(port), '0.0.0.0', () => console.log('listening'));
process.on('SIGTERM', () => process.exit(0));
`;

/**
 * A prober, run as a long-running process per host: one JSON request per stdin line
 * ({id, targets, timeoutMs}), one JSON answer per stdout line ({id, results}). Saves a Node start
 * per probe, which matters for tests that probe often.
 */
export const PROBER_JS = `
const net = require('node:net');
const readline = require('node:readline');
const one = (t, timeoutMs) => new Promise((resolve) => {
  const t0 = Date.now();
  let connected = false, reply = '', done = false;
  const s = net.connect({ host: t.address, port: t.port });
  const finish = (r) => { if (done) return; done = true; clearTimeout(timer); s.destroy(); resolve({ address: t.address, port: t.port, ms: Date.now() - t0, ...r }); };
  const timer = setTimeout(() => finish(connected ? { ok: true, reply } : { ok: false, error: 'timeout' }), timeoutMs);
  s.on('connect', () => { connected = true; });
  s.setEncoding('utf8');
  s.on('data', (d) => { reply += d; });
  s.on('end', () => finish({ ok: true, reply }));
  s.on('error', (e) => finish(connected ? { ok: true, reply } : { ok: false, error: e.code || String(e) }));
});
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const { id, targets, timeoutMs } = JSON.parse(line);
  Promise.all(targets.map((t) => one(t, timeoutMs))).then((results) => process.stdout.write(JSON.stringify({ id, results }) + '\\n'));
}).on('close', () => process.exit(0));
`;

export interface TcpTarget {
  readonly address: string;
  readonly port: number;
}

export interface TcpProbeResult {
  readonly address: string;
  readonly port: number;
  /** Connected (a SYN-ACK came back). */
  readonly ok: boolean;
  /** What the server sent before closing (or before the timeout). */
  readonly reply?: string;
  /** 'timeout', 'ECONNREFUSED', 'EHOSTUNREACH', … */
  readonly error?: string;
  readonly ms: number;
}
