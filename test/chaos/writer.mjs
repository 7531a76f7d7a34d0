// The chaos workload: run inside the lab's client namespace (lab.spawn), it writes continuously
// through the VIP over TCP as a role with a password, one row per statement with unique,
// increasing ids, and prints one JSON line per outcome on stdout:
//
//   {"t":"ack","id":7,"sent":…,"ack":…,"sys":"7312…","tl":2,"epoch":5}
//   {"t":"err","id":8,"sent":…,"at":…,"msg":"…"}        (in doubt: may or may not have committed)
//   {"t":"conn","at":…,"msg":"…"}                         (could not connect; no id used)
//
// `sent`/`ack`/`at` are Date.now() (the host's wall clock, which every namespace shares, as do
// the members' pino `time` fields). The server identity — system identifier, timeline (from the
// name of the current WAL file) and max(epoch) of hubha.promotions — is read in the INSERT's own
// RETURNING clause: the very statement that was acknowledged.
//
// argv[2]: JSON {host, port, user, password, database, table, firstId, loops, pauseMs, connectMs, queryMs, maxMs}.
// `loops` writers run concurrently, each on its own connection; ids come from one counter.
// Stops on SIGTERM/SIGINT or after maxMs (bounded, whatever happens), then exits.
import pg from 'pg';

const c = JSON.parse(process.argv[2] ?? '{}');
const maxMs = Number(c.maxMs ?? 600_000);
const pauseMs = Number(c.pauseMs ?? 2);
const started = Date.now();
let stopped = false;
process.on('SIGTERM', () => (stopped = true));
process.on('SIGINT', () => (stopped = true));

const SQL = `INSERT INTO ${c.table} (id) VALUES ($1) RETURNING
  (SELECT system_identifier::text FROM pg_control_system()) AS sys,
  pg_walfile_name(pg_current_wal_lsn()) AS wal,
  (SELECT max(epoch)::text FROM hubha.promotions) AS epoch`;

const out = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const short = (err) => String(err?.message ?? err).slice(0, 200);

/** Ends a client without waiting for a server that may never answer (a fenced or frozen one). */
function drop(client) {
  client.removeAllListeners('error');
  client.on('error', () => undefined);
  try {
    client.connection?.stream?.destroy();
  } catch {
    /* gone */
  }
}

const loops = Math.max(1, Math.min(16, Number(c.loops ?? 1)));
let nextIndex = 0;

/** One writer loop: its own connection, ids firstId + k·loops + index (unique across loops). */
async function loop(index) {
  let client = null;
  while (!stopped && Date.now() - started < maxMs) {
    if (client === null) {
      const candidate = new pg.Client({
        host: c.host,
        port: c.port,
        user: c.user,
        password: c.password,
        database: c.database ?? 'postgres',
        connectionTimeoutMillis: c.connectMs ?? 1000,
        query_timeout: c.queryMs ?? 2000,
        application_name: `chaos-writer-${index}`,
      });
      candidate.on('error', () => undefined);
      try {
        await candidate.connect();
        client = candidate;
      } catch (err) {
        drop(candidate);
        out({ t: 'conn', at: Date.now(), msg: short(err) });
        await sleep(50);
        continue;
      }
    }
    const myId = Number(c.firstId ?? 1) + nextIndex++;
    const sent = Date.now();
    try {
      const res = await client.query(SQL, [myId]);
      const ack = Date.now();
      const row = res.rows[0];
      out({ t: 'ack', id: myId, sent, ack, sys: row.sys, tl: parseInt(String(row.wal).slice(0, 8), 16), epoch: row.epoch === null ? null : Number(row.epoch) });
    } catch (err) {
      out({ t: 'err', id: myId, sent, at: Date.now(), msg: short(err) });
      drop(client);
      client = null;
      await sleep(20);
      continue;
    }
    if (pauseMs > 0) await sleep(pauseMs);
  }
  if (client !== null) drop(client);
}

await Promise.all(Array.from({ length: loops }, (_, i) => loop(i)));
out({ t: 'end', at: Date.now(), nextId: Number(c.firstId ?? 1) + nextIndex });
process.exit(0);
