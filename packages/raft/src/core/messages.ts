import type { Message, MessageType, NodeId } from './types.js';

const EMPTY = new Uint8Array(0);

export type MessageFields = Partial<Omit<Message, 'type' | 'from' | 'to' | 'term'>>;

/** A message with every unused field zero/empty (one flat shape, as on the wire). */
export function makeMessage(type: MessageType, from: NodeId, to: NodeId, term: number, fields: MessageFields = {}): Message {
  return {
    type,
    from,
    to,
    term,
    logTerm: fields.logTerm ?? 0,
    index: fields.index ?? 0,
    entries: fields.entries ?? [],
    commit: fields.commit ?? 0,
    reject: fields.reject ?? false,
    rejectHint: fields.rejectHint ?? 0,
    snapshot: fields.snapshot ?? null,
    context: fields.context ?? EMPTY,
  };
}

/** The Vote/PreVote context that marks an election started by a leadership transfer. */
export const TRANSFER_CONTEXT = new TextEncoder().encode('transfer');

export function isTransferContext(context: Uint8Array): boolean {
  if (context.length !== TRANSFER_CONTEXT.length) return false;
  for (let i = 0; i < context.length; i++) if (context[i] !== TRANSFER_CONTEXT[i]) return false;
  return true;
}
