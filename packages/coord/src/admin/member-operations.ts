import * as grpc from '@grpc/grpc-js';
import type { hubha } from '@hubha/proto/admin';
import type { ConfChange, ProposeOutcome } from '@hubha/raft';
import type { Logger } from 'pino';
import type { CoordClientTls } from '../client/tls.js';
import { clientCredentials } from '../client/tls.js';
import type { RpcTransport } from '../client/transport.js';
import { DEFAULT_CHANNEL_OPTIONS, GrpcTransport, RpcFailure } from '../client/transport.js';
import type { ClusterStatus, MemberStatus } from '../status/model.js';
import { AdminRefusal, AdminUnavailableError } from './admin-service.js';
import { adminService } from './definitions.js';
import type { AddMemberRequest, ClusterFacts } from './member-rules.js';
import { checkAddMember, checkPromoteMember, checkRemoveMember, chooseTransferTarget, validateAddMember, validateMemberName } from './member-rules.js';
import { memberStatusFromWire, u64 } from './wire.js';

/**
 * AddMember, PromoteMember, RemoveMember and TransferLeadership on one member. Any member may be
 * asked; only the Raft leader changes the membership, so a member that does not lead forwards the
 * request to the leader's Admin service (marked as forwarded, so that it travels one hop only) and
 * passes the answer back. The leader checks the request against member-rules.ts with what it
 * knows now — a linearizable read, a fresh probe of every member, its replication progress — and
 * only then proposes the single-server change; the core's own refusals (a change still pending,
 * a learner behind) come back as refusals too.
 */

/** Request metadata: the member that forwarded the call (the leader must not forward it again). */
export const METADATA_FORWARDED_BY = 'hubha-forwarded-by';
/** How long an operation may look for a leader and wait for its change to apply. */
const OPERATION_TIMEOUT_MS = 10_000;
/** Pause before asking again when no leader is known or the leader just changed. */
const RETRY_PAUSE_MS = 100;
/** How long a transfer waits for the leader to hear from a target that answers its probe. */
const RECENTLY_ACTIVE_WAIT_MS = 3_000;

/** What the operations need of a member (CoordNode has it). */
export interface MembershipHost {
  readonly id: string;
  readonly raft: {
    isLeader(): boolean;
    status(): { readonly term: number; readonly commit: number; readonly lastIndex: number; readonly failed: string | null; readonly progress: ReadonlyMap<string, { readonly match: number }> };
    proposeConfChange(change: ConfChange, timeoutMs?: number): Promise<ProposeOutcome<unknown>>;
    transferLeadership(to: string, timeoutMs?: number): Promise<{ readonly ok: true } | { readonly ok: false; readonly reason: string }>;
  };
  /** The leader's client API address, null when no leader is known. */
  leaderClientAddress(): string | null;
}

export interface MemberOperationsOptions {
  readonly host: MembershipHost;
  /** The member's status (AdminService.status): the members, their reachability, the active-hub lease. */
  readonly status: (options: { readonly serializable?: boolean }) => Promise<ClusterStatus>;
  readonly logger: Logger;
  readonly tls?: CoordClientTls;
  /** Test seam: replaces gRPC for the forwarded calls. */
  readonly transport?: RpcTransport;
  readonly operationTimeoutMs?: number;
}

export interface MemberChange {
  readonly members: readonly MemberStatus[];
  readonly message: string;
}

export interface LeadershipAnswer {
  readonly leader: string;
  readonly term: number;
}

/** The change may or may not have been applied (the leader timed out or lost its leadership mid-way). */
export class MemberChangeOutcomeUnknown extends Error {
  override readonly name = 'MemberChangeOutcomeUnknown';
}

/** Leadership moved while the leader worked on the request: look for the leader again. */
class LeadershipMoved extends Error {
  override readonly name = 'LeadershipMoved';
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function changeFromWire(res: hubha.admin.MemberChangeResponse.$Properties): MemberChange {
  return { members: (res.members ?? []).map((m, i) => memberStatusFromWire(m, i)), message: res.message ?? '' };
}

export class MemberOperations {
  private readonly host: MembershipHost;
  private readonly logger: Logger;
  private readonly timeoutMs: number;
  private transportPromise: Promise<RpcTransport> | null = null;
  private closed = false;

  constructor(private readonly options: MemberOperationsOptions) {
    this.host = options.host;
    this.logger = options.logger.child({ component: 'admin-members' });
    this.timeoutMs = options.operationTimeoutMs ?? OPERATION_TIMEOUT_MS;
  }

