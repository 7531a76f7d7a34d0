import { PgManagerError } from './errors.js';
import { parseLsn, type Lsn } from './lsn.js';
import type { ControlData } from './controldata.js';

/** One line of a timeline history file: `timeline` ended (and its child began) at `switchpoint`. */
export interface TimelineHistoryEntry {
  readonly timeline: number;
  readonly switchpoint: Lsn;
}

/** The history file name of timeline `tl` ("00000002.history"). */
export function historyFileName(tl: number): string {
  if (!Number.isInteger(tl) || tl < 1 || tl > 0xffffffff) throw new PgManagerError('INVALID_ARGUMENT', `bad timeline ${tl}`);
  return `${tl.toString(16).toUpperCase().padStart(8, '0')}.history`;
}

/** Parses a timeline history file ("<parentTLI>\t<switchpoint>\t<reason>" lines, '#' comments). */
export function parseTimelineHistory(text: string): TimelineHistoryEntry[] {
  const out: TimelineHistoryEntry[] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const m = /^(\d+)\s+([0-9A-Fa-f]+\/[0-9A-Fa-f]+)/.exec(t);
    if (!m || m[1] === undefined || m[2] === undefined) {
      throw new PgManagerError('UNEXPECTED_RESULT', `timeline history: unparsable line ${JSON.stringify(t.slice(0, 80))}`);
    }
    const timeline = Number(m[1]);
    const prev = out[out.length - 1];
    if (!Number.isSafeInteger(timeline) || timeline < 1 || (prev !== undefined && timeline <= prev.timeline)) {
      throw new PgManagerError('UNEXPECTED_RESULT', `timeline history: bad timeline ${m[1]}`);
    }
    out.push({ timeline, switchpoint: parseLsn(m[2]) });
  }
  return out;
}

export function sameHistory(a: readonly TimelineHistoryEntry[], b: readonly TimelineHistoryEntry[]): boolean {
  return a.length === b.length && a.every((e, i) => e.timeline === b[i]?.timeline && e.switchpoint === b[i]?.switchpoint);
}

/**
 * Where a cleanly stopped cluster's WAL ends and on which timeline, from pg_control (as Patroni
 * reads it): a primary shut down → its shutdown checkpoint; a standby shut down in recovery → its
 * minimum recovery point (when set).
 */
export function localTimelineAndEnd(c: ControlData): { timeline: number; end: Lsn } {
  if (c.clusterState === 'shut down in recovery' && c.minRecoveryEndTimeline > 0) {
    const end = c.minRecoveryEndLocation > c.latestCheckpointLocation ? c.minRecoveryEndLocation : c.latestCheckpointLocation;
    return { timeline: c.minRecoveryEndTimeline, end };
  }
  return { timeline: c.latestCheckpointTimeline, end: c.latestCheckpointLocation };
}

export type RewindDecision =
  /** Same timeline and history: nothing to rewind. */
  | { readonly kind: 'none' }
  /** Different timelines: run pg_rewind (it reports "no rewind required" when we are an ancestor). */
  | { readonly kind: 'rewind'; readonly localTimeline: number; readonly sourceTimeline: number }
  /** Not one database (different system identifier): only a re-clone helps. */
  | { readonly kind: 'system-mismatch' }
  /** Same timeline number, different history (two promotions to the same TLI): pg_rewind would wrongly say "no rewind required"; re-clone. */
  | { readonly kind: 'diverged'; readonly reason: string };

export function decideRewind(local: {
  systemId: bigint;
  timeline: number;
  end: Lsn;
  history: readonly TimelineHistoryEntry[] | undefined;
}, source: {
  systemId: bigint;
  timeline: number;
  flush: Lsn;
  history: readonly TimelineHistoryEntry[] | undefined;
}): RewindDecision {
  if (local.systemId !== source.systemId) return { kind: 'system-mismatch' };
  if (local.timeline !== source.timeline) {
    return { kind: 'rewind', localTimeline: local.timeline, sourceTimeline: source.timeline };
  }
  if (local.timeline > 1) {
    if (local.history === undefined || source.history === undefined || !sameHistory(local.history, source.history)) {
      return { kind: 'diverged', reason: `both on timeline ${local.timeline} but with different histories` };
    }
  }
  if (local.end > source.flush) {
    return { kind: 'diverged', reason: 'same timeline, but local WAL goes past the source\'s flush position' };
  }
  return { kind: 'none' };
}

/** pg_rewind's verdict from its output. */
export function parseRewindOutput(text: string): { rewound: boolean; divergedAt: Lsn | undefined } {
  if (/no rewind required/.test(text)) return { rewound: false, divergedAt: undefined };
  if (!/Done!/.test(text)) {
    throw new PgManagerError('UNEXPECTED_RESULT', 'pg_rewind exited 0 but reported neither "Done!" nor "no rewind required"');
  }
  const m = /servers diverged at WAL location ([0-9A-Fa-f]+\/[0-9A-Fa-f]+)/.exec(text);
  return { rewound: true, divergedAt: m?.[1] === undefined ? undefined : parseLsn(m[1]) };
}
