import { isIPv4, isIPv6 } from 'node:net';
import { isValidNodeId } from '@hubha/raft';
import { MAX_NODE_NAME_CHARS, NODE_NAME_PATTERN } from '../config/node-config.js';
import { AdminRefusal } from './admin-service.js';
import type { MemberKind } from './member-kind.js';

/**
 * The rules of the Admin API's membership changes, as pure functions of what the Raft leader
 * knows when it is asked: every refusal is returned as a value (an AdminRefusal the caller
 * throws), never decided half-way through a change. The leader evaluates them right before it
 * proposes the change, so "reachable" and "caught up" are as fresh as they can be.
 */

export interface MemberFacts {
  readonly name: string;
  readonly kind: MemberKind;
  readonly role: 'voter' | 'learner';
  /** Answered the leader's probe just now (the leader itself always does). */
  readonly reachable: boolean;
  readonly peerAddress: string | null;
  readonly clientAddress: string | null;
  /** How far the leader knows it has replicated its log to this member (the leader: its own last index). */
  readonly matchIndex: number;
}

export interface ClusterFacts {
  /** The member evaluating the rules: the Raft leader. */
  readonly leader: string;
  readonly commitIndex: number;
  readonly members: readonly MemberFacts[];
  /** The holder of the active-hub lease; null when no hub holds it. */
  readonly activeHub: string | null;
}

export interface AddMemberRequest {
  readonly name: string;
  readonly peerAddress: string;
  readonly clientAddress: string;
  readonly role: string;
}

/** Longest "host:port" accepted: a 253-character host name, a colon and five digits. */
const MAX_ADDRESS_CHARS = 259;
const HOST_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

const refuse = (code: string, message: string): AdminRefusal => new AdminRefusal('failed-precondition', code, message);
const invalid = (code: string, message: string): AdminRefusal => new AdminRefusal('invalid-argument', code, message);

