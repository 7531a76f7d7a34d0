import type { ActiveHub, ClusterStatus } from '@hubha/coord';
import type { ModuleVariable } from './module-protocol.js';

/**
 * What `hubha inventory` tells a hub's agent: the facts the HA indicator of the system we replace
 * put into inventory — the active hub and its IP, this host's HA status, the HA state and every
 * reason it is not healthy, and whether the cluster is paused.
 */

export type HaStatus = 'active' | 'standby' | 'witness' | 'unknown';

export interface InventoryFacts {
  /** The member this host is (the name the facts are about). */
  readonly node: string;
  /** '' when there is no active hub (or it is not known). */
  readonly activeHub: string;
  readonly activeHubIp: string;
  readonly haStatus: HaStatus;
  readonly haState: ClusterStatus['state'] | 'unknown';
  /** "code: message", failing ones first. */
  readonly reasons: readonly string[];
  readonly paused: 'true' | 'false' | 'unknown';
}

/**
 * The active hub's IP: the VIP's address when one is configured (that is where clients go),
 * else the host of PostgreSQL's advertised address (brackets of an IPv6 address removed).
 */
export function activeHubIp(active: ActiveHub): string {
  if (active.vip !== null) return active.vip.split('/')[0]!;
  const host = active.address.slice(0, active.address.lastIndexOf(':'));
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** This member's HA status: active (holds the active-hub record), standby (another hub), witness, unknown (not a member). */
export function haStatusOf(status: ClusterStatus, node: string): HaStatus {
  if (status.activeHub?.name === node) return 'active';
  const member = status.members.find((m) => m.name === node);
  if (member === undefined) return 'unknown';
  return member.kind === 'witness' ? 'witness' : 'standby';
}

export function inventoryFacts(status: ClusterStatus, node: string): InventoryFacts {
  return {
    node,
    activeHub: status.activeHub?.name ?? '',
    activeHubIp: status.activeHub === null ? '' : activeHubIp(status.activeHub),
    haStatus: haStatusOf(status, node),
    haState: status.state,
    reasons: status.reasons.map((r) => `${r.code}: ${r.message}`),
    paused: status.paused === null ? 'false' : 'true',
  };
}

/** The facts when no member answered: unknown everywhere, and why as the one reason. */
export function unreachableFacts(node: string, error: string): InventoryFacts {
  return { node, activeHub: '', activeHubIp: '', haStatus: 'unknown', haState: 'unknown', reasons: [`unreachable: ${error}`], paused: 'unknown' };
}

/** The module protocol's variables, in the order they are printed. */
export function inventoryVariables(facts: InventoryFacts): ModuleVariable[] {
  return [
    { name: 'hubha_node', attribute: null, value: facts.node },
    { name: 'hubha_active_hub', attribute: 'HA active hub', value: facts.activeHub },
    { name: 'hubha_active_hub_ip', attribute: 'HA active hub IP', value: facts.activeHubIp },
    { name: 'hubha_ha_status', attribute: 'HA status', value: facts.haStatus },
    { name: 'hubha_ha_state', attribute: 'HA state', value: facts.haState },
    { name: 'hubha_degraded_reasons', attribute: 'HA degraded reasons', value: facts.reasons },
    { name: 'hubha_paused', attribute: 'HA paused', value: facts.paused },
  ];
}
