import type { Prng } from '../core/prng.js';
import { SeededPrng, chance, randomBelow } from '../core/prng.js';
import { RaftCore } from '../core/raft.js';
import type { ConfChange, Message, NodeId } from '../core/types.js';
import { ConfChangeType, Role } from '../core/types.js';
import type { Durability } from './disk.js';
import { InvariantChecker } from './invariants.js';
import { SimNetwork } from './network.js';
import type { BugName, SimStats } from './options.js';
import { emptySimStats } from './options.js';
import type { ActionKind, Profile } from './schedule.js';
import type { NodeEnv } from './sim-node.js';
import { CRASH_POINTS, SimNode } from './sim-node.js';
import { checkNodes, deepCheckNodes } from './step-checks.js';
import { Trace } from './trace.js';
import type { TraceKind } from './trace.js';

/**
 * The simulated cluster: the nodes, the network, virtual time, the checker and the trace, and
 * one method per scheduler action. `sweep()` runs the per-step invariant checks.
 */

const encoder = new TextEncoder();
const MIN_VOTERS = 3;
/** Spare node ids available beyond the initial voters. */
const SPARE_IDS = 2;
/** Client backpressure: no new proposals while the leader has this many uncommitted entries. */
const MAX_OUTSTANDING = 16;
/** A node that granted a vote at most this many ticks ago counts as "just voted". */
const VOTE_CRASH_WINDOW = 3;
/** A removed node keeps running for up to this many steps after its removal commits. */
const MAX_RETIRE_DELAY_STEPS = 200;
/** Every this many steps, acked writes and state machines are checked on every live node. */
const DEEP_CHECK_EVERY = 50;

function durabilityFor(bug: BugName | null): Durability {
  if (bug === 'skip-vote-persist') return 'lose-vote';
  if (bug === 'ack-before-persist') return 'lazy';
  return 'sync';
}

export class SimCluster implements NodeEnv {
  readonly nodes = new Map<NodeId, SimNode>();
  readonly retired = new Set<NodeId>();
  /** Ids that may be added as learners (started or not). */
  private readonly spares: NodeId[] = [];
  private nextId: number;
  readonly net: SimNetwork<Message>;
  readonly checker = new InvariantChecker();
  readonly trace: Trace;
  time = 0;
  step = 0;
  private proposalSeq = 0;
  private readSeq = 0;
  private readonly removals: { node: NodeId; index: number; term: number; retireAt?: number }[] = [];
  private retireDelay = true;
  private readonly durability: Durability;
  /** Transport feedback waiting to be given to the senders (after the current action). */
  private readonly feedback: { from: NodeId; incarnation: number; to: NodeId; snapshot: boolean; ok: boolean }[] = [];
  /** When each node last granted a vote: crashes aim at that window now and then. */
  private readonly lastVoteGrant = new Map<NodeId, number>();
  readonly stats: SimStats = emptySimStats();

  constructor(
    readonly size: 3 | 5,
    readonly bug: BugName | null,
    readonly profile: Profile,
    private readonly prng: Prng,
    traceCapacity = 400,
  ) {
    this.trace = new Trace(traceCapacity);
    this.durability = durabilityFor(bug);
    this.net = new SimNetwork<Message>(new SeededPrng(prng.nextUint32()), { ...profile.network, maxQueue: 20_000 });
    this.net.onLoss = (message, reason) => {
      // A real transport notices a failed snapshot stream always, an unreachable peer sometimes.
      if (message.type === 'snap') this.queueFeedback(message, true, false);
      else if (reason === 'blocked' && message.type === 'app' && chance(this.prng, 0.3)) this.queueFeedback(message, false, false);
    };
    const voters: NodeId[] = [];
    for (let i = 1; i <= size; i++) voters.push(`n${i}`);
    for (let i = size + 1; i <= size + SPARE_IDS; i++) this.spares.push(`n${i}`);
    this.nextId = size + SPARE_IDS + 1;
    const initial = RaftCore.bootstrapState({ voters, learners: [] });
    for (const id of voters) {
      const passive = profile.passiveVoter && id === voters[voters.length - 1];
      this.nodes.set(id, new SimNode(id, initial, this.durability, passive ? { ...profile.raft, canCampaign: false } : profile.raft, this));
    }
    for (const node of this.nodes.values()) this.startNode(node);
  }