/** The smallest majority of `voters`. */
export function quorumOf(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/** "host:port" that other members can dial, or why not. The host is kept as written (lower-cased). */
export function parseAdvertisedAddress(text: string): { readonly host: string; readonly port: number } | { readonly error: string } {
  if (text === '') return { error: 'is empty' };
  if (text.length > MAX_ADDRESS_CHARS) return { error: `is longer than ${MAX_ADDRESS_CHARS} characters` };
  const colon = text.lastIndexOf(':');
  if (colon <= 0) return { error: 'must be "host:port"' };
  const portText = text.slice(colon + 1);
  let host = text.slice(0, colon);
  if (!/^\d{1,5}$/.test(portText)) return { error: `port ${JSON.stringify(portText)} is not a number` };
  const port = Number(portText);
  if (port < 1 || port > 65535) return { error: `port ${port} is outside 1..65535` };
  if (host.startsWith('[')) {
    if (!host.endsWith(']') || !isIPv6(host.slice(1, -1))) return { error: `${host} is not a bracketed IPv6 address` };
    host = host.slice(1, -1).toLowerCase();
    if (/^[0:]+$/.test(host)) return { error: 'the unspecified address [::] cannot be dialled by other members' };
    return { host: `[${host}]`, port };
  }
  if (host.includes(':')) return { error: 'an IPv6 address must be in brackets, e.g. [fd00::1]:7001' };
  if (/^[\d.]+$/.test(host)) {
    if (!isIPv4(host)) return { error: `${host} is not an IPv4 address` };
    if (host === '0.0.0.0') return { error: 'the unspecified address 0.0.0.0 cannot be dialled by other members' };
    return { host, port };
  }
  const labels = host.split('.');
  if (host.length > 253 || labels.some((l) => !HOST_LABEL.test(l))) return { error: `${JSON.stringify(host)} is not a host name` };
  return { host: host.toLowerCase(), port };
}

/** A name that refers to a member (promote, remove, transfer): present and a possible node id. */
export function validateMemberName(name: string, field: string): AdminRefusal | null {
  if (name === '') return invalid('missing-name', `${field} is required`);
  if (!isValidNodeId(name)) return invalid('invalid-name', `${field} ${JSON.stringify(name)} is not a valid member name`);
  return null;
}

/** AddMember's arguments on their own (before any state is looked at). */
export function validateAddMember(req: AddMemberRequest): AdminRefusal | null {
  if (req.name === '') return invalid('missing-name', 'name is required');
  if (req.name.length > MAX_NODE_NAME_CHARS || !NODE_NAME_PATTERN.test(req.name)) {
    return invalid('invalid-name', `name ${JSON.stringify(req.name)} must be 1-${MAX_NODE_NAME_CHARS} lowercase letters, digits and inner dashes (like a host name)`);
  }
  if (req.role !== 'hub' && req.role !== 'witness') return invalid('invalid-role', `role must be "hub" or "witness", got ${JSON.stringify(req.role)}`);
  const peer = parseAdvertisedAddress(req.peerAddress);
  if ('error' in peer) return invalid('invalid-address', `peer_address ${JSON.stringify(req.peerAddress)}: ${peer.error}`);
  const client = parseAdvertisedAddress(req.clientAddress);
  if ('error' in client) return invalid('invalid-address', `client_address ${JSON.stringify(req.clientAddress)}: ${client.error}`);
  if (peer.host === client.host && peer.port === client.port) return invalid('invalid-address', `peer_address and client_address are the same (${req.peerAddress}): they are two listeners`);
  return null;
}

function sameAddress(a: string | null, b: string): boolean {
  if (a === null) return false;
  const x = parseAdvertisedAddress(a);
  const y = parseAdvertisedAddress(b);
  if ('error' in x || 'error' in y) return a === b;
  return x.host === y.host && x.port === y.port;
}

/** AddMember against the membership: a new name and addresses no member uses. */
export function checkAddMember(facts: ClusterFacts, req: AddMemberRequest): AdminRefusal | null {
  const existing = facts.members.find((m) => m.name === req.name);
  if (existing !== undefined) return refuse('member-exists', `${req.name} is already a member (${existing.role}, ${existing.kind})`);
  for (const address of [req.peerAddress, req.clientAddress]) {
    const user = facts.members.find((m) => sameAddress(m.peerAddress, address) || sameAddress(m.clientAddress, address));
    if (user !== undefined) return refuse('address-in-use', `${address} is already ${sameAddress(user.peerAddress, address) ? 'the peer' : 'the client'} address of ${user.name}`);
  }
  return null;
}

function describeVoters(voters: readonly MemberFacts[]): string {
  return voters.map((v) => `${v.name}${v.reachable ? '' : ' (unreachable)'}`).join(', ');
}

/** Would `voters` (the configuration after a change) still have a reachable majority? */
function quorumRefusal(voters: readonly MemberFacts[], change: string): AdminRefusal | null {
  const reachable = voters.filter((v) => v.reachable).length;
  const needed = quorumOf(voters.length);
  if (reachable >= needed) return null;
  return refuse(
    'would-lose-quorum',
    `${change} leaves ${voters.length} voter(s) — ${describeVoters(voters)} — of which ${reachable} can be reached, and a quorum needs ${needed}: the store would stop. Bring the unreachable members back first`,
  );
}

/** PromoteMember: a reachable learner that has everything committed, and a quorum afterwards. */
export function checkPromoteMember(facts: ClusterFacts, name: string): AdminRefusal | null {
  const member = facts.members.find((m) => m.name === name);
  if (member === undefined) return refuse('no-such-member', `${name} is not a member`);
  if (member.role !== 'learner') return refuse('not-a-learner', `${name} is already a voter`);
  // Behind first: a learner that never started is behind, and that is why it cannot vote yet.
  if (member.matchIndex < facts.commitIndex) {
    return refuse('learner-not-caught-up', `${name} has replicated up to index ${member.matchIndex} of ${facts.commitIndex} committed: promote it once it has caught up`);
  }
  if (!member.reachable) return refuse('member-unreachable', `${name} does not answer: a voter that is down weakens the quorum`);
  const voters = [...facts.members.filter((m) => m.role === 'voter'), member];
  return quorumRefusal(voters, `promoting ${name}`);
}

/**
 * RemoveMember. Never: a member that is not there, the active hub, the last voter, or a change
 * after which the reachable voters are no majority (the store would stop at once). Not without
 * `force`: a change after which fewer than three voters remain — the cluster then survives no
 * further failure — reported as `last-witness` when it is the last witness that goes.
 */
export function checkRemoveMember(facts: ClusterFacts, name: string, force: boolean): AdminRefusal | null {
  const member = facts.members.find((m) => m.name === name);
  if (member === undefined) return refuse('no-such-member', `${name} is not a member`);
  if (facts.activeHub === name) return refuse('active-hub', `${name} holds the active-hub lease: switch over to the other hub first`);
  if (member.role === 'learner') return null;
  const remaining = facts.members.filter((m) => m.role === 'voter' && m.name !== name);
  if (remaining.length === 0) return refuse('last-voter', `${name} is the only voter`);
  const lost = quorumRefusal(remaining, `removing ${name}`);
  if (lost !== null) return lost;
  if (force || remaining.length >= 3) return null;
  const witnessesLeft = remaining.filter((m) => m.kind === 'witness').length;
  if (member.kind === 'witness' && witnessesLeft === 0) {
    return refuse(
      'last-witness',
      `${name} is the last witness: the ${remaining.length} voter(s) left (${describeVoters(remaining)}) would survive no failure, and losing either hub would stop the store. Add another witness first, or pass force`,
    );
  }
  return refuse(
    'no-spare-voter',
    `removing ${name} leaves ${remaining.length} voter(s) (${describeVoters(remaining)}): the store would survive no further failure. Add a member first, or pass force`,
  );
}

/**
 * TransferLeadership's target: the named voter, or (empty) the reachable voter the leader has
 * replicated furthest to — not the active hub while another will do: its sidecar moves the
 * leadership off it at once (losing the active hub must not also cost an election), so the
 * transfer would bounce. The leader itself as target means "nothing to do".
 */
export function chooseTransferTarget(facts: ClusterFacts, target: string): { readonly target: string } | AdminRefusal {
  if (target === '') {
    const candidates = facts.members.filter((m) => m.role === 'voter' && m.name !== facts.leader && m.reachable);
    const isActive = (m: MemberFacts): number => (m.name === facts.activeHub ? 1 : 0);
    const best = [...candidates].sort((a, b) => isActive(a) - isActive(b) || b.matchIndex - a.matchIndex || a.name.localeCompare(b.name))[0];
    if (best === undefined) return refuse('no-transfer-target', `no other voter can be reached to take over from ${facts.leader}`);
    return { target: best.name };
  }
  const member = facts.members.find((m) => m.name === target);
  if (member === undefined) return refuse('no-such-member', `${target} is not a member`);
  if (member.role !== 'voter') return refuse('not-a-voter', `${target} is a learner: only a voter can lead (promote it first)`);
  if (!member.reachable) return refuse('member-unreachable', `${target} does not answer`);
  return { target };
}
