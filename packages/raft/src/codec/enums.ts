import { hubha } from '@hubha/proto/raft';
import { EntryType, MessageType } from '../core/types.js';

const pb = hubha.raft;

type Pairs<T> = readonly (readonly [T, number])[];

function tables<T>(pairs: Pairs<T>): { readonly toWire: ReadonlyMap<T, number>; readonly fromWire: ReadonlyMap<number, T> } {
  return { toWire: new Map(pairs), fromWire: new Map(pairs.map(([core, wire]) => [wire, core])) };
}

export const messageTypes = tables<MessageType>([
  [MessageType.App, pb.MessageType.MESSAGE_TYPE_APP],
  [MessageType.AppResp, pb.MessageType.MESSAGE_TYPE_APP_RESP],
  [MessageType.Vote, pb.MessageType.MESSAGE_TYPE_VOTE],
  [MessageType.VoteResp, pb.MessageType.MESSAGE_TYPE_VOTE_RESP],
  [MessageType.PreVote, pb.MessageType.MESSAGE_TYPE_PRE_VOTE],
  [MessageType.PreVoteResp, pb.MessageType.MESSAGE_TYPE_PRE_VOTE_RESP],
  [MessageType.Heartbeat, pb.MessageType.MESSAGE_TYPE_HEARTBEAT],
  [MessageType.HeartbeatResp, pb.MessageType.MESSAGE_TYPE_HEARTBEAT_RESP],
  [MessageType.Snap, pb.MessageType.MESSAGE_TYPE_SNAP],
  [MessageType.TimeoutNow, pb.MessageType.MESSAGE_TYPE_TIMEOUT_NOW],
  [MessageType.ReadIndex, pb.MessageType.MESSAGE_TYPE_READ_INDEX],
  [MessageType.ReadIndexResp, pb.MessageType.MESSAGE_TYPE_READ_INDEX_RESP],
]);

export const entryTypes = tables<EntryType>([
  [EntryType.Normal, pb.EntryType.ENTRY_TYPE_NORMAL],
  [EntryType.ConfChange, pb.EntryType.ENTRY_TYPE_CONF_CHANGE],
]);

/** Encodes a core enum value; a value outside the core's type is a caller bug. */
export function toWire<T>(table: ReadonlyMap<T, number>, value: T, what: string): number {
  const wire = table.get(value);
  if (wire === undefined) throw new TypeError(`cannot encode ${what} ${String(value)}`);
  return wire;
}