  // ---- NodeEnv ------------------------------------------------------------------------------

  send(message: Message): void {
    if (message.type === 'vote-resp' && !message.reject) {
      this.lastVoteGrant.set(message.from, this.time);
      this.checker.onVoteGranted(message.from, message.term, message.to);
    }
    this.net.send(message, this.time);
  }

  note(kind: TraceKind, node: NodeId, detail: string): void {
    this.trace.record(this.step, this.time, kind, node, null, detail);
    if (kind === 'crash') this.stats.crashes++;
    if (kind === 'snapshot' && detail.startsWith('installed')) this.stats.snapshotsInstalled++;
  }

  private queueFeedback(message: Message, snapshot: boolean, ok: boolean): void {
    const sender = this.nodes.get(message.from);
    if (sender === undefined || !sender.alive) return;
    this.feedback.push({ from: message.from, incarnation: sender.incarnation, to: message.to, snapshot, ok });
  }

  /** Gives queued transport feedback to its (still running) senders. */
  flushFeedback(): void {
    for (let guard = 0; this.feedback.length > 0; guard++) {
      if (guard > 100_000) throw new Error('flushFeedback: feedback loop');
      const item = this.feedback.shift()!;
      const node = this.nodes.get(item.from);
      if (node === undefined || !node.alive || node.incarnation !== item.incarnation) continue;
      if (item.snapshot) {
        this.note('snapshot', item.from, `transport reports snapshot to ${item.to} ${item.ok ? 'sent' : 'FAILED'}`);
        node.reportSnapshot(item.to, item.ok);
      } else {
        node.reportUnreachable(item.to);
      }
    }
  }

  // ---- queries ------------------------------------------------------------------------------

  liveNodes(): SimNode[] {
    const out: SimNode[] = [];
    for (const node of this.nodes.values()) if (node.alive) out.push(node);
    return out;
  }

  crashedNodes(): SimNode[] {
    const out: SimNode[] = [];
    for (const node of this.nodes.values()) if (!node.alive && !this.retired.has(node.id)) out.push(node);
    return out;
  }

  /** The live node that believes it leads the highest term, if any. */
  currentLeader(): SimNode | undefined {
    let best: SimNode | undefined;
    let bestTerm = -1;
    for (const node of this.nodes.values()) {
      if (!node.alive || node.role !== Role.Leader) continue;
      const term = node.raft.status().term;
      if (term > bestTerm) {
        best = node;
        bestTerm = term;
      }
    }
    return best;
  }

  private nodeNumber(id: NodeId): number {
    return Number(id.slice(1));
  }

  private randomOf<T>(items: readonly T[]): T | undefined {
    return items.length === 0 ? undefined : items[randomBelow(this.prng, items.length)];
  }

  private shuffled<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = randomBelow(this.prng, i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }

  // ---- actions ------------------------------------------------------------------------------

  perform(action: ActionKind): void {
    this.performAction(action);
    this.flushFeedback();
  }

  private performAction(action: ActionKind): void {
    switch (action) {
      case 'tick':
        return this.tickAll();
      case 'deliver':
        return this.deliverSome(1 + randomBelow(this.prng, 8));
      case 'propose':
        return this.propose();
      case 'crash':
        return this.crashOne();
      case 'restart':
        return this.restartOne();
      case 'partition':
        return this.partition();
      case 'heal':
        return this.heal();
      case 'conf-change':
        return this.confChange();
      case 'transfer':
        return this.transfer();
      case 'read':
        return this.read();
      case 'snapshot':
        return this.snapshot();
      case 'campaign':
        return this.campaign();
    }
  }

