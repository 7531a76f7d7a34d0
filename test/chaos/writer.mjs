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
// argv[2]: JSON {host, port, user, password, database, table, firstId, pauseMs, connectMs, queryMs, maxMs}.
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

let client = null;
let id = Number(c.firstId ?? 1);
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
      application_name: 'chaos-writer',
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
  const myId = id++;
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
out({ t: 'end', at: Date.now(), nextId: id });
process.exit(0);
