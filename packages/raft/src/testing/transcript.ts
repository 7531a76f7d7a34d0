/**
 * Data-driven ("transcript") tests in the style of etcd-io/raft's testdata/: a file of commands,
 * each followed by the output it must produce. The runner drives a TestCluster one step at a time
 * and prints every Ready and every delivered message in a compact, deterministic form, so a
 * behaviour change shows up as a readable diff of the transcript.
 *
 * File format:
 *   # comment lines stating the property the file tests (the file must open with them)
 *   <blank line>
 *   > command args...
 *   expected output line
 *   ...
 *   <blank line>
 *   > next command
 *   ...
 * A block may be preceded by its own `#` comment lines. Output lines never start with `>` or `#`
 * and are never blank.
 *
 * Commands (ids are node names; the transcripts use 1, 2, 3, ...):
 *   add-nodes N [voters=1,2,3] [learners=..] [pre-vote=true] [check-quorum=true]
 *               [can-campaign=false] [election=10] [heartbeat=1] [max-msg-bytes=N]
 *               [max-inflight=N] [max-uncommitted-bytes=N] [log=1,1,4 [term=T] [commit=C]]
 *       Adds N nodes with the next free numeric ids, from RaftCore.bootstrapState (so a fresh
 *       3-voter cluster starts with six committed term-1 ConfChange entries and first elects
 *       in term 2), and applies what that state says is committed. Without voters=, the first
 *       add-nodes makes the new nodes the voters and a later one adds empty nodes (to be added
 *       by conf change). log= instead gives a handcrafted history (see initialState).
 *       pre-vote and check-quorum default to false here (the library defaults to true) so that
 *       each transcript says what it relies on.
 *   campaign ID | tick ID [N] | tick-all [N]
 *   propose ID TEXT | propose-conf-change ID add-learner|promote-learner|remove-node NODE
 *   transfer-leadership FROM TO | read-index ID CTX
 *   process-ready [ID...]   one Ready of each named (default: every) node
 *   deliver-msgs [ID...] [from=ID] [type=T] [drop]   queued messages to ID (default: all)
 *   stabilize [ID...]       Ready/deliver rounds until nothing moves; prints everything
 *   isolate ID | cut FROM TO | partition 1,2 3,4,5 | heal
 *   crash ID | restart ID
 *   status ID | log ID [FROM] | raft-state | applied ID | compact ID INDEX
 *   report-unreachable FROM TO
 */
import type { RaftStatus } from '../core/raft.js';
import type { ConfChangeType, Entry, Message, NodeId, PersistedState, Ready, Snapshot } from '../core/types.js';
import { EntryType, MessageType } from '../core/types.js';
import { decodeConfChange } from '../core/confchange.js';
import { isTransferContext } from '../core/messages.js';
import type { ClusterConfig } from './cluster.js';
import { TestCluster } from './cluster.js';
import { RaftCore } from '../core/raft.js';

const decoder = new TextDecoder();
const encoder = new TextEncoder();

// ------------------------------------------------------------------ formatting

function quote(bytes: Uint8Array): string {
  return JSON.stringify(decoder.decode(bytes));
}

export function formatEntry(e: Entry): string {
  if (e.type === EntryType.ConfChange) {
    const change = decodeConfChange(e.data);
    return `${e.index}/${e.term} conf(${change === null ? `invalid ${quote(e.data)}` : `${change.type} ${change.node}`})`;
  }
  return `${e.index}/${e.term} ${e.data.length === 0 ? 'empty' : quote(e.data)}`;
}

function formatConf(conf: { readonly voters: readonly NodeId[]; readonly learners: readonly NodeId[] }): string {
  return `voters=(${conf.voters.join(' ')}) learners=(${conf.learners.join(' ')})`;
}

function formatSnapshot(s: Snapshot): string {
  return `${s.meta.index}/${s.meta.term} ${formatConf(s.meta.conf)} data=${quote(s.data)}`;
}