  /** Adds a Raft learner; its role (hub or witness) is kept in the change's context. */
  async addMember(req: AddMemberRequest, forwardedBy: string | null = null): Promise<MemberChange> {
    const invalid = validateAddMember(req);
    if (invalid !== null) throw invalid;
    return this.onLeader(
      forwardedBy,
      async () => {
        const refusal = checkAddMember(await this.facts(), req);
        if (refusal !== null) throw refusal;
        await this.propose({ type: 'add-learner', node: req.name, context: JSON.stringify({ peer: req.peerAddress, client: req.clientAddress, role: req.role }) });
        this.logger.warn({ member: req.name, role: req.role, peer: req.peerAddress, client: req.clientAddress }, 'member added as a learner');
        return this.change(`${req.name} added as a learner (${req.role}): start it with node.join: true, then promote it once it has caught up`);
      },
      async (endpoint, timeoutMs, metadata) => changeFromWire(await (await this.transport()).unary(endpoint, adminService.AddMember, { ...req } as hubha.admin.AddMemberRequest, { timeoutMs, metadata })),
    );
  }

  /** Makes a caught-up learner a voter. */
  async promoteMember(name: string, forwardedBy: string | null = null): Promise<MemberChange> {
    const invalid = validateMemberName(name, 'name');
    if (invalid !== null) throw invalid;
    return this.onLeader(
      forwardedBy,
      async () => {
        const refusal = checkPromoteMember(await this.facts(), name);
        if (refusal !== null) throw refusal;
        await this.propose({ type: 'promote-learner', node: name });
        this.logger.warn({ member: name }, 'learner promoted to voter');
        return this.change(`${name} is a voter`);
      },
      async (endpoint, timeoutMs, metadata) => changeFromWire(await (await this.transport()).unary(endpoint, adminService.PromoteMember, { name } as hubha.admin.PromoteMemberRequest, { timeoutMs, metadata })),
    );
  }

  /** Removes a member; the leader removing itself hands its leadership over first. */
  async removeMember(name: string, force: boolean, forwardedBy: string | null = null): Promise<MemberChange> {
    const invalid = validateMemberName(name, 'name');
    if (invalid !== null) throw invalid;
    return this.onLeader(
      forwardedBy,
      async () => {
        const facts = await this.facts();
        const refusal = checkRemoveMember(facts, name, force);
        if (refusal !== null) throw refusal;
        if (name === this.host.id) {
          // A leader cannot remove itself (the core refuses): the next leader does it.
          const next = chooseTransferTarget(facts, '');
          if (next instanceof AdminRefusal) throw next;
          await this.transfer(next.target);
          this.logger.info({ member: name, to: next.target }, 'removing the leader: leadership handed over first');
          throw new LeadershipMoved();
        }
        await this.propose({ type: 'remove-node', node: name });
        this.logger.warn({ member: name, force }, 'member removed');
        return this.change(`${name} removed: stop its process and take it out of the members' configuration files`);
      },
      async (endpoint, timeoutMs, metadata) => changeFromWire(await (await this.transport()).unary(endpoint, adminService.RemoveMember, { name, force } as hubha.admin.RemoveMemberRequest, { timeoutMs, metadata })),
    );
  }

