/**
 * HandoverOperations asked on a member whose own replica lags the leader: the request it wrote
 * (acknowledged by the leader) is not yet applied here. Its absence must not read as "the
 * request's window ended" (switchover) or "the reinit is done" — the race that failed CI when the
 * CLI's first endpoint was a follower.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { CoordClient, HandoverHost, HistoryEntry, RecordsRead } from '../src/index.js';
import { HANDOVER_REQUEST_KEY, HandoverOperations, computeClusterStatus, encodeRecord, handoverRequestSchema, parseRecord, reinitKey, reinitRequestSchema } from '../src/index.js';
import { T0, input, records } from './support/status-fixtures.js';

/** How long the fake member takes to apply what the leader committed. */
const APPLY_LAG_MS = 400;

/**
 * A member of a store whose leader holds the truth and whose local replica applies each write
 * APPLY_LAG_MS later; `onLeaderWrite` plays the hubs' part.
 */
class LaggingMember {
  readonly leader = new Map<string, Uint8Array>();
  private readonly local = new Map<string, Uint8Array>();
  private leaderRevision = 100;
  private localRevisionValue = 100;
  private readonly listeners = new Set<() => void>();
  readonly history: HistoryEntry[] = [];
  onLeaderWrite: (key: string, value: Uint8Array | null) => void = () => undefined;

  write(key: string, value: Uint8Array | null): number {
    const revision = ++this.leaderRevision;
    if (value === null) this.leader.delete(key);
    else this.leader.set(key, value);
    setTimeout(() => {
      if (value === null) this.local.delete(key);
      else this.local.set(key, value);
      this.localRevisionValue = Math.max(this.localRevisionValue, revision);
      for (const l of [...this.listeners]) l();
    }, APPLY_LAG_MS);
    // Other entries (hub reports) keep arriving here meanwhile: each wakes the waiters.
    setTimeout(() => {
      for (const l of [...this.listeners]) l();
    }, 5);
    queueMicrotask(() => this.onLeaderWrite(key, value));
    return revision;
  }

  host(): HandoverHost {
    const session = {
      leaseGrant: async () => ({ granted: true as const, revision: this.write('lease', new Uint8Array()), lease: { name: 'handover', holder: 'admin', epoch: 1, ttlMs: 30_000, remainingMs: 30_000 } }),
      put: async (key: string, value: Uint8Array) => ({ revision: this.write(key, value) }),
      get: async (key: string) => ({ kv: this.leader.has(key) ? { key, value: this.leader.get(key)! } : null }),
      leaseRelease: async () => ({ released: true }),
      leaseList: async () => ({ leases: [] }),
    };
    const client = { session: () => session } as unknown as CoordClient;
    return {
      id: 'hub1',
      logger: pino({ level: 'silent' }),
      status: async () => computeClusterStatus(input({ raft: { ...input().raft, members: input().raft.members.map((m) => ({ ...m, probe: { reachable: true, state: 'follower', term: 9, leader: 'witness', commitIndex: 50, appliedIndex: 50, version: '0.1.0' } })) } })),
      readRecords: async (): Promise<RecordsRead> => ({ records: records({ history: [...records().history, ...this.history] }), linearizable: true, barrierError: null, revision: this.leaderRevision, activeModRevision: 1 }),
      localValue: (key) => this.local.get(key) ?? null,
      localRevision: () => this.localRevisionValue,
      onApplied: (listener) => {
        this.listeners.add(listener);
        return () => this.listeners.delete(listener);
      },
      storeClient: async () => client,
      wallClock: () => T0,
    };
  }
}

describe('HandoverOperations on a member whose replica lags the leader', () => {
  it('a switchover waits for its own request to arrive here before judging its window', async () => {
    const member = new LaggingMember();
    // hub1 hands over and hub2 takes over 700 ms after the request: after the local apply.
    member.onLeaderWrite = (key, value) => {
      if (key !== HANDOVER_REQUEST_KEY || value === null) return;
      const parsed = parseRecord(handoverRequestSchema, key, value);
      if (!parsed.ok) return;
      setTimeout(() => member.history.push({ epoch: 6, at: new Date(T0 + 700).toISOString(), kind: 'switchover', from: 'hub1', to: 'hub2', reason: 'test', dataLossBytes: 0 }), 700);
    };
    const ops = new HandoverOperations(member.host());
    const outcome = await ops.switchover({ target: 'hub2', at: '', dryRun: false, reason: 'test', by: 'vitest' });
    expect(outcome).toMatchObject({ from: 'hub1', to: 'hub2', epoch: 6, dryRun: false });
  });

  it('a reinit is not taken for done while its request has not arrived here', async () => {
    const member = new LaggingMember();
    const key = reinitKey('hub2');
    // hub2's sidecar picks the request up (running) 100 ms after the leader has it.
    member.onLeaderWrite = (written, value) => {
      if (written !== key || value === null) return;
      const parsed = parseRecord(reinitRequestSchema, key, value);
      if (!parsed.ok || parsed.value.state !== 'requested') return;
      setTimeout(() => member.write(key, encodeRecord({ ...parsed.value, state: 'running', updatedAt: new Date(T0 + 100).toISOString() })), 100);
    };
    const outcome = await new HandoverOperations(member.host()).reinit('hub2', false, 'vitest');
    expect(outcome.started).toBe(true);
    expect(outcome.message).toContain('is re-cloning');
  });
});