/** One message on one line, with only the fields its type uses. */
export function formatMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  const ctx = m.context.length > 0 ? ` ctx=${quote(m.context)}` : '';
  switch (m.type) {
    case MessageType.App:
      return `${head} prev=${m.index}/${m.logTerm} commit=${m.commit} entries=[${m.entries.map(formatEntry).join(', ')}]`;
    case MessageType.AppResp:
      return m.reject ? `${head} reject index=${m.index} hint=${m.rejectHint}/${m.logTerm}` : `${head} index=${m.index}`;
    case MessageType.Vote:
    case MessageType.PreVote:
      return `${head} last=${m.index}/${m.logTerm}${isTransferContext(m.context) ? ' transfer' : ''}`;
    case MessageType.VoteResp:
    case MessageType.PreVoteResp:
      return `${head} ${m.reject ? 'rejected' : 'granted'}`;
    case MessageType.Heartbeat:
      return `${head} commit=${m.commit}${ctx}`;
    case MessageType.HeartbeatResp:
      return `${head}${ctx}`;
    case MessageType.Snap:
      return `${head} snap=${m.snapshot === null ? 'none' : formatSnapshot(m.snapshot)}`;
    case MessageType.TimeoutNow:
      return head;
    case MessageType.ReadIndex:
      return `${head}${ctx}`;
    case MessageType.ReadIndexResp:
      return `${head} index=${m.index}${ctx}`;
  }
}

/** A Ready, one item per line, indented under "ready ID:". */
export function formatReady(id: NodeId, rd: Ready): string[] {
  const out = [`ready ${id}:`];
  if (rd.softState !== null) out.push(`  soft: ${rd.softState.role} leader=${rd.softState.leader || 'none'}`);
  if (rd.hardState !== null) out.push(`  hard: term=${rd.hardState.term} vote=${rd.hardState.vote || 'none'} commit=${rd.hardState.commit}`);
  if (rd.snapshot !== null) out.push(`  snapshot: ${formatSnapshot(rd.snapshot)}`);
  for (const e of rd.entries) out.push(`  entry: ${formatEntry(e)}`);
  for (const m of rd.messagesNow) out.push(`  send: ${formatMessage(m)}`);
  for (const m of rd.messagesAfterPersist) out.push(`  send-after-persist: ${formatMessage(m)}`);
  for (const e of rd.committedEntries) out.push(`  apply: ${formatEntry(e)}`);
  for (const r of rd.readStates) out.push(`  read-state: index=${r.index} ctx=${quote(r.context)}`);
  return out;
}

function formatStatusLine(s: RaftStatus): string {
  return `${s.id}: ${s.role} term=${s.term} vote=${s.vote || 'none'} leader=${s.leader || 'none'} commit=${s.commit} applied=${s.applied}`;
}

// ------------------------------------------------------------------ parsing

export interface TranscriptBlock {
  /** 1-based line of the `>` command line. */
  readonly line: number;
  readonly comments: readonly string[];
  readonly command: string;
  readonly expected: readonly string[];
}

export interface ParsedTranscript {
  readonly header: readonly string[];
  readonly blocks: readonly TranscriptBlock[];
}

/** A malformed transcript or an unknown command: a broken test, not a behaviour to record. */
export class TranscriptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TranscriptError';
  }
}

export function parseTranscript(text: string): ParsedTranscript {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  let i = 0;
  const header: string[] = [];
  while (i < lines.length && lines[i]!.startsWith('#')) header.push(lines[i++]!);
  const blocks: TranscriptBlock[] = [];
  while (i < lines.length) {
    if (lines[i]!.trim() === '') {
      i++;
      continue;
    }
    const comments: string[] = [];
    while (i < lines.length && lines[i]!.startsWith('#')) comments.push(lines[i++]!);
    const commandLine = lines[i];
    if (commandLine === undefined || !commandLine.startsWith('> ')) {
      throw new TranscriptError(`line ${i + 1}: expected "> command" (comments must directly precede their command), got ${JSON.stringify(commandLine ?? "<end of file>")}`);
    }
    const line = i + 1;
    i++;
    const expected: string[] = [];
    while (i < lines.length && lines[i]!.trim() !== '') {
      if (lines[i]!.startsWith('> ')) throw new TranscriptError(`line ${i + 1}: a command must be preceded by a blank line`);
      expected.push(lines[i++]!);
    }
    blocks.push({ line, comments, command: commandLine.slice(2).trim(), expected });
  }
  return { header, blocks };
}

