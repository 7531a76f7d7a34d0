import type { ConfChange, ConfState, NodeId } from './types.js';
import { ConfChangeType } from './types.js';

/**
 * Membership changes are single-server deltas stored in ConfChange log entries. The membership in
 * force on a node is its snapshot's membership with every ConfChange entry of its log folded in,
 * committed or not (Raft thesis §4.1: a server uses the latest configuration in its log).
 */

export const MAX_NODE_ID_LENGTH = 255;
export const MAX_CONF_CHANGE_CONTEXT_LENGTH = 4096;

export function isValidNodeId(id: unknown): id is NodeId {
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_NODE_ID_LENGTH && !/[\s\u0000-\u001f]/.test(id);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });
const CHANGE_TYPES: ReadonlySet<string> = new Set(Object.values(ConfChangeType));

export function encodeConfChange(change: ConfChange): Uint8Array {
  return encoder.encode(JSON.stringify({ type: change.type, node: change.node, ...(change.context === undefined ? {} : { context: change.context }) }));
}

/** Decodes a ConfChange entry's data; null when the bytes are not a valid change. */
export function decodeConfChange(data: Uint8Array): ConfChange | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(data));
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const { type, node, context } = parsed as { type?: unknown; node?: unknown; context?: unknown };
  if (typeof type !== 'string' || !CHANGE_TYPES.has(type) || !isValidNodeId(node)) return null;
  if (context === undefined) return { type: type as ConfChangeType, node };
  if (typeof context !== 'string' || context.length > MAX_CONF_CHANGE_CONTEXT_LENGTH) return null;
  return { type: type as ConfChangeType, node, context };
}

export type ConfChangeCheck = 'ok' | 'already-member' | 'not-a-learner' | 'not-a-member' | 'invalid-node-id' | 'invalid-context';

/** Whether `change` is meaningful against `conf` (the proposer's check; apply is total). */
export function checkConfChange(conf: ConfState, change: ConfChange): ConfChangeCheck {
  if (!isValidNodeId(change.node)) return 'invalid-node-id';
  if (change.context !== undefined && (typeof change.context !== 'string' || change.context.length > MAX_CONF_CHANGE_CONTEXT_LENGTH)) return 'invalid-context';
  const isVoter = conf.voters.includes(change.node);
  const isLearner = conf.learners.includes(change.node);
  switch (change.type) {
    case ConfChangeType.AddLearner:
      return isVoter || isLearner ? 'already-member' : 'ok';
    case ConfChangeType.PromoteLearner:
      return isLearner ? 'ok' : 'not-a-learner';
    case ConfChangeType.RemoveNode:
      return isVoter || isLearner ? 'ok' : 'not-a-member';
  }
}

/**
 * Applies a change. Total and deterministic: a change that does not fit (which a correct leader
 * never proposes) leaves the membership as it is, identically on every node.
 */
export function applyConfChange(conf: ConfState, change: ConfChange): ConfState {
  if (checkConfChange(conf, change) !== 'ok') return conf;
  const voters = conf.voters.filter((id) => id !== change.node);
  const learners = conf.learners.filter((id) => id !== change.node);
  switch (change.type) {
    case ConfChangeType.AddLearner:
      learners.push(change.node);
      break;
    case ConfChangeType.PromoteLearner:
      voters.push(change.node);
      break;
    case ConfChangeType.RemoveNode:
      break;
  }
  return { voters: voters.sort(), learners: learners.sort() };
}

export function sameConf(a: ConfState, b: ConfState): boolean {
  return a.voters.join('\n') === b.voters.join('\n') && a.learners.join('\n') === b.learners.join('\n');
}

export function isMember(conf: ConfState, id: NodeId): boolean {
  return conf.voters.includes(id) || conf.learners.includes(id);
}