  tickAll(): void {
    this.time++;
    this.stats.ticks++;
    this.trace.record(this.step, this.time, 'tick', '');
    for (const node of this.shuffled(this.liveNodes())) {
      if (!node.alive) continue; // an armed crash may strike while ticking
      const skip = this.profile.tickSkip[this.nodeNumber(node.id) % this.profile.tickSkip.length] ?? 0;
      if (skip > 0 && chance(this.prng, skip)) continue; // a slow clock
      node.tick();
      if (this.durability === 'lazy' && node.alive && chance(this.prng, this.profile.lazySyncRate)) node.syncDisk();
    }
  }

  deliverSome(max: number): void {
    for (let k = 0; k < max; k++) {
      const message = this.net.takeNext(this.time);
      if (message === undefined) return;
      this.deliverOne(message);
    }
  }

  /** Delivers everything due now, including replies that become due at once. */
  deliverAllDue(): void {
    for (let guard = 0; guard < 1_000_000; guard++) {
      const message = this.net.takeNext(this.time);
      if (message === undefined) return;
      this.deliverOne(message);
    }
    throw new Error('deliverAllDue: message storm (1e6 deliveries in one tick)');
  }

  private deliverOne(message: Message): void {
    const node = this.nodes.get(message.to);
    if (node === undefined || !node.alive) {
      this.trace.record(this.step, this.time, 'drop-dead', message.to, message);
      this.stats.dropped++;
      if (message.type === 'snap') this.queueFeedback(message, true, false);
      return;
    }
    this.trace.record(this.step, this.time, 'deliver', message.to, message);
    this.stats.delivered++;
    node.deliver(message);
    if (message.type === 'snap') this.queueFeedback(message, true, true);
  }

  propose(): void {
    const leader = this.currentLeader();
    const node = leader !== undefined && chance(this.prng, 0.9) ? leader : this.randomOf(this.liveNodes());
    if (node === undefined) return;
    if (node === leader) {
      // Clients wait for answers: with MAX_OUTSTANDING entries uncommitted, nobody proposes.
      const status = leader.raft.status();
      if (status.lastIndex - status.commit >= MAX_OUTSTANDING) return;
    }
    const padding = chance(this.prng, this.profile.padding) ? randomBelow(this.prng, 48) : 0;
    this.proposeOn(node, 'p', padding);
  }

  /** Proposes a unique payload `<prefix><seq>` on `node`; returns the accepted entry or null. */
  proposeOn(node: SimNode, prefix: string, padding = 0): { index: number; term: number; data: Uint8Array } | null {
    const seq = ++this.proposalSeq;
    const payload = `${prefix}${seq}${padding > 0 ? `:${'x'.repeat(padding)}` : ''}`;
    const data = encoder.encode(payload);
    const result = node.propose(data, (index, term) => this.checker.onPropose({ seq, node: node.id, index, term, data }));
    this.stats.proposals++;
    const label = `${prefix}${seq}${padding > 0 ? `+${padding}B` : ''}`;
    this.note('propose', node.id, result.ok ? `${label} -> (${result.index},t${result.term})` : `${label} refused: ${result.reason}`);
    return result.ok ? { index: result.index, term: result.term, data } : null;
  }

  crashOne(): void {
    const candidates = this.liveNodes().filter((n) => !n.crashArmed);
    // Aim at a node that has just granted a vote: the window where a lost vote would matter.
    const voters = candidates.filter((n) => this.time - (this.lastVoteGrant.get(n.id) ?? -100) <= VOTE_CRASH_WINDOW);
    const node = voters.length > 0 && chance(this.prng, this.profile.voteCrash) ? this.randomOf(voters) : this.randomOf(candidates);
    if (node === undefined) return;
    const r = this.prng.nextUint32() / 0x1_0000_0000;
    if (r < this.profile.midReadyCrash) {
      const point = CRASH_POINTS[randomBelow(this.prng, CRASH_POINTS.length)]!;
      node.armCrash(point);
      this.note('crash-armed', node.id, point);
      return;
    }
    node.crash();
    this.note('crash', node.id, '');
    if (r < this.profile.midReadyCrash + this.profile.bounce) this.restart(node); // a quick process restart
  }