  /** Hands Raft leadership to `target` (empty: the most up-to-date reachable voter). */
  async transferLeadership(target: string, forwardedBy: string | null = null): Promise<LeadershipAnswer> {
    if (target !== '') {
      const invalid = validateMemberName(target, 'target');
      if (invalid !== null) throw invalid;
    }
    return this.onLeader(
      forwardedBy,
      async () => {
        if (target === this.host.id) return { leader: this.host.id, term: this.host.raft.status().term };
        const chosen = chooseTransferTarget(await this.facts(), target);
        if (chosen instanceof AdminRefusal) throw chosen;
        await this.transfer(chosen.target);
        this.logger.info({ to: chosen.target }, 'leadership transferred');
        return { leader: chosen.target, term: this.host.raft.status().term };
      },
      async (endpoint, timeoutMs, metadata) => {
        const res = await (await this.transport()).unary(endpoint, adminService.TransferLeadership, { target } as hubha.admin.TransferLeadershipRequest, { timeoutMs, metadata });
        return { leader: res.leader ?? '', term: u64(res.term, 'term') };
      },
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    // Only a transport this object created (a test's fake is the test's).
    if (this.options.transport === undefined) await this.transportPromise?.then((t) => t.close()).catch(() => undefined);
  }

  // ---------------------------------------------------------------- on the leader

  /**
   * Runs `local` when this member leads, else `forward`s to the leader — retried, within the
   * operation's deadline, while no leader is known or the leader changes. A forwarded request is
   * never forwarded again: a member that no longer leads answers UNAVAILABLE and the forwarder
   * looks for the leader once more.
   */
  private async onLeader<T>(forwardedBy: string | null, local: () => Promise<T>, forward: (endpoint: string, timeoutMs: number, metadata: ReadonlyMap<string, string>) => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.timeoutMs;
    let lastError = 'no leader known';
    for (;;) {
      if (this.closed) throw new AdminUnavailableError('closed', 'the member is shutting down');
      const failed = this.host.raft.status().failed;
      if (failed !== null) throw new AdminUnavailableError('failed', 'the member has stopped after a fault');
      if (this.host.raft.isLeader()) {
        try {
          return await local();
        } catch (err: unknown) {
          if (!(err instanceof LeadershipMoved)) throw err;
          lastError = 'the leadership moved';
        }
      } else if (forwardedBy !== null) {
        throw new AdminUnavailableError('not-leader', `${this.host.id} (asked by ${forwardedBy}) is not the Raft leader any more`);
      } else {
        const endpoint = this.host.leaderClientAddress();
        const remaining = deadline - Date.now();
        if (endpoint !== null && remaining > 0) {
          try {
            return await forward(endpoint, remaining, new Map([[METADATA_FORWARDED_BY, this.host.id]]));
          } catch (err: unknown) {
            // UNAVAILABLE: the leader could not be reached or no longer leads; anything else is its answer.
            if (!(err instanceof RpcFailure) || err.status !== grpc.status.UNAVAILABLE) throw err;
            lastError = `${endpoint}: ${err.details}`;
          }
        }
      }
      if (Date.now() + RETRY_PAUSE_MS > deadline) throw new AdminUnavailableError('no-leader', `no Raft leader took the request within ${this.timeoutMs} ms (${lastError})`);
      await sleep(RETRY_PAUSE_MS);
    }
  }

  /** What the rules look at, as this member (the leader) knows it now. */
  private async facts(): Promise<ClusterFacts> {
    const status = await this.options.status({});
    if (!status.linearizable) throw new AdminRefusal('failed-precondition', 'no-quorum', `the leader cannot confirm the cluster's state (${status.readError ?? 'no read barrier'}): nothing changed`);
    const raft = this.host.raft.status();
    const members: ClusterFacts['members'][number][] = [];
    for (const m of status.members) {
      if (m.raft.role === null) continue;
      members.push({
        name: m.name,
        // The status knows it from the configuration, a report, or the role AddMember was given.
        kind: m.kind,
        role: m.raft.role,
        reachable: m.reachable,
        peerAddress: m.raft.peerAddress,
        clientAddress: m.raft.clientAddress,
        matchIndex: m.name === this.host.id ? raft.lastIndex : (raft.progress.get(m.name)?.match ?? 0),
      });
    }
    return { leader: this.host.id, commitIndex: raft.commit, members, activeHub: status.lease?.holder ?? null };
  }

  private async propose(change: ConfChange): Promise<void> {
    const outcome = await this.host.raft.proposeConfChange(change, this.timeoutMs);
    if (outcome.ok) return;
    switch (outcome.reason) {
      case 'not-leader':
      case 'dropped':
        // Not applied (refused, or overwritten by another leader's entry): ask the new leader.
        throw new LeadershipMoved();
      case 'timeout':
      case 'outcome-unknown':
        throw new MemberChangeOutcomeUnknown(`${change.type} ${change.node}: ${outcome.reason}: the change may or may not have been applied; look at the members before trying again`);
      case 'closed':
        throw new AdminUnavailableError('closed', 'the member is shutting down');
      default:
        // The core's refusals: conf-change-pending, no-commit-in-current-term, learner-not-caught-up, ...
        throw new AdminRefusal('failed-precondition', outcome.reason, `the Raft leader refused ${change.type} ${change.node}: ${outcome.reason}`);
    }
  }

  private async transfer(target: string): Promise<void> {
    const deadline = Date.now() + RECENTLY_ACTIVE_WAIT_MS;
    for (;;) {
      const result = await this.host.raft.transferLeadership(target, this.timeoutMs);
      if (result.ok) return;
      if (result.reason === 'not-leader') throw new LeadershipMoved();
      if (result.reason === 'closed') throw new AdminUnavailableError('closed', 'the member is shutting down');
      // The target answered our probe, but the leader's Raft progress may not show it active yet
      // (a learner just promoted starts without): its next heartbeat response will.
      if (result.reason === 'target-not-recently-active' && Date.now() < deadline) {
        await sleep(RETRY_PAUSE_MS);
        continue;
      }
      const why = result.reason === 'target-not-recently-active' ? `: ${target} answers, but the leader has not heard from it over Raft lately (its peer address unreachable from the leader?)` : '';
      throw new AdminRefusal('failed-precondition', result.reason, `leadership transfer to ${target} failed: ${result.reason}${why}`);
    }
  }

  private async change(message: string): Promise<MemberChange> {
    const status = await this.options.status({ serializable: true });
    return { members: status.members, message };
  }

  private transport(): Promise<RpcTransport> {
    if (this.options.transport !== undefined) return Promise.resolve(this.options.transport);
    this.transportPromise ??= clientCredentials(this.options.tls).then(({ credentials, options }) => new GrpcTransport(credentials, { ...DEFAULT_CHANNEL_OPTIONS, ...options }));
    return this.transportPromise;
  }
}
