/**
 * Seeded random fault schedules for the chaos runner, and their execution on a lab cluster.
 * A schedule names roles (the active hub, the standby, the witness, the client), resolved to
 * hosts when the round starts; every fault is healed at the end of the round's fault window.
 */
import type { LabCluster } from './lab-cluster.js';
import { sleep } from './lab-cluster.js';

export type Role = 'active' | 'standby' | 'witness';
export type Host = Role | 'client';

export type FaultEvent =
  | { readonly kind: 'isolate'; readonly at: number; readonly target: Role }
  | { readonly kind: 'cut-one-way'; readonly at: number; readonly from: Host; readonly to: Host }
  | { readonly kind: 'cut-link'; readonly at: number; readonly a: Role; readonly b: Role }
  | { readonly kind: 'loss'; readonly at: number; readonly target: Host; readonly pct: number }
  | { readonly kind: 'pause'; readonly at: number; readonly target: Role; readonly ms: number }
  | { readonly kind: 'kill-sidecar'; readonly at: number; readonly target: Role; readonly restartAfterMs: number }
  | { readonly kind: 'kill-postgres'; readonly at: number; readonly target: 'active' | 'standby' }
  | { readonly kind: 'kill-both'; readonly at: number; readonly target: 'active' | 'standby'; readonly restartAfterMs: number }
  /** The active hub cut off from the other members (both ways) while the client still reaches it. */
  | { readonly kind: 'store-partition'; readonly at: number };

export type FaultKind = FaultEvent['kind'];
export const RANDOM_FAULT_KINDS: readonly FaultKind[] = ['isolate', 'cut-one-way', 'cut-link', 'loss', 'pause', 'kill-sidecar', 'kill-postgres', 'kill-both'];

export interface Schedule {
  /** Faults are applied within [0, windowMs); everything is healed at windowMs. */
  readonly windowMs: number;
  readonly events: readonly FaultEvent[];
}

/** mulberry32: a small, good-enough PRNG with a 32-bit seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of round `round` of a run seeded `seed`. */
export function roundSeed(seed: number, round: number): number {
  return (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(round, 0x85ebca6b)) >>> 0;
}

export interface ScheduleOptions {
  readonly kinds?: readonly FaultKind[];
  /** The lease TTL: pauses run from a fraction of it to 2.5 times it. */
  readonly leaseTtlMs: number;
  readonly minWindowMs?: number;
  readonly maxWindowMs?: number;
  readonly maxEvents?: number;
}

/** A random schedule: 1..maxEvents faults at random times in a window of random length. */
export function randomSchedule(rand: () => number, options: ScheduleOptions): Schedule {
  const kinds = options.kinds ?? RANDOM_FAULT_KINDS;
  const minW = options.minWindowMs ?? 4000;
  const maxW = options.maxWindowMs ?? 10_000;
  const windowMs = Math.round(minW + rand() * (maxW - minW));
  const n = 1 + Math.floor(rand() * (options.maxEvents ?? 3));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  // The active hub is the interesting target: half of the single-target faults hit it.
  const role = (): Role => (rand() < 0.5 ? 'active' : pick(['standby', 'witness'] as const));
  const hub = (): 'active' | 'standby' => (rand() < 0.65 ? 'active' : 'standby');
  const events: FaultEvent[] = [];
  for (let i = 0; i < n; i++) {
    const kind = pick(kinds);
    // Earlier in the window for the first fault, so that most rounds see a fault develop.
    const at = Math.round((i === 0 ? rand() * 0.3 : rand() * 0.8) * windowMs);
    switch (kind) {
      case 'isolate':
        events.push({ kind, at, target: role() });
        break;
      case 'cut-one-way': {
        const from = pick(['active', 'standby', 'witness', 'client'] as const);
        const to = pick((['active', 'standby', 'witness', 'client'] as const).filter((h) => h !== from && !(from === 'client' && h === 'witness') && !(h === 'client' && from === 'witness')));
        events.push({ kind, at, from, to });
        break;
      }
      case 'cut-link': {
        const [a, b] = pick([['active', 'standby'], ['active', 'witness'], ['standby', 'witness']] as const);
        events.push({ kind, at, a, b });
        break;
      }
      case 'loss':
        events.push({ kind, at, target: rand() < 0.8 ? role() : 'client', pct: Math.round(20 + rand() * 60) });
        break;
      case 'pause':
        events.push({ kind, at, target: role(), ms: Math.round(options.leaseTtlMs * (0.3 + rand() * 2.2)) });
        break;
      case 'kill-sidecar':
        events.push({ kind, at, target: role(), restartAfterMs: Math.round(rand() * 3000) });
        break;
      case 'kill-postgres':
        events.push({ kind, at, target: hub() });
        break;
      case 'kill-both':
        events.push({ kind, at, target: hub(), restartAfterMs: Math.round(rand() * 3000) });
        break;
      case 'store-partition':
        events.push({ kind, at });
        break;
    }
  }
  events.sort((x, y) => x.at - y.at);
  return { windowMs, events };
}