  restartOne(): void {
    const node = this.randomOf(this.crashedNodes());
    if (node !== undefined) this.restart(node);
  }

  restart(node: SimNode): void {
    this.stats.restarts++;
    const hs = node.disk.persistedState().hardState;
    this.note('restart', node.id, `disk term=${hs.term} vote=${hs.vote || '-'} commit=${hs.commit} snap=${node.disk.snapIndex()} last=${node.disk.lastIndex()}`);
    this.startNode(node);
  }

  private startNode(node: SimNode): void {
    node.start(new SeededPrng(this.prng.nextUint32()));
  }

  /** Ids that take part in partitions: every node that is not retired. */
  private activeIds(): NodeId[] {
    const ids: NodeId[] = [];
    for (const node of this.nodes.values()) if (!this.retired.has(node.id)) ids.push(node.id);
    return ids;
  }

  partition(): void {
    const ids = this.shuffled(this.activeIds());
    if (ids.length < 2) return;
    const kind = randomBelow(this.prng, 4);
    if (kind === 0) {
      const cut = 1 + randomBelow(this.prng, ids.length - 1);
      this.net.partition([ids.slice(0, cut), ids.slice(cut)]);
    } else if (kind === 1) {
      this.net.isolate(ids[0]!);
    } else if (kind === 2) {
      // one node can send but not receive (or the reverse)
      const others = ids.slice(1);
      if (chance(this.prng, 0.5)) this.net.cutOneWay([ids[0]!], others);
      else this.net.cutOneWay(others, [ids[0]!]);
    } else {
      // a few random one-way links
      const links = 1 + randomBelow(this.prng, 3);
      for (let k = 0; k < links; k++) {
        const a = this.randomOf(ids)!;
        const b = this.randomOf(ids)!;
        this.net.block(a, b);
      }
    }
    this.stats.partitions++;
    this.note('partition', '', this.net.describeBlocks());
  }

  heal(): void {
    this.net.heal();
    this.note('heal', '', '');
  }

  confChange(): void {
    const leader = this.currentLeader();
    if (leader === undefined) return;
    const conf = leader.raft.status().conf;
    const members = [...conf.voters, ...conf.learners];
    const options: ConfChange[] = [];
    if (members.length < this.size + SPARE_IDS) {
      for (const id of this.spares) if (!members.includes(id)) options.push({ type: ConfChangeType.AddLearner, node: id });
    }
    for (const id of conf.learners) options.push({ type: ConfChangeType.PromoteLearner, node: id });
    for (const id of conf.learners) if (id !== leader.id) options.push({ type: ConfChangeType.RemoveNode, node: id });
    if (conf.voters.length > MIN_VOTERS) {
      for (const id of conf.voters) if (id !== leader.id) options.push({ type: ConfChangeType.RemoveNode, node: id });
    }
    const change = this.randomOf(options);
    if (change === undefined) return;
    if (change.type === ConfChangeType.AddLearner && !this.nodes.has(change.node)) {
      // start the new server first, empty, then add it
      const node = new SimNode(change.node, RaftCore.bootstrapState({ voters: [], learners: [] }), this.durability, this.profile.raft, this);
      this.nodes.set(change.node, node);
      this.note('start', change.node, 'new empty node');
      this.startNode(node);
    }
    const result = leader.proposeConfChange(change);
    this.note('conf', leader.id, `${change.type} ${change.node}: ${result.ok ? `(${result.index},t${result.term})` : `refused: ${result.reason}`}`);
    if (!result.ok) return;
    this.stats.confChanges++;
    if (change.type === ConfChangeType.RemoveNode) this.removals.push({ node: change.node, index: result.index, term: result.term });
  }

  transfer(): void {
    const leader = this.currentLeader();
    if (leader === undefined) return;
    const target = this.randomOf(leader.raft.status().conf.voters.filter((id) => id !== leader.id));
    if (target === undefined) return;
    const result = leader.transferLeadership(target);
    if (result.ok) this.stats.transfers++;
    this.note('transfer', leader.id, `to ${target}: ${result.ok ? 'started' : `refused: ${result.reason}`}`);
  }