// ------------------------------------------------------------------ the environment

interface Args {
  readonly positional: string[];
  readonly named: Map<string, string>;
  readonly flags: Set<string>;
}

function parseArgs(tokens: readonly string[]): Args {
  const positional: string[] = [];
  const named = new Map<string, string>();
  const flags = new Set<string>();
  for (const token of tokens) {
    const eq = token.indexOf('=');
    if (eq > 0) named.set(token.slice(0, eq), token.slice(eq + 1));
    else if (token === 'drop') flags.add(token);
    else positional.push(token);
  }
  return { positional, named, flags };
}

function list(value: string | undefined): NodeId[] | undefined {
  if (value === undefined) return undefined;
  return value.split(',').filter((s) => s.length > 0);
}

function bool(name: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new TranscriptError(`${name} must be true or false, got ${value}`);
}

function int(name: string, value: string | undefined): number {
  const n = value === undefined ? NaN : Number(value);
  if (!Number.isSafeInteger(n)) throw new TranscriptError(`${name} must be an integer, got ${String(value)}`);
  return n;
}

function refusal(r: { readonly ok: false; readonly reason: string; readonly leader: NodeId }): string {
  return `refused: ${r.reason} (leader=${r.leader || 'none'})`;
}

/** The state a transcript runs against: a TestCluster driven one step at a time. */
export class TranscriptEnv {
  readonly cluster = new TestCluster([], {}, 1);
  private nextId = 1;

  /** Runs one command line (without the "> "), returning its output lines. */
  run(commandLine: string): string[] {
    const [name, ...rest] = commandLine.split(/\s+/).filter((t) => t.length > 0);
    if (name === undefined) throw new TranscriptError('empty command');
    const handler = this.commands[name];
    if (handler === undefined) throw new TranscriptError(`unknown command ${JSON.stringify(name)}`);
    try {
      const out = handler(rest);
      return out.length === 0 ? ['ok'] : out;
    } catch (error) {
      if (error instanceof TranscriptError) throw error;
      const e = error instanceof Error ? error : new Error(String(error));
      return [`error: ${e.name}: ${e.message}`];
    }
  }

