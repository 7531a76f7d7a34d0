// The store observer, run inside the lab's client namespace (lab.spawn): one CoordClient, asked
// over stdin with one JSON line per request, answering one JSON line per request on stdout.
//
//   {"id":1,"op":"state"}   -> {"id":1,"ok":true,"value":{"active":…|null,"sync":…|null,"lease":…|null}}
//   {"id":3,"op":"transfer","target":"witness"} -> Raft leadership handed to target
//   {"id":2,"op":"leaders"} -> {"id":2,"ok":true,"value":[{"member":"hub1","role":"follower","term":3,"leader":"witness"}|{"member":…,"error":…}]}
//
// argv[2]: JSON {"endpoints":["10.77.5.11:4001",…],"members":{"hub1":"10.77.5.11:4001",…}}.
// Ends when stdin closes (the parent ended) or after maxMs (bounded, whatever happens).
import { createInterface } from 'node:readline';
import { ACTIVE_HUB_KEY, ACTIVE_HUB_LEASE, SYNC_STANDBY_KEY, CoordClient } from '@hubha/coord';

const config = JSON.parse(process.argv[2] ?? '{}');
const maxMs = Number(config.maxMs ?? 3_600_000);
const client = await CoordClient.connect({ endpoints: config.endpoints, requestTimeoutMs: 2000, attemptTimeoutMs: 700 });
const session = client.session('chaos-observer');

function decode(kv) {
  if (kv === null || kv === undefined) return null;
  try {
    return JSON.parse(Buffer.from(kv.value).toString('utf8'));
  } catch {
    return { unreadable: true };
  }
}

async function state() {
  const [active, sync, leases] = await Promise.all([
    session.get(ACTIVE_HUB_KEY, { timeoutMs: 1500 }),
    session.get(SYNC_STANDBY_KEY, { timeoutMs: 1500 }),
    session.leaseList(ACTIVE_HUB_LEASE, { timeoutMs: 1500 }),
  ]);
  const found = leases.leases.find((l) => l.lease.name === ACTIVE_HUB_LEASE);
  return {
    active: decode(active.kv),
    sync: decode(sync.kv),
    lease: found === undefined ? null : { holder: found.lease.holder, epoch: Number(found.lease.epoch), remainingMs: found.remainingMs },
  };
}

async function leaders() {
  return Promise.all(
    Object.entries(config.members ?? {}).map(async ([member, endpoint]) => {
      try {
        const s = await session.status(endpoint, { timeoutMs: 800 });
        return { member, role: s.role, term: Number(s.header.raftTerm), leader: s.header.leader || null };
      } catch (err) {
        return { member, error: String(err?.message ?? err).slice(0, 200) };
      }
    }),
  );
}

async function transfer(req) {
  const res = await session.transferLeader(String(req.target ?? ''), { timeoutMs: 3000 });
  return { ok: res.ok ?? true };
}

const ops = { state, leaders, transfer };
let pending = 0;
let closing = false;
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let req;
  try {
    req = JSON.parse(line);
  } catch {
    return;
  }
  const op = ops[req.op];
  pending++;
  (op === undefined ? Promise.reject(new Error(`unknown op ${req.op}`)) : op(req))
    .then(
      (value) => process.stdout.write(`${JSON.stringify({ id: req.id, ok: true, value })}\n`),
      (err) => process.stdout.write(`${JSON.stringify({ id: req.id, ok: false, error: String(err?.message ?? err).slice(0, 300) })}\n`),
    )
    .finally(() => {
      pending--;
      if (closing && pending === 0) void finish();
    });
});
rl.on('close', () => {
  closing = true;
  if (pending === 0) void finish();
});
const deadline = setTimeout(() => void finish(), maxMs);
deadline.unref();

async function finish() {
  await client.close().catch(() => undefined);
  process.exit(0);
}
