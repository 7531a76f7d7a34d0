/**
 * The recorded history of a chaos round: the writer's JSON lines (writer.mjs) and the facts the
 * checker takes from the members' pino logs (promotions, Raft leaders). Times are epoch ms from
 * the host's wall clock, which every lab namespace shares.
 */

/** A write the server acknowledged: committed at some instant within [sent, ack]. */
export interface Ack {
  readonly id: number;
  readonly sent: number;
  readonly ack: number;
  /** The server identity read in the acknowledged statement. */
  readonly sys: string;
  readonly tl: number;
  readonly epoch: number | null;
}

/** A write whose outcome is unknown (error or timeout): it may or may not have committed. */
export interface InDoubt {
  readonly id: number;
  readonly sent: number;
  readonly at: number;
  readonly msg: string;
}

export interface History {
  readonly acks: Ack[];
  readonly inDoubt: InDoubt[];
  /** Failed connection attempts (no id was used). */
  readonly connectFailures: number;
  /** The writer printed its last line (it was not killed). */
  readonly ended: boolean;
}

/** A PostgreSQL promotion as the promoting hub logged it ('PostgreSQL promoted', after pg_promote returned). */
export interface Promotion {
  readonly node: string;
  readonly epoch: number;
  readonly timeline: number;
  readonly at: number;
  /**
   * When the same hub then logged 'promotion failed' for the same epoch (it could not finish
   * becoming the active hub — e.g. the store became unreachable — and fenced itself), else null.
   */
  readonly abandonedAt?: number | null;
}

/** The start of a hub's fence ('demoting: fencing this hub'): from here on it acknowledges no write. */
export interface Fence {
  readonly node: string;
  readonly epoch: number;
  readonly at: number;
}

/** A hub that rejoined as a standby ('following as standby') and what its rewind discarded. */
export interface Rejoin {
  readonly node: string;
  readonly at: number;
  /** What it wrote after the fork (read before the rewind); null without a rewind or when unreadable. */
  readonly walAfterFork: { readonly commits: number; readonly bytes: number } | null;
}

/** A member's 'leader changed' log line: in `term`, `leader` leads (as `member` learned it). */
export interface LeaderObservation {
  readonly member: string;
  readonly term: number;
  readonly leader: string;
  readonly at: number;
}

export function parseHistory(text: string): History {
  const acks: Ack[] = [];
  const inDoubt: InDoubt[] = [];
  let connectFailures = 0;
  let ended = false;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue; // a line cut by a SIGKILL
    }
    if (o.t === 'ack') acks.push({ id: Number(o.id), sent: Number(o.sent), ack: Number(o.ack), sys: String(o.sys), tl: Number(o.tl), epoch: o.epoch === null ? null : Number(o.epoch) });
    else if (o.t === 'err') inDoubt.push({ id: Number(o.id), sent: Number(o.sent), at: Number(o.at), msg: String(o.msg) });
    else if (o.t === 'conn') connectFailures++;
    else if (o.t === 'end') ended = true;
  }
  return { acks, inDoubt, connectFailures, ended };
}

/** The server identity: system identifier + timeline + the newest promotion epoch it had recorded. */
export function identityOf(a: Pick<Ack, 'sys' | 'tl' | 'epoch'>): string {
  return `${a.sys}/tl${a.tl}/e${a.epoch ?? '-'}`;
}

/** 'PostgreSQL promoted' lines of one member's log. */
export function promotionsFromLog(lines: readonly Record<string, unknown>[]): Promotion[] {
  return lines
    .filter((l) => l.msg === 'PostgreSQL promoted' && typeof l.timeline === 'number')
    .map((l) => {
      const at = Number(l.time);
      const failed = lines.find((f) => f.msg === 'promotion failed: fencing and releasing the lease' && f.epoch === l.epoch && Number(f.time) >= at);
      return { node: String(l.node), epoch: Number(l.epoch), timeline: Number(l.timeline), at, abandonedAt: failed === undefined ? null : Number(failed.time) };
    });
}

/** 'leader changed' lines of one member's log (the Raft node's own view). */
export function leaderObservationsFromLog(member: string, lines: readonly Record<string, unknown>[]): LeaderObservation[] {
  return lines
    .filter((l) => l.msg === 'leader changed' && typeof l.term === 'number' && typeof l.leader === 'string')
    .map((l) => ({ member, term: Number(l.term), leader: String(l.leader), at: Number(l.time) }));
}

/** 'demoting: fencing this hub' lines of one member's log (the fence of the epoch it held). */
export function fencesFromLog(lines: readonly Record<string, unknown>[]): Fence[] {
  return lines
    .filter((l) => l.msg === 'demoting: fencing this hub' && typeof l.epoch === 'number')
    .map((l) => ({ node: String(l.node), epoch: Number(l.epoch), at: Number(l.time) }));
}

/** The PostgreSQL manager's 'following as standby' lines of one member's log. */
export function rejoinsFromLog(lines: readonly Record<string, unknown>[]): Rejoin[] {
  return lines
    .filter((l) => l.msg === 'following as standby' && typeof l.node === 'string')
    .map((l) => ({ node: String(l.node), at: Number(l.time), walAfterFork: walAfterForkOf(l.walAfterFork) }));
}

function walAfterForkOf(value: unknown): Rejoin['walAfterFork'] {
  if (typeof value !== 'object' || value === null) return null;
  const { commits, bytes } = value as Record<string, unknown>;
  return Number.isSafeInteger(commits) && Number.isSafeInteger(bytes) && (commits as number) >= 0 && (bytes as number) >= 0 ? { commits: commits as number, bytes: bytes as number } : null;
}