  private readonly commands: Record<string, (tokens: string[]) => string[]> = {
    'add-nodes': (t) => this.addNodes(parseArgs(t)),
    campaign: (t) => {
      const r = this.core(this.one(t)).campaign();
      return [r.ok ? 'ok' : refusal(r)];
    },
    tick: (t) => {
      const a = parseArgs(t);
      const id = a.positional[0] ?? this.fail('tick ID [N]');
      const n = a.positional[1] === undefined ? 1 : int('N', a.positional[1]);
      return this.watch(() => this.cluster.tick(id, n));
    },
    'tick-all': (t) => {
      const n = t[0] === undefined ? 1 : int('N', t[0]);
      return this.watch(() => this.cluster.tickAll(n));
    },
    propose: (t) => {
      const [id, ...words] = t;
      if (id === undefined || words.length === 0) this.fail('propose ID TEXT');
      const r = this.core(id).propose(encoder.encode(words.join(' ')));
      return [r.ok ? `ok index=${r.index} term=${r.term}` : refusal(r)];
    },
    'propose-conf-change': (t) => {
      const [id, type, node] = t;
      if (id === undefined || type === undefined || node === undefined) this.fail('propose-conf-change ID TYPE NODE');
      if (!['add-learner', 'promote-learner', 'remove-node'].includes(type)) throw new TranscriptError(`unknown conf change type ${type}`);
      const r = this.core(id).proposeConfChange({ type: type as ConfChangeType, node });
      return [r.ok ? `ok index=${r.index} term=${r.term}` : refusal(r)];
    },
    'transfer-leadership': (t) => {
      const [from, to] = t;
      if (from === undefined || to === undefined) this.fail('transfer-leadership FROM TO');
      const r = this.core(from).transferLeadership(to);
      return [r.ok ? 'ok' : refusal(r)];
    },
    'read-index': (t) => {
      const [id, ctx] = t;
      if (id === undefined || ctx === undefined) this.fail('read-index ID CTX');
      const r = this.core(id).readIndex(encoder.encode(ctx));
      return [r.ok ? 'ok' : refusal(r)];
    },
    'process-ready': (t) => {
      const ids = t.length > 0 ? t : this.ids();
      const out: string[] = [];
      for (const id of ids) {
        const rd = this.cluster.processReady(id);
        if (rd !== null) out.push(...formatReady(id, rd));
      }
      return out.length === 0 ? ['no ready'] : out;
    },
    'deliver-msgs': (t) => {
      const a = parseArgs(t);
      const filter = this.messageFilter(a);
      const drop = a.flags.has('drop');
      const out: string[] = [];
      for (const m of this.cluster.takeMessages(filter)) {
        if (drop) {
          this.cluster.delivered.push(m);
          out.push(`dropped: ${formatMessage(m)}`);
        } else out.push(this.deliverOne(m));
      }
      return out.length === 0 ? ['no messages'] : out;
    },
    stabilize: (t) => this.stabilize(t),
    isolate: (t) => {
      this.cluster.isolate(this.one(t));
      return ['ok'];
    },
    cut: (t) => {
      const [from, to] = t;
      if (from === undefined || to === undefined) this.fail('cut FROM TO');
      this.cluster.cutLink(from, to);
      return ['ok'];
    },
    partition: (t) => {
      if (t.length < 2) this.fail('partition A,B C,D ...');
      this.cluster.partition(...t.map((g) => list(g) ?? []));
      return ['ok'];
    },
    heal: () => {
      this.cluster.heal();
      return ['ok'];
    },
    crash: (t) => {
      const id = this.one(t);
      this.cluster.node(id);
      this.cluster.crash(id);
      return ['ok'];
    },
    restart: (t) => {
      const id = this.one(t);
      this.cluster.restart(id);
      const s = this.core(id).status();
      return [`${formatStatusLine(s)} last=${s.lastIndex} ${formatConf(s.conf)}`];
    },
    status: (t) => this.status(this.one(t)),
    log: (t) => this.log(this.one(t), t[1] === undefined ? 0 : int('FROM', t[1])),
    'raft-state': () => this.ids().map((id) => (this.cluster.node(id).crashed ? `${id}: crashed` : formatStatusLine(this.core(id).status()))),
    applied: (t) => {
      const node = this.cluster.node(this.one(t));
      return [`${node.id}: state=[${node.state.join(', ')}]`, `${node.id}: reads=[${node.reads.join(', ')}]`];
    },
    compact: (t) => {
      const [id, index] = t;
      if (id === undefined) this.fail('compact ID INDEX');
      const snap = this.cluster.compact(id, int('INDEX', index));
      const s = this.core(id).status();
      return [`${id}: snapshot ${formatSnapshot(snap)} first=${s.firstIndex} last=${s.lastIndex}`];
    },
    'report-unreachable': (t) => {
      const [from, to] = t;
      if (from === undefined || to === undefined) this.fail('report-unreachable FROM TO');
      this.core(from).reportUnreachable(to);
      return ['ok'];
    },
  };

  private fail(usage: string): never {
    throw new TranscriptError(`usage: ${usage}`);
  }

  private one(tokens: readonly string[]): NodeId {
    const id = tokens[0];
    if (id === undefined) this.fail('command ID');
    return id;
  }