export interface Roles {
  readonly active: string;
  readonly standby: string;
  readonly witness: string;
  readonly client: string;
}

export function describeEvent(e: FaultEvent, r: Roles): string {
  const h = (x: Host): string => `${r[x]}(${x})`;
  const at = `@${(e.at / 1000).toFixed(1)}s`;
  switch (e.kind) {
    case 'isolate':
      return `isolate ${h(e.target)}${at}`;
    case 'cut-one-way':
      return `cut ${h(e.from)}->${h(e.to)}${at}`;
    case 'cut-link':
      return `cut-link ${h(e.a)}<->${h(e.b)}${at}`;
    case 'loss':
      return `loss ${e.pct}% ${h(e.target)}${at}`;
    case 'pause':
      return `pause ${h(e.target)} ${(e.ms / 1000).toFixed(1)}s${at}`;
    case 'kill-sidecar':
      return `kill-9 sidecar ${h(e.target)}, restart +${(e.restartAfterMs / 1000).toFixed(1)}s${at}`;
    case 'kill-postgres':
      return `kill-9 postmaster ${h(e.target)}${at}`;
    case 'kill-both':
      return `kill-9 sidecar+postmaster ${h(e.target)}, restart +${(e.restartAfterMs / 1000).toFixed(1)}s${at}`;
    case 'store-partition':
      return `store-partition ${h('active')} (cut from ${r.standby} and ${r.witness}, not from the client)${at}`;
  }
}

/**
 * Applies the schedule from now on and heals everything at windowMs: the network, paused
 * processes, members killed and not yet restarted. Every wait is clipped to the window, so this
 * returns shortly after windowMs. Returns notes on events that could not be applied.
 */
export async function executeSchedule(lc: LabCluster, schedule: Schedule, roles: Roles, log: (line: string) => void = () => undefined): Promise<{ notes: string[]; healAt: number }> {
  const t0 = Date.now();
  const end = t0 + schedule.windowMs;
  const paused = new Set<number>();
  const notes: string[] = [];
  const until = async (t: number): Promise<void> => {
    const ms = Math.min(t, end) - Date.now();
    if (ms > 0) await sleep(ms);
  };
  const restart = (name: string): void => {
    if (!lc.cluster.processes.has(name)) lc.cluster.start(name);
  };
  const run = async (e: FaultEvent): Promise<void> => {
    await until(t0 + e.at);
    if (Date.now() >= end) return;
    const lab = lc.lab;
    switch (e.kind) {
      case 'isolate':
        return lab.isolate(roles[e.target]);
      case 'cut-one-way':
        return lab.cutOneWay(roles[e.from], roles[e.to]);
      case 'cut-link':
        return lab.cutLink(roles[e.a], roles[e.b]);
      case 'loss':
        return lab.netem(roles[e.target], { lossPct: e.pct });
      case 'store-partition':
        await lab.cutLink(roles.active, roles.standby);
        return lab.cutLink(roles.active, roles.witness);
      case 'pause': {
        const pid = lc.memberPid(roles[e.target]);
        if (pid === null || paused.has(pid)) {
          notes.push(`${describeEvent(e, roles)}: not running or already paused, skipped`);
          return;
        }
        await lab.pause(pid);
        paused.add(pid);
        await until(Date.now() + e.ms);
        if (paused.delete(pid)) await lab.resume(pid).catch(() => undefined);
        return;
      }
      case 'kill-sidecar':
      case 'kill-both': {
        const name = roles[e.target];
        const pid = lc.memberPid(name);
        if (pid !== null && paused.delete(pid)) await lab.resume(pid).catch(() => undefined);
        await lc.cluster.kill(name, 'SIGKILL');
        if (e.kind === 'kill-both') await lc.cluster.killPostgres(name);
        await until(Date.now() + e.restartAfterMs);
        if (Date.now() < end) restart(name);
        return;
      }
      case 'kill-postgres':
        if (!(await lc.cluster.killPostgres(roles[e.target]))) notes.push(`${describeEvent(e, roles)}: PostgreSQL was not running`);
        return;
    }
  };
  const results = await Promise.allSettled(schedule.events.map(run));
  for (const [i, r] of results.entries()) {
    if (r.status === 'rejected') notes.push(`${describeEvent(schedule.events[i]!, roles)}: failed: ${String(r.reason)}`);
  }
  await until(end);
  // Heal: network, then processes.
  const healAt = Date.now();
  await lc.lab.heal();
  for (const pid of paused) await lc.lab.resume(pid).catch(() => undefined);
  paused.clear();
  for (const m of ['hub1', 'hub2', 'witness']) restart(m);
  log(`healed at +${healAt - t0} ms`);
  return { notes, healAt };
}
