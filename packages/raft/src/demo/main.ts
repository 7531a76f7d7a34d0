/**
 * `npm start` until the hub sidecar lands: three Raft cores in this process, driven by a real
 * 100 ms tick, electing a leader, replicating proposals, losing the leader and electing again.
 * It exercises the same core the simulator checks; there is no PostgreSQL here yet.
 */
import { TestCluster } from '../testing/cluster.js';

const TICK_MS = 100;
const ids = ['hub1', 'hub2', 'witness'];
const cluster = new TestCluster(ids, { electionTimeoutTicks: 10, heartbeatIntervalTicks: 1 }, Date.now() & 0xffff);

function log(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), event, ...fields })}\n`);
}

let ticks = 0;
let proposals = 0;
let killed: string | undefined;
let lastLeader: string | undefined;
let restartedAtTick: number | undefined;

const timer = setInterval(() => {
  ticks++;
  cluster.tickAll();
  cluster.stabilize();
  const leader = cluster.leader();
  if (leader !== lastLeader) {
    log('leader', { leader: leader ?? null, term: leader === undefined ? null : cluster.core(leader).status().term, afterMs: ticks * TICK_MS });
    lastLeader = leader;
  }
  if (leader !== undefined && ticks % 5 === 0 && proposals < 12) {
    const result = cluster.propose(leader, `entry-${++proposals}`);
    if (result.ok) log('proposed', { leader, index: result.index, term: result.term });
  }
  if (leader !== undefined && proposals === 6 && killed === undefined) {
    killed = leader;
    cluster.crash(leader);
    log('crashed', { node: leader, note: 'the other two elect a new leader within about two election timeouts' });
  }
  if (proposals >= 12 && killed !== undefined) {
    cluster.restart(killed);
    log('restarted', { node: killed, note: 'it catches up from the leader' });
    killed = undefined;
    restartedAtTick = ticks;
  }
  if (restartedAtTick !== undefined && ticks === restartedAtTick + 10) {
    for (const id of ids) {
      const status = cluster.core(id).status();
      log('status', { node: id, role: status.role, term: status.term, commit: status.commit, applied: cluster.node(id).applied.length });
    }
    log('done', { note: 'the real local cluster (two hubs with PostgreSQL plus a witness) arrives with the hub sidecar' });
    clearInterval(timer);
  }
}, TICK_MS);

process.on('SIGINT', () => {
  clearInterval(timer);
  process.exit(0);
});