  private ids(): NodeId[] {
    return [...this.cluster.nodes.keys()];
  }

  private core(id: NodeId): RaftCore {
    return this.cluster.core(id);
  }

  private addNodes(a: Args): string[] {
    const n = int('N', a.positional[0]);
    const ids = Array.from({ length: n }, () => String(this.nextId++));
    const first = this.cluster.nodes.size === 0;
    const voters = list(a.named.get('voters')) ?? (first ? ids : []);
    const learners = list(a.named.get('learners')) ?? [];
    const config: { -readonly [K in keyof ClusterConfig]: ClusterConfig[K] } = {
      preVote: bool('pre-vote', a.named.get('pre-vote')) ?? false,
      checkQuorum: bool('check-quorum', a.named.get('check-quorum')) ?? false,
    };
    const canCampaign = bool('can-campaign', a.named.get('can-campaign'));
    if (canCampaign !== undefined) config.canCampaign = canCampaign;
    const numeric: [string, 'electionTimeoutTicks' | 'heartbeatIntervalTicks' | 'maxMsgBytes' | 'maxInflightMsgs' | 'maxUncommittedBytes'][] = [
      ['election', 'electionTimeoutTicks'],
      ['heartbeat', 'heartbeatIntervalTicks'],
      ['max-msg-bytes', 'maxMsgBytes'],
      ['max-inflight', 'maxInflightMsgs'],
      ['max-uncommitted-bytes', 'maxUncommittedBytes'],
    ];
    for (const [key, field] of numeric) if (a.named.has(key)) config[field] = int(key, a.named.get(key));
    const known = new Set(['voters', 'learners', 'pre-vote', 'check-quorum', 'can-campaign', 'log', 'term', 'commit', ...numeric.map(([k]) => k)]);
    for (const key of a.named.keys()) if (!known.has(key)) throw new TranscriptError(`add-nodes: unknown option ${key}`);
    const persisted = this.initialState({ voters, learners }, a);
    const custom = a.named.has('log');
    const out: string[] = [];
    for (const id of ids) {
      const node = this.cluster.addNode(id, persisted, config);
      // The node applies what its initial state says is committed (the bootstrap membership).
      while (this.cluster.processReady(id) !== null) {
        // nothing is sent: a fresh node has no messages
      }
      const c = node.core.config;
      const s = node.core.status();
      out.push(
        `${id}: ${formatConf(s.conf)} pre-vote=${c.preVote} check-quorum=${c.checkQuorum} can-campaign=${c.canCampaign} ` +
          `election=${c.electionTimeoutTicks} heartbeat=${c.heartbeatIntervalTicks}`,
      );
      const log = persisted.entries.length === 0 ? '' : ` log=${persisted.entries[0]!.index}..${s.lastIndex}${custom ? ` terms=(${persisted.entries.map((e) => e.term).join(' ')})` : ''}`;
      out.push(`${id}: term=${s.term} commit=${s.commit} applied=${s.applied}${log}`);
    }
    return out;
  }

  /**
   * RaftCore.bootstrapState (the membership written as committed ConfChange entries of term 1),
   * or with log=1,1,4,4 (the terms of entries 1, 2, ...; empty Normal entries) a handcrafted
   * history as a restart would find it, the membership in a snapshot at index 0: term=
   * (default: the last entry's term) and commit= (default 0) complete the hard state.
   */
  private initialState(conf: { voters: NodeId[]; learners: NodeId[] }, a: Args): PersistedState {
    const terms = list(a.named.get('log'));
    if (terms === undefined) {
      if (a.named.has('term') || a.named.has('commit')) throw new TranscriptError('add-nodes: term= and commit= need log=');
      return RaftCore.bootstrapState(conf);
    }
    const entries: Entry[] = terms.map((t, k) => ({ index: k + 1, term: int('log term', t), type: EntryType.Normal, data: new Uint8Array(0) }));
    const lastTerm = entries[entries.length - 1]?.term ?? 0;
    const term = a.named.has('term') ? int('term', a.named.get('term')) : lastTerm;
    const commit = a.named.has('commit') ? int('commit', a.named.get('commit')) : 0;
    const sorted = { voters: [...conf.voters].sort(), learners: [...conf.learners].sort() };
    return { hardState: { term, vote: '', commit }, snapshot: { meta: { index: 0, term: 0, conf: sorted }, data: new Uint8Array(0) }, entries };
  }

