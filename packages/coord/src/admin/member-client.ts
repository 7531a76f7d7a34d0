import * as grpc from '@grpc/grpc-js';
import type { hubha } from '@hubha/proto/admin';
import type { CoordClientTls } from '../client/tls.js';
import { clientCredentials } from '../client/tls.js';
import type { RpcTransport } from '../client/transport.js';
import { DEFAULT_CHANNEL_OPTIONS, GrpcTransport, RpcFailure } from '../client/transport.js';
import { METADATA_ERROR_CODE } from '../rpc/definitions.js';
import type { MemberStatus } from '../status/model.js';
import { probeError } from './admin-service.js';
import type { AdminEndpointFailure, Answered } from './client.js';
import { AdminCallError, AdminUnreachableError } from './client.js';
import { adminService } from './definitions.js';
import { memberStatusFromWire, u64 } from './wire.js';

/**
 * The client of the Admin service's membership changes. Like AdminClient it asks the endpoints in
 * turn, but it moves on to the next one only when a member could not take the request at all
 * (UNAVAILABLE: not reached, no leader): after a deadline or an internal error the change may
 * have been applied, and asking again would only be refused (e.g. member-exists).
 */

export interface MemberClientOptions {
  readonly tls?: CoordClientTls;
  /** Each endpoint's deadline; longer than the members' own 10 s to find the leader and apply. Default 15000 ms. */
  readonly timeoutMs?: number;
  /** Test seam: replaces gRPC. */
  readonly transport?: RpcTransport;
}

export interface MemberChangeAnswer {
  readonly members: readonly MemberStatus[];
  readonly message: string;
}

function changeFromWire(res: hubha.admin.MemberChangeResponse.$Properties): MemberChangeAnswer {
  return { members: (res.members ?? []).map((m, i) => memberStatusFromWire(m, i)), message: res.message ?? '' };
}

export class MemberAdminClient {
  private constructor(
    private readonly transport: RpcTransport,
    readonly timeoutMs: number,
  ) {}

  static async create(options: MemberClientOptions = {}): Promise<MemberAdminClient> {
    const timeoutMs = options.timeoutMs ?? 15_000;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError(`MemberAdminClient: timeoutMs must be positive, got ${timeoutMs}`);
    let transport = options.transport;
    if (transport === undefined) {
      const { credentials, options: tlsOptions } = await clientCredentials(options.tls);
      transport = new GrpcTransport(credentials, { ...DEFAULT_CHANNEL_OPTIONS, ...tlsOptions });
    }
    return new MemberAdminClient(transport, timeoutMs);
  }

  /** Adds a Raft learner (role "hub" or "witness"); whichever member answers takes it to the leader. */
  addMember(endpoints: readonly string[], request: { readonly name: string; readonly peerAddress: string; readonly clientAddress: string; readonly role: string }): Promise<Answered<MemberChangeAnswer>> {
    return this.ask(endpoints, adminService.AddMember, { ...request } as hubha.admin.AddMemberRequest, changeFromWire);
  }

  /** Makes a caught-up learner a voter. */
  promoteMember(endpoints: readonly string[], name: string): Promise<Answered<MemberChangeAnswer>> {
    return this.ask(endpoints, adminService.PromoteMember, { name } as hubha.admin.PromoteMemberRequest, changeFromWire);
  }

  /** Removes a member (`force`: even when fewer than three voters would be left). */
  removeMember(endpoints: readonly string[], name: string, force = false): Promise<Answered<MemberChangeAnswer>> {
    return this.ask(endpoints, adminService.RemoveMember, { name, force } as hubha.admin.RemoveMemberRequest, changeFromWire);
  }

  /** Hands Raft leadership to `target` ('': the most up-to-date reachable voter). */
  transferLeadership(endpoints: readonly string[], target = ''): Promise<Answered<{ readonly leader: string; readonly term: number }>> {
    return this.ask(endpoints, adminService.TransferLeadership, { target } as hubha.admin.TransferLeadershipRequest, (res) => ({ leader: res.leader ?? '', term: u64(res.term, 'term') }));
  }

  private async ask<Req, Res, T>(endpoints: readonly string[], method: grpc.MethodDefinition<Req, Res>, request: Req, decode: (res: Res) => T): Promise<Answered<T>> {
    const failures: AdminEndpointFailure[] = [];
    for (const endpoint of endpoints) {
      let response: Res;
      try {
        response = await this.transport.unary(endpoint, method, request, { timeoutMs: this.timeoutMs });
      } catch (err: unknown) {
        if (!(err instanceof RpcFailure)) throw err;
        if (err.status !== grpc.status.UNAVAILABLE) throw new AdminCallError(endpoint, err.status, err.get(METADATA_ERROR_CODE) ?? '', err.details);
        failures.push({ endpoint, error: probeError(err) });
        continue;
      }
      return { value: decode(response), endpoint, failures };
    }
    throw new AdminUnreachableError(failures);
  }

  close(): void {
    this.transport.close();
  }
}