  read(): void {
    const node = this.randomOf(this.liveNodes());
    if (node === undefined) return;
    const context = encoder.encode(`r${++this.readSeq}`);
    this.checker.onReadRequest(node.id, context);
    const result = node.readIndex(context);
    this.note('read', node.id, `r${this.readSeq}${result.ok ? '' : ` refused: ${result.reason}`}`);
  }

  snapshot(): void {
    const node = this.randomOf(this.liveNodes());
    if (node === undefined) return;
    if (node.compact()) {
      this.stats.snapshotsCreated++;
      this.note('snapshot', node.id, `compacted at ${node.disk.snapIndex()}`);
    }
  }

  campaign(): void {
    const node = this.randomOf(this.liveNodes());
    if (node === undefined) return;
    const result = node.campaign();
    this.note('campaign', node.id, result.ok ? 'started' : `refused: ${result.reason}`);
  }

  // ---- per-step checks ----------------------------------------------------------------------

  /** Invariant checks after every step. */
  sweep(): void {
    const maxTerm = checkNodes(this.checker, this.nodes.values());
    if (maxTerm > this.stats.maxTerm) this.stats.maxTerm = maxTerm;
    this.retireRemoved();
    if (this.step % DEEP_CHECK_EVERY === 0) this.deepCheck();
  }

  /** Acked writes on every live log, and every state machine against the history. */
  deepCheck(): void {
    deepCheckNodes(this.checker, this.nodes.values());
  }

  /**
   * A node whose removal is committed keeps running for a random while (as a real one would
   * until an operator stops it), then is shut down for good; its id is never reused.
   */
  private retireRemoved(): void {
    for (let k = 0; k < this.removals.length; k++) {
      const removal = this.removals[k]!;
      if (removal.retireAt === undefined) {
        const committed = this.checker.committedEntry(removal.index);
        if (committed === undefined) continue;
        if (committed.term !== removal.term || this.retired.has(removal.node) || !this.nodes.has(removal.node)) {
          this.removals.splice(k--, 1);
          continue;
        }
        removal.retireAt = this.step + (this.retireDelay ? randomBelow(this.prng, MAX_RETIRE_DELAY_STEPS) : 0);
        const spare = this.spares.indexOf(removal.node);
        if (spare >= 0) this.spares.splice(spare, 1);
        this.spares.push(`n${this.nextId++}`);
        this.note('conf', removal.node, `removal (${removal.index},t${removal.term}) committed; stops at step ${removal.retireAt}`);
      }
      if (this.retireDelay && removal.retireAt > this.step) continue;
      this.removals.splice(k--, 1);
      const node = this.nodes.get(removal.node)!;
      if (node.alive) node.crash();
      this.retired.add(removal.node);
      this.note('retire', removal.node, 'stopped for good');
    }
  }

  /** From now on removed nodes stop as soon as their removal is committed. */
  retireRemovedNow(): void {
    this.retireDelay = false;
    this.retireRemoved();
  }

  /** Final state folded into the digest. */
  describeNodes(): string[] {
    const out: string[] = [];
    for (const node of this.nodes.values()) {
      if (!node.alive) {
        out.push(`${node.id}: ${this.retired.has(node.id) ? 'retired' : 'down'} disk(term=${node.disk.hardState.term} commit=${node.disk.hardState.commit} snap=${node.disk.snapIndex()} last=${node.disk.lastIndex()})`);
        continue;
      }
      const s = node.raft.status();
      out.push(
        `${node.id}: ${s.role} term=${s.term} vote=${s.vote || '-'} leader=${s.leader || '-'} commit=${s.commit} applied=${s.applied} log=${s.firstIndex}..${s.lastIndex} voters=${s.conf.voters.join(',')} learners=${s.conf.learners.join(',')} sm=${node.sm.current.count}/${node.sm.current.hash.toString(16)}`,
      );
    }
    return out;
  }
}