  private messageFilter(a: Args): (m: Message) => boolean {
    const to = new Set(a.positional);
    const from = a.named.get('from');
    const type = a.named.get('type');
    return (m) => (to.size === 0 || to.has(m.to)) && (from === undefined || m.from === from) && (type === undefined || m.type === type);
  }

  private deliverOne(m: Message): string {
    const reason = this.cluster.dropReason(m);
    if (reason !== null) {
      this.cluster.delivered.push(m);
      return `dropped (${reason}): ${formatMessage(m)}`;
    }
    this.cluster.deliver(m);
    return formatMessage(m);
  }

  private stabilize(tokens: readonly string[]): string[] {
    const only = new Set(tokens);
    const inScope = (id: NodeId): boolean => only.size === 0 || only.has(id);
    const out: string[] = [];
    for (let round = 0; round < 1000; round++) {
      let moved = false;
      for (const id of this.ids()) {
        if (!inScope(id)) continue;
        const rd = this.cluster.processReady(id);
        if (rd === null) continue;
        moved = true;
        out.push(...formatReady(id, rd));
      }
      const batch = this.cluster.takeMessages((m) => inScope(m.to));
      if (batch.length > 0) {
        moved = true;
        out.push('deliver:');
        for (const m of batch) out.push(`  ${this.deliverOne(m)}`);
      }
      if (!moved) return out.length === 0 ? ['quiet'] : out;
    }
    throw new TranscriptError('stabilize: no quiescence after 1000 rounds');
  }

  /** Runs `action` and reports each node whose role, term or leader changed. */
  private watch(action: () => void): string[] {
    const before = new Map(this.ids().map((id) => [id, this.core(id).status()]));
    action();
    const out: string[] = [];
    for (const id of this.ids()) {
      const a = before.get(id);
      const b = this.core(id).status();
      if (a === undefined || (a.role === b.role && a.term === b.term && a.leader === b.leader)) continue;
      out.push(`${id}: ${a.role} term=${a.term} leader=${a.leader || 'none'} -> ${b.role} term=${b.term} leader=${b.leader || 'none'}`);
    }
    return out.length === 0 ? ['ok'] : out;
  }

  private status(id: NodeId): string[] {
    if (this.cluster.node(id).crashed) return [`${id}: crashed`];
    const s = this.core(id).status();
    const out = [
      formatStatusLine(s),
      `  log: first=${s.firstIndex} last=${s.lastIndex} persisted=${s.persistedIndex} ${formatConf(s.conf)}${s.leadTransferee === '' ? '' : ` transferee=${s.leadTransferee}`}`,
    ];
    for (const [peer, p] of s.progress) {
      out.push(`  ${peer}: ${p.state} match=${p.match} next=${p.next}${p.isLearner ? ' learner' : ''}${p.recentActive ? ' active' : ''}${p.inflight > 0 ? ` inflight=${p.inflight}` : ''}`);
    }
    return out;
  }

