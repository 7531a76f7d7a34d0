/**
 * The members table: node id → role and address, folded from ConfChange entries with the Raft
 * core's own rule (checkConfChange / applyConfChange), so that it always agrees with the
 * membership Raft applies from the same log.
 */
import type { ConfChange, ConfState } from '@hubha/raft';
import { ConfChangeType, MAX_CONF_CHANGE_CONTEXT_LENGTH, checkConfChange, isValidNodeId } from '@hubha/raft';
import { CoordUsageError } from './errors.js';
import { compareKeys } from './text.js';
import type { BootstrapMember, Member, MemberRole } from './types.js';

/** The member's addresses from a change context such as {"peer":"h:1","client":"h:2"}. */
export function parseMemberContext(context: string | null): { peerAddress: string | null; clientAddress: string | null } {
  if (context === null) return { peerAddress: null, clientAddress: null };
  let parsed: unknown;
  try {
    parsed = JSON.parse(context);
  } catch {
    return { peerAddress: null, clientAddress: null };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { peerAddress: null, clientAddress: null };
  const { peer, client } = parsed as { peer?: unknown; client?: unknown };
  return { peerAddress: typeof peer === 'string' ? peer : null, clientAddress: typeof client === 'string' ? client : null };
}

export function makeMember(id: string, role: MemberRole, context: string | null): Member {
  return { id, role, context, ...parseMemberContext(context) };
}

export function confStateOf(members: ReadonlyMap<string, Member>): ConfState {
  const voters: string[] = [];
  const learners: string[] = [];
  for (const m of members.values()) (m.role === 'voter' ? voters : learners).push(m.id);
  return { voters: voters.sort(), learners: learners.sort() };
}

/**
 * Applies a change to the table in place; false when Raft's rule refuses it (the table is then
 * unchanged, as Raft's membership is). A promotion that carries a context replaces the address.
 */
export function applyMemberChange(members: Map<string, Member>, change: ConfChange): boolean {
  if (checkConfChange(confStateOf(members), change) !== 'ok') return false;
  const context = change.context ?? null;
  switch (change.type) {
    case ConfChangeType.AddLearner:
      members.set(change.node, makeMember(change.node, 'learner', context));
      return true;
    case ConfChangeType.PromoteLearner: {
      const old = members.get(change.node);
      members.set(change.node, makeMember(change.node, 'voter', context ?? old?.context ?? null));
      return true;
    }
    case ConfChangeType.RemoveNode:
      members.delete(change.node);
      return true;
  }
}

/** Validates the constructor's initial members (trusted configuration: throws on a mistake). */
export function bootstrapTable(initial: readonly BootstrapMember[]): Map<string, Member> {
  const table = new Map<string, Member>();
  for (const [i, m] of initial.entries()) {
    if (!isValidNodeId(m.id)) throw new CoordUsageError(`bootstrapMembers[${i}].id: invalid node id ${JSON.stringify(m.id)}`);
    if (table.has(m.id)) throw new CoordUsageError(`bootstrapMembers[${i}].id: ${m.id} listed twice`);
    const role = m.role ?? 'voter';
    if (role !== 'voter' && role !== 'learner') throw new CoordUsageError(`bootstrapMembers[${i}].role: ${String(role)}`);
    if (m.context !== undefined && (m.peer !== undefined || m.client !== undefined)) {
      throw new CoordUsageError(`bootstrapMembers[${i}]: give either context or peer/client, not both`);
    }
    let context: string | null = m.context ?? null;
    if (context === null && (m.peer !== undefined || m.client !== undefined)) {
      context = JSON.stringify({ ...(m.peer === undefined ? {} : { peer: m.peer }), ...(m.client === undefined ? {} : { client: m.client }) });
    }
    if (context !== null && context.length > MAX_CONF_CHANGE_CONTEXT_LENGTH) {
      throw new CoordUsageError(`bootstrapMembers[${i}]: context longer than ${MAX_CONF_CHANGE_CONTEXT_LENGTH}`);
    }
    table.set(m.id, makeMember(m.id, role, context));
  }
  return table;
}

export function sortedMembers(members: ReadonlyMap<string, Member>): Member[] {
  return [...members.values()].sort((a, b) => compareKeys(a.id, b.id));
}
