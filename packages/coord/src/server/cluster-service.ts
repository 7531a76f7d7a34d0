import type * as grpc from '@grpc/grpc-js';
import type { hubha } from '@hubha/proto/coord';
import type { ConfChange, NodeId } from '@hubha/raft';
import { isValidNodeId } from '@hubha/raft';
import { memberToWire } from '../state/codec.js';
import type { CoordNode } from './coord-node.js';
import { failedPrecondition, invalidArgument, outcomeToRpc, unavailable } from './rpc-errors.js';
import { header, readable, unary } from './rpc-util.js';

export const SOFTWARE_VERSION = '0.1.0';

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;

async function changeMembership(node: CoordNode, change: ConfChange): Promise<void> {
  if (!node.raft.isLeader()) throw unavailable(node, 'not-leader');
  const outcome = await node.raft.proposeConfChange(change);
  if (!outcome.ok) {
    if (outcome.reason === 'not-leader' || outcome.reason === 'timeout' || outcome.reason === 'dropped' || outcome.reason === 'outcome-unknown' || outcome.reason === 'closed') {
      throw outcomeToRpc(node, outcome);
    }
    // The core's refusals (conf-change-pending, already-member, learner-not-caught-up, ...).
    throw failedPrecondition(outcome.reason, `membership change ${change.type} ${change.node} refused: ${outcome.reason}`);
  }
}

function members(node: CoordNode): hubha.coord.Member.$Properties[] {
  return node.state.members().map(memberToWire);
}

/** The most up-to-date other voter, as the leader's replication progress shows it. */
function bestTransferTarget(node: CoordNode): NodeId | null {
  const status = node.raft.status();
  let best: { id: NodeId; match: number } | null = null;
  for (const id of status.conf.voters) {
    if (id === node.id) continue;
    const match = status.progress.get(id)?.match ?? 0;
    if (best === null || match > best.match) best = { id, match };
  }
  return best?.id ?? null;
}

async function transfer(node: CoordNode, target: NodeId): Promise<void> {
  const result = await node.raft.transferLeadership(target);
  if (!result.ok) {
    if (result.reason === 'not-leader') throw unavailable(node, 'not-leader');
    throw failedPrecondition(result.reason, `leadership transfer to ${target} failed: ${result.reason}`);
  }
}

export function clusterHandlers(node: CoordNode): grpc.UntypedServiceImplementation {
  return {
    Status: unary<hubha.coord.StatusRequest, hubha.coord.StatusResponse.$Properties>(async () => {
      const status = node.raft.status();
      return {
        header: header(node, true),
        role: status.role,
        isLearner: status.conf.learners.includes(node.id),
        commitIndex: status.commit,
        appliedIndex: status.applied,
        version: SOFTWARE_VERSION,
      };
    }),
    MemberList: unary<hubha.coord.MemberListRequest, hubha.coord.MemberListResponse.$Properties>(async (req) => {
      await readable(node, req.serializable);
      return { header: header(node, req.serializable), members: members(node) };
    }),
    MemberAddLearner: unary<hubha.coord.MemberAddLearnerRequest, hubha.coord.MemberAddLearnerResponse.$Properties>(async (req) => {
      if (!isValidNodeId(req.id)) throw invalidArgument('invalid-node-id', `member id ${JSON.stringify(req.id)} is not a valid node id`);
      if (!HOST_PORT.test(req.peerAddress)) throw invalidArgument('invalid-address', 'peer_address must be "host:port"');
      if (!HOST_PORT.test(req.clientAddress)) throw invalidArgument('invalid-address', 'client_address must be "host:port"');
      await changeMembership(node, { type: 'add-learner', node: req.id, context: JSON.stringify({ peer: req.peerAddress, client: req.clientAddress }) });
      return { header: header(node, false), members: members(node) };
    }),
    MemberPromote: unary<hubha.coord.MemberPromoteRequest, hubha.coord.MemberPromoteResponse.$Properties>(async (req) => {
      if (!isValidNodeId(req.id)) throw invalidArgument('invalid-node-id', `member id ${JSON.stringify(req.id)} is not a valid node id`);
      await changeMembership(node, { type: 'promote-learner', node: req.id });
      return { header: header(node, false), members: members(node) };
    }),
    MemberRemove: unary<hubha.coord.MemberRemoveRequest, hubha.coord.MemberRemoveResponse.$Properties>(async (req) => {
      if (!isValidNodeId(req.id)) throw invalidArgument('invalid-node-id', `member id ${JSON.stringify(req.id)} is not a valid node id`);
      if (req.id === node.id && node.raft.isLeader()) {
        // A leader never removes itself: hand leadership over, then the client retries there.
        const target = bestTransferTarget(node);
        if (target === null) throw failedPrecondition('last-voter', 'cannot remove the only voter');
        await transfer(node, target);
        throw unavailable(node, 'not-leader');
      }
      await changeMembership(node, { type: 'remove-node', node: req.id });
      return { header: header(node, false), members: members(node) };
    }),
    TransferLeader: unary<hubha.coord.TransferLeaderRequest, hubha.coord.TransferLeaderResponse.$Properties>(async (req) => {
      if (!node.raft.isLeader()) throw unavailable(node, 'not-leader');
      const target = req.target === '' ? bestTransferTarget(node) : req.target;
      if (target === null) throw failedPrecondition('no-target', 'no other voter to transfer leadership to');
      if (!isValidNodeId(target)) throw invalidArgument('invalid-node-id', `target ${JSON.stringify(target)} is not a valid node id`);
      await transfer(node, target);
      return { header: header(node, false) };
    }),
  };
}