  /** The node's stored log (what survives a crash), and how far the in-memory log goes. */
  private log(id: NodeId, from: number): string[] {
    const node = this.cluster.node(id);
    const disk = node.disk;
    const out: string[] = [];
    if (disk.snapshot !== null) out.push(`${id}: snapshot ${formatSnapshot(disk.snapshot)}`);
    const skipped = disk.entries.filter((e) => e.index < from).length;
    if (skipped > 0) out.push(`${id}: (${skipped} entries before ${from})`);
    for (const e of disk.entries) if (e.index >= from) out.push(`${id}: ${formatEntry(e)}`);
    out.push(`${id}: hard term=${disk.hardState.term} vote=${disk.hardState.vote || 'none'} commit=${disk.hardState.commit}`);
    if (!node.crashed) {
      const s = this.core(id).status();
      const stored = disk.entries[disk.entries.length - 1]?.index ?? disk.snapshot?.meta.index ?? 0;
      if (s.lastIndex !== stored || s.persistedIndex !== stored) out.push(`${id}: in memory last=${s.lastIndex} persisted=${s.persistedIndex}`);
    }
    return out;
  }
}

// ------------------------------------------------------------------ running

export interface TranscriptMismatch {
  readonly line: number;
  readonly command: string;
  readonly expected: readonly string[];
  readonly actual: readonly string[];
}

export interface TranscriptRun {
  /** The file as it would be with the actual outputs (for REWRITE=1). */
  readonly rewritten: string;
  readonly mismatches: readonly TranscriptMismatch[];
  readonly header: readonly string[];
}

/** Runs every block against a fresh environment, in order; never stops at a mismatch. */
export function runTranscript(text: string): TranscriptRun {
  const parsed = parseTranscript(text);
  const env = new TranscriptEnv();
  const mismatches: TranscriptMismatch[] = [];
  const out: string[] = [...parsed.header];
  for (const block of parsed.blocks) {
    let actual: string[];
    try {
      actual = env.run(block.command);
    } catch (error) {
      if (error instanceof TranscriptError) throw new TranscriptError(`line ${block.line}: ${error.message}`);
      throw error;
    }
    if (actual.join('\n') !== block.expected.join('\n')) mismatches.push({ line: block.line, command: block.command, expected: block.expected, actual });
    if (out.length > 0) out.push('');
    out.push(...block.comments, `> ${block.command}`, ...actual);
  }
  return { rewritten: `${out.join('\n')}\n`, mismatches, header: parsed.header };
}

/** A line diff (longest common subsequence): ' ' kept, '-' expected only, '+' actual only. */
export function diffLines(expected: readonly string[], actual: readonly string[]): { op: ' ' | '-' | '+'; text: string; expectedIndex: number }[] {
  const n = expected.length;
  const m = actual.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] = expected[i] === actual[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const out: { op: ' ' | '-' | '+'; text: string; expectedIndex: number }[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && expected[i] === actual[j]) {
      out.push({ op: ' ', text: expected[i]!, expectedIndex: i });
      i++;
      j++;
    } else if (i < n && (j >= m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      out.push({ op: '-', text: expected[i]!, expectedIndex: i });
      i++;
    } else {
      out.push({ op: '+', text: actual[j]!, expectedIndex: i });
      j++;
    }
  }
  return out;
}

const DIFF_CONTEXT = 3;

/** A readable report of every mismatch, naming file and line, with a few lines of context. */
export function formatMismatches(file: string, mismatches: readonly TranscriptMismatch[]): string {
  const parts = mismatches.map((mm) => {
    const diff = diffLines(mm.expected, mm.actual);
    const keep = diff.map((_, k) => diff.slice(Math.max(0, k - DIFF_CONTEXT), k + DIFF_CONTEXT + 1).some((x) => x.op !== ' '));
    const lines = [`${file}:${mm.line}: > ${mm.command}`];
    let skipping = true;
    diff.forEach((d, k) => {
      if (!keep[k]) {
        skipping = true;
        return;
      }
      // Expected output line k sits on file line mm.line + 1 + k.
      if (skipping) lines.push(`  @@ ${file}:${mm.line + 1 + d.expectedIndex} (- expected, + actual)`);
      skipping = false;
      lines.push(`    ${d.op} ${d.text}`);
    });
    return lines.join('\n');
  });
  return `${parts.join('\n\n')}\n\n(run with REWRITE=1 to accept the actual output, then review the git diff)`;
}
